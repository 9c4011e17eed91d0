"""``task.class_weights`` of the wrong length is refused before any work: by ``recipe check`` where the data
set's classes are known without reading it, and before training, with exit 2, where only the data says."""

from __future__ import annotations

import csv

import pytest
from sklearn.datasets import load_wine

from layerlab.cli import main


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("recipe, source", [("digits-cnn", "digits"), ("fashion-cnn", "fashion-mnist")])
def test_recipe_check_refuses_weights_that_do_not_match_the_classes(recipe, source, capsys):
    assert main(["recipe", "check", recipe, "task.class_weights=[1,2]"]) == 2
    err = _one_error_line(capsys)
    assert "task.class_weights" in err and f"2 weights given, but data set {source} has 10 classes" in err


def test_recipe_check_accepts_one_weight_per_class(capsys):
    assert main(["recipe", "check", "digits-cnn", f"task.class_weights=[{','.join(['1'] * 10)}]"]) == 0


@pytest.mark.parametrize("weights", ["[-1,1,1,1,1,1,1,1,1,1]", "[.nan,1,1,1,1,1,1,1,1,1]", "[0,0,0,0,0,0,0,0,0,0]", "[]"])
def test_recipe_check_refuses_unusable_weights(weights, capsys):
    assert main(["recipe", "check", "digits-cnn", f"task.class_weights={weights}"]) == 2
    assert "task.class_weights=" in _one_error_line(capsys)


def test_a_csv_run_refuses_them_before_training(tmp_path, capsys):
    # A CSV's classes are known only once it is read: the run stops after loading, before any training.
    wine = load_wine()
    table = tmp_path / "wine.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*wine.feature_names, "cultivar"])
        writer.writerows([*map(float, x), f"c{t}"] for x, t in zip(wine.data, wine.target))
    assert main(["recipe", "check", "tabular-mlp", f"data.path={table}", "task.class_weights=[1,2]"]) == 0
    capsys.readouterr()
    out = tmp_path / "run"
    code = main(["run", "tabular-mlp", f"data.path={table}", "task.class_weights=[1,2]", "--out", str(out), "-q"])
    err = _one_error_line(capsys)
    assert code == 2 and "task.class_weights: 2 weights given, but the data has 3 classes" in err
    assert not (out / "history.csv").exists() and not (out / "model.safetensors").exists()
