"""`layerlab cv`: k-fold cross-validation of a recipe, a run per fold, the metrics' spread, and continuing."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from layerlab import runs
from layerlab.cli import main
from layerlab.errors import UsageError
from layerlab.tune import cross_validate


def test_every_fold_is_trained_tested_once_and_summarised(tiny, tmp_path, capsys):
    recipe = tmp_path / "tiny.yaml"
    tiny_data = dict(tiny["data"])
    del tiny_data["limit"]  # folds cut the whole digits set (1,797 images)
    recipe.write_text(yaml.safe_dump({**tiny, "data": tiny_data}))
    result = cross_validate(recipe, ["train.epochs=1"], folds=3, out=tmp_path / "cv")
    assert [r["run"] for r in result.rows] == ["fold-00", "fold-01", "fold-02"]
    folds = [yaml.safe_load((tmp_path / "cv" / r["run"] / "recipe.yaml").read_text())["data"] for r in result.rows]
    assert [(f["folds"], f["fold"]) for f in folds] == [(3, 0), (3, 1), (3, 2)]
    tested = [json.loads((tmp_path / "cv" / r["run"] / "summary.json").read_text())["data"]["test"] for r in result.rows]
    assert sum(tested) == 1797  # the folds' test parts together are the whole data set
    accuracies = [r["test"]["accuracy"] for r in result.rows]
    stats = result.stats["accuracy"]
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(sum(accuracies) / 3)
    assert stats["min"] == min(accuracies) and stats["mean"] > 0.5  # it learns on every fold (chance 0.1)
    assert stats["sem"] == pytest.approx(stats["std"] / 3**0.5) and stats["std"] > 0
    assert json.loads(result.json_path.read_text())["test"]["accuracy"]["mean"] == pytest.approx(stats["mean"])
    assert [row["run"] for row in csv.DictReader(result.csv_path.open())] == ["fold-00", "fold-01", "fold-02"]

    # called again on the same folder, finished folds are read, not trained again
    def no_training(*args, **kwargs):
        raise AssertionError("a finished fold was trained again")

    original = runs.run
    runs.run = no_training
    try:
        again = cross_validate(recipe, ["train.epochs=1"], folds=3, out=tmp_path / "cv")
    finally:
        runs.run = original
    assert again.stats == result.stats

    assert main(["cv", str(recipe), "train.epochs=1", "--folds", "3", "--out", str(tmp_path / "cv"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "3-fold cross-validation" in out and "accuracy" in out and f"{stats['mean']:.4f}" in out


def test_an_interrupted_fold_is_resumed_and_a_wrong_folder_or_override_refused(tiny, tmp_path, monkeypatch):
    calls = []
    original = runs.run

    def recorded(*args, **kwargs):
        calls.append(kwargs.get("resume"))
        return original(*args, **kwargs)

    tiny["data"]["limit"] = None
    result = cross_validate(tiny, folds=2, out=tmp_path / "cv")
    summary = tmp_path / "cv" / "fold-01" / "summary.json"
    stopped = json.loads(summary.read_text())
    summary.write_text(json.dumps({**stopped, "status": "interrupted"}))  # as Ctrl-C leaves it
    monkeypatch.setattr(runs, "run", recorded)
    again = cross_validate(tiny, folds=2, out=tmp_path / "cv")
    assert calls == [tmp_path / "cv" / "fold-01"]  # only the interrupted fold, from its checkpoint
    assert again.rows[0]["test"] == result.rows[0]["test"]

    # a fold killed before its first checkpoint (its recipe written, nothing to resume from) trains afresh
    (tmp_path / "cv" / "fold-01" / "checkpoints" / "last.ckpt").unlink()
    (tmp_path / "cv" / "fold-01" / "summary.json").unlink()
    calls.clear()
    third = cross_validate(tiny, folds=2, out=tmp_path / "cv")
    assert calls == [None] and third.rows[1]["test"] == result.rows[1]["test"]

    with pytest.raises(UsageError, match=r"fold-00 holds a run of another recipe \(data.folds: 3 here, 2 there\)"):
        cross_validate(tiny, folds=3, out=tmp_path / "cv")
    with pytest.raises(UsageError, match=r"holds a run of another recipe \(train.lr: 0.1 here, 0.01 there\); give another"):
        cross_validate(tiny, ["train.lr=0.1"], folds=2, out=tmp_path / "cv")  # never another recipe's result
    with pytest.raises(UsageError, match="sets data.fold itself; give the number of folds with --folds"):
        cross_validate(tiny, ["data.fold=1"], folds=3, out=tmp_path / "other")
    with pytest.raises(UsageError, match="at least 2 folds, given 1"):
        cross_validate(tiny, folds=1, out=tmp_path / "other")


def test_only_some_folds_first_then_the_rest(tiny, tmp_path, monkeypatch, capsys):
    tiny["data"]["limit"] = None
    first = cross_validate(tiny, folds=3, out=tmp_path / "cv", only=[1])
    assert [r["run"] for r in first.rows] == ["fold-01"] and first.stats["accuracy"]["n"] == 1
    assert sorted(p.name for p in (tmp_path / "cv").glob("fold-*")) == ["fold-01"]
    assert first.folds_run == [1] and json.loads(first.json_path.read_text())["folds_run"] == [1]

    trained = []
    original = runs.run

    def recorded(*args, **kwargs):
        trained.append(kwargs["out"].name)
        return original(*args, **kwargs)

    monkeypatch.setattr(runs, "run", recorded)
    whole = cross_validate(tiny, folds=3, out=tmp_path / "cv")  # the later call adds the other folds
    assert trained == ["fold-00", "fold-02"] and whole.stats["accuracy"]["n"] == 3
    assert whole.rows[1]["test"] == first.rows[0]["test"]
    with pytest.raises(UsageError, match=r"--only: folds are numbered 0 to 2 here, given \[3\]"):
        cross_validate(tiny, folds=3, out=tmp_path / "cv", only=[3])

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(tiny))
    assert main(["cv", str(recipe), "--folds", "3", "--out", str(tmp_path / "cv"), "--only", "0", "2", "-q"]) == 0
    assert "3-fold cross-validation (2 of them)" in capsys.readouterr().out
    assert main(["cv", str(recipe), "--folds", "3", "--out", str(tmp_path / "cv"), "--only", "2", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["folds_run"] == [0, 2]
