"""One test over every registered data source and task, as tests/models/test_all_models.py does for models:
each has a typed config whose defaults validate, round-trip through a recipe and are explained field by field."""

from __future__ import annotations

import pytest

from layerlab.data import SOURCES
from layerlab.data.config import DataConfig
from layerlab.recipe import explain, load_recipe
from layerlab.recipe_errors import NestedErrors
from layerlab.tasks import TASKS
from layerlab.tasks.config import TaskConfig

REGISTRIES = {"data": (SOURCES, DataConfig), "task": (TASKS, TaskConfig)}
ENTRIES = [(section, entry.name) for section, (registry, _) in REGISTRIES.items() for entry in registry]


@pytest.mark.parametrize(("section", "name"), ENTRIES, ids=[f"{s}-{n}" for s, n in ENTRIES])
def test_every_entry_has_a_typed_config(section, name):
    registry, base = REGISTRIES[section]
    config_cls = registry.entry(name).config
    assert isinstance(config_cls, type) and issubclass(config_cls, base)
    cfg = registry.validate_section({"name": name}, section, default=name)
    assert type(cfg) is config_cls and cfg.name == name
    dumped = cfg.model_dump(mode="json")
    assert registry.validate_section(dumped, section, default=name) == cfg  # the saved form reads back the same
    assert all(field.description for field in config_cls.model_fields.values()), "every field says what it means"
    rows = explain(section, name)
    assert {key.split(".")[1] for key, *_ in rows} == set(config_cls.model_fields)  # its own, nested ones expanded


@pytest.mark.parametrize(("section", "name"), ENTRIES, ids=[f"{s}-{n}" for s, n in ENTRIES])
def test_every_entry_refuses_an_unknown_key_with_its_path(section, name):
    registry, _ = REGISTRIES[section]
    with pytest.raises(NestedErrors) as caught:
        registry.validate_section({"name": name, "no_such_option": 1}, section, default=name)
    assert any(p.startswith(f"{section}.no_such_option: unknown key") for p in caught.value.problems)


def test_a_recipe_carries_its_sources_and_tasks_own_fields():
    cfg = load_recipe({"data": {"name": "csv", "target": "y"}, "task": {"name": "regression", "huber_delta": 2.0},
                       "model": {"name": "mlp"}})
    assert (type(cfg.data).__name__, cfg.data.target) == ("CsvConfig", "y")
    assert (type(cfg.task).__name__, cfg.task.huber_delta) == ("RegressionConfig", 2.0)
    again = load_recipe(cfg.to_dict())
    assert again.to_dict() == cfg.to_dict()
