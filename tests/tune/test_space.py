"""The search space: its syntax, its errors (refused like any recipe error), and the grid it spans."""

from __future__ import annotations

import pytest
import yaml

from layerlab.cli import main
from layerlab.errors import RecipeError
from layerlab.recipe import load_recipe
from layerlab.tune.config import parse_duration
from layerlab.tune.space import Choice, FloatRange, IntRange, SpaceError, apply_values, parse_space


def test_dotted_and_nested_keys_parse_to_the_same_dimensions():
    dotted = parse_space({"train.lr": {"log_uniform": [1e-4, 0.1]}, "model.hidden": {"choice": [[32], [64, 32]]}})
    nested = parse_space({"train": {"lr": {"log_uniform": [1e-4, 0.1]}}, "model": {"hidden": {"choice": [[32], [64, 32]]}}})
    assert dotted.keys() == nested.keys() == ["train.lr", "model.hidden"]
    lr, hidden = dotted.dims
    assert lr == FloatRange("train.lr", "tune.space.train.lr", 1e-4, 0.1, log=True)
    assert isinstance(hidden, Choice) and hidden.labels() == ["[32]", "[64, 32]"]  # lists are stored as JSON text


def test_conditional_keys_sit_under_their_choice():
    space = parse_space({"train.optimizer": {"choice": ["adamw", "sgd"],
                                             "when": {"sgd": {"train.momentum": {"uniform": [0.5, 0.9], "step": 0.2}}}}})
    (choice,) = space.dims
    assert list(choice.when) == [1]  # only under 'sgd'
    (momentum,) = choice.when[1]
    assert momentum.where == "tune.space.train.optimizer.when.sgd.train.momentum"
    assert space.keys() == ["train.optimizer", "train.momentum"]


def test_grid_enumerates_every_point_once_and_only_active_keys():
    space = parse_space({
        "train.lr": {"choice": [0.01, 0.001]},
        "train.optimizer": {"choice": ["adamw", "sgd"], "when": {"sgd": {"train.momentum": {"uniform": [0.5, 0.9], "step": 0.2}}}},
        "train.batch_size": {"int": [32, 96], "step": 32},
    })
    grid = space.grid()
    # 2 learning rates x (adamw + sgd with 3 momenta) x 3 batch sizes
    assert len(grid) == 2 * (1 + 3) * 3
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)
    assert {"train.lr": 0.01, "train.optimizer": "sgd", "train.momentum": 0.7, "train.batch_size": 64} in grid
    assert all("train.momentum" not in p for p in grid if p["train.optimizer"] == "adamw")


def test_grid_needs_finite_values():
    space = parse_space({"train.lr": {"log_uniform": [1e-4, 0.1]}, "train.momentum": {"uniform": [0.5, 0.9]}})
    with pytest.raises(SpaceError) as err:
        space.grid()
    assert err.value.problems == [
        "tune.space.train.lr: grid search needs a finite set of values; use choice: [...] instead of log_uniform",
        "tune.space.train.momentum: grid search needs a finite set of values; give uniform a step",
    ]


def test_int_and_float_steps():
    assert IntRange("k", "w", 16, 64, step=16).grid() == [16, 32, 48, 64]
    assert FloatRange("k", "w", 0.0, 0.01, step=0.0025).grid() == [0.0, 0.0025, 0.005, 0.0075, 0.01]


@pytest.mark.parametrize(("space", "message"), [
    ({"train.lr": {"log_uniform": [0, 0.1]}},
     "tune.space.train.lr: log_uniform needs [low, high] with 0 < low < high, given [0, 0.1]"),
    ({"train.lr": {"uniform": [0.1, 0.01]}},
     "tune.space.train.lr: uniform needs [low, high] with low < high, given [0.1, 0.01]"),
    ({"train.batch_size": {"int": [32.5, 64]}},
     "tune.space.train.batch_size: int needs [low, high], whole numbers with low < high, given [32.5, 64]"),
    ({"train.lr": {"log_unifrom": [1e-4, 0.1]}},
     "tune.space.train.lr: 'log_unifrom' is not a distribution; did you mean 'log_uniform'?"),
    ({"train.lr": 0.01},
     "tune.space.train.lr: expected a distribution, e.g. {log_uniform: [1.0e-4, 1.0e-1]}, {uniform: [0.0, 0.5]}, "
     "{int: [16, 128]} or {choice: [32, 64]}; given 0.01"),
    ({"train.lr": {"uniform": [0.001, 0.1], "stpe": 0.01}},
     "tune.space.train.lr: unknown option 'stpe'; did you mean 'step'?"),
    ({"train.lr": {"log_uniform": [0.001, 0.1], "step": 0.01}},
     "tune.space.train.lr: 'step' applies to uniform and int only, not log_uniform"),
    ({"train.lr": {"uniform": [0.001, 0.1], "choice": [1]}},
     "tune.space.train.lr: give one of log_uniform, uniform, int, choice, not uniform and choice"),
    ({"train.lr": {"uniform": [0.0, 0.1], "step": 0.5}},
     "tune.space.train.lr: step 0.5 is wider than the range [0.0, 0.1]"),
    ({"model.hidden": {"choice": []}}, "tune.space.model.hidden: choice needs a non-empty list of values, given []"),
    ({"train.batch_size": {"choice": [32, 64, 32]}}, "tune.space.train.batch_size: choice lists 32 twice"),
    ({"train.optimizer": {"choice": ["adamw", "sgd"], "when": {"sgdd": {"train.momentum": {"uniform": [0.5, 0.9]}}}}},
     "tune.space.train.optimizer.when.sgdd: 'sgdd' is not one of the choices (adamw, sgd); did you mean 'sgd'?"),
    ({"tune.trials": {"int": [1, 3]}}, "tune.space.tune.trials: a search cannot vary the search itself (tune.*)"),
])
def test_a_malformed_space_is_refused_with_its_key_path(space, message):
    with pytest.raises(SpaceError) as err:
        parse_space(space)
    assert err.value.problems == [message]


@pytest.mark.parametrize(("space", "message"), [
    ({"train.lrr": {"log_uniform": [1e-4, 0.1]}}, "tune.space.train.lrr: unknown key; did you mean 'train.lr'?"),
    ({"model.hiden": {"choice": [[32]]}}, "tune.space.model.hiden: unknown key; did you mean 'model.hidden'?"),
    ({"train.momentum": {"uniform": [0.5, 1.0]}}, "tune.space.train.momentum: input should be less than 1, given 1.0"),
    ({"train.optimizer": {"choice": ["adamw", "lion"]}},
     "tune.space.train.optimizer: 'lion' is not allowed; allowed: sgd, adam, adamw, rmsprop, adagrad"),
    # a key under a choice is checked with that choice: cnn has a width, mlp has not
    ({"model.name": {"choice": ["mlp", "cnn"], "when": {"mlp": {"model.width": {"choice": [8, 16]}}}}},
     "tune.space.model.name.when.mlp.model.width: unknown key; known keys: name, "),
])
def test_a_space_that_does_not_fit_the_recipe_is_refused(tiny, space, message):
    tiny["tune"] = {"space": space}
    with pytest.raises(RecipeError) as err:
        load_recipe(tiny)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(message)


def test_a_family_chosen_by_the_search_starts_from_its_own_defaults(tiny):
    space = {"model.name": {"choice": ["mlp", "cnn"], "when": {"cnn": {"model.width": {"int": [8, 16]}}}}}
    tiny["tune"] = {"space": space, "strategy": "random"}
    cfg = load_recipe(tiny)
    raw = apply_values(cfg.to_dict(), {"model.name": "cnn", "model.width": 8})
    assert raw["model"] == {"name": "cnn", "width": 8}
    assert load_recipe(raw).model["width"] == 8


def test_grid_strategy_checks_the_space_and_a_search_needs_an_end(tiny):
    tiny["tune"] = {"space": {"train.lr": {"log_uniform": [1e-4, 0.1]}}, "strategy": "grid"}
    with pytest.raises(RecipeError, match="tune.space.train.lr: grid search needs a finite set of values"):
        load_recipe(tiny)
    tiny["tune"] = {"space": {"train.lr": {"log_uniform": [1e-4, 0.1]}}, "trials": None}
    with pytest.raises(RecipeError, match="tune.trials: give a number of trials or a time budget"):
        load_recipe(tiny)


def test_the_cli_refuses_a_bad_space_with_exit_2(tiny, tmp_path, capsys):
    tiny["tune"] = {"space": {"train.lr": {"log_uniform": [0, 0.1]}}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["tune", str(path), "--out", str(tmp_path / "study")]) == 2
    assert "tune.space.train.lr: log_uniform needs [low, high] with 0 < low < high" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()  # refused before any work


def test_tune_needs_a_space(tiny, tmp_path, capsys):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(tiny))
    assert main(["tune", str(path), "--out", str(tmp_path / "study")]) == 2
    assert "the recipe has no tune.space to search" in capsys.readouterr().err


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("5m") == 300 and parse_duration("1.5h") == 5400
    assert parse_duration(12) == 12.0
    for bad in ("5 minutes", "-3m", "0", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
