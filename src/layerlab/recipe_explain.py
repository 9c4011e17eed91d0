"""``layerlab recipe explain``: every recipe key with its type, default and description.

The ``model``, ``data`` and ``task`` sections depend on the chosen entry of their registry (the model
family, the data source, the task): ``explain("data", "csv")`` lists what every source shares and the
csv source's own options; ``explain("data")`` lists every source's options once each; ``model`` lists
each family's options under its own name, as ``model[mlp].hidden``.
"""

from __future__ import annotations

from typing import Any

from layerlab.config import Section
from layerlab.data.registry import SOURCES
from layerlab.errors import RecipeError, close_match
from layerlab.models.base import MODELS
from layerlab.recipe_errors import join
from layerlab.registry import Registry
from layerlab.semi.config import SEMI
from layerlab.tasks.registry import TASKS

Row = tuple[str, str, str, str]  # key path, type, default, description
SECTIONS = ("data", "model", "task", "train", "tune", "track")
REGISTRIES: dict[str, Registry] = {"model": MODELS, "data": SOURCES, "task": TASKS}
NESTED: dict[str, Registry] = {"semi": SEMI}  # fields that are an entry's section too (train.semi: its method's)


def explain_rows(recipe_cls: type, section: str | None = None, name: str | None = None) -> list[Row]:
    """Rows for a whole recipe class (``section`` None), one section, or one entry of a registered
    section (``name``, or ``section`` written ``data.csv``). Raises RecipeError for an unknown section
    or name, with the closest match."""
    if section is not None and "." in section and name is None:
        section, name = section.split(".", 1)
    if section is not None and section not in SECTIONS:
        hint = close_match(section, SECTIONS)
        raise RecipeError([f"'{section}' is not a recipe section{f'; did you mean {hint!r}?' if hint else ''} ({', '.join(SECTIONS)})"])
    if name is not None and section not in REGISTRIES:
        raise RecipeError([f"{section} has no entries to choose from; only {', '.join(REGISTRIES)} do"])
    rows: list[Row] = []
    if section is None:
        rows += _rows(recipe_cls, "", skip=set(SECTIONS))
    for key in SECTIONS:
        if section in (None, key):
            rows += _registered(REGISTRIES[key], key, name) if key in REGISTRIES else \
                _rows(recipe_cls.model_fields[key].annotation, key)
    return rows


def _registered(registry: Registry, section: str, name: str | None) -> list[Row]:
    if name is not None and name not in registry:
        raise RecipeError([f"{section}.name: {registry.unknown_message(name)}"])
    entries = [e for e in registry if e.config is not None and name in (None, e.name)]
    if section == "model":  # the families share no options, so each is listed under its own name
        return [row for e in entries for row in _rows(e.config, f"model[{e.name}]")]
    rows: dict[str, Row] = {}
    for entry in entries:  # the shared options first, then each entry's own, each key once
        for row in _rows(entry.config, section):
            rows.setdefault(row[0], row)
    return list(rows.values())


def _rows(cls: type, prefix: str, skip: set[str] = frozenset()) -> list[Row]:
    rows = []
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            rows += _rows(annotation, join(prefix, name))
            continue
        item = (getattr(annotation, "__args__", None) or [None])[0] if getattr(annotation, "__origin__", None) is list else None
        if isinstance(item, type) and issubclass(item, Section):  # a list of sections (train.stages)
            default = field.get_default(call_default_factory=True)
            rows.append((join(prefix, name), f"list[{item.__name__}]", repr(default), field.description or ""))
            rows += _rows(item, join(prefix, f"{name}[]"))
            continue
        default = field.get_default(call_default_factory=True)
        rows.append((join(prefix, name), _type_name(annotation), repr(default), field.description or ""))
        if name in NESTED:
            rows += _registered(NESTED[name], join(prefix, name), None)
    return rows


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")
