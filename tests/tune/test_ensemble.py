"""`layerlab ensemble`: classifiers' averaged probabilities on a split they share; per fold of two cvs."""

from __future__ import annotations

import json

import pytest
import torch

from layerlab import api
from layerlab.cli import main
from layerlab.data import load_data
from layerlab.errors import UsageError
from layerlab.tune import cross_validate
from layerlab.tune.crossval import ensemble_folds


def _probabilities(run_dir) -> tuple[torch.Tensor, torch.Tensor]:
    loaded = api.load_run(run_dir, device="cpu")
    data = load_data(loaded.recipe.data, task="classification", seed=loaded.recipe.train.seed,
                     preprocessor=loaded.preprocessor)
    with torch.no_grad():
        return loaded.model(data.test.x).softmax(1), data.test.y


def test_an_ensemble_averages_its_members_probabilities_and_refuses_other_splits(tiny, tmp_path, capsys):
    wide = {**tiny, "model": {"name": "mlp", "hidden": [64]}, "data": {**tiny["data"], "normalize": False}}
    a = api.run(tiny, ["train.epochs=1"], out=tmp_path / "a").run_dir
    b = api.run(wide, ["train.epochs=1"], out=tmp_path / "b").run_dir  # another model and preprocessing
    result = api.evaluate_ensemble([a, b], device="cpu")
    (pa, y), (pb, _) = _probabilities(a), _probabilities(b)
    expected = ((pa + pb).argmax(1) == y).float().mean().item()
    assert result["n"] == len(y) and result["metrics"]["accuracy"] == pytest.approx(expected)
    assert result["metrics"]["loss"] == pytest.approx(torch.nn.functional.nll_loss(((pa + pb) / 2).log(), y).item(), rel=1e-4)
    assert result["members"][str(a)]["accuracy"] == pytest.approx((pa.argmax(1) == y).float().mean().item())
    assert main(["ensemble", str(a), str(b)]) == 0
    assert f"ensemble (test, {len(y):,} examples): loss" in capsys.readouterr().out

    other = api.run(tiny, ["train.epochs=1", "train.seed=3"], out=tmp_path / "c").run_dir
    with pytest.raises(UsageError, match=r"c was not split as .*a was: train.seed \(3 against 0\)"):
        api.evaluate_ensemble([a, other], device="cpu")
    with pytest.raises(UsageError, match="at least two runs, given 1"):
        api.evaluate_ensemble([a])
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(40)))
    regression = api.run({"data": {"name": "csv", "path": str(table)}, "task": {"name": "regression"},
                          "model": {"name": "mlp", "hidden": [8]}, "train": {"epochs": 1, "report": False}},
                         out=tmp_path / "r").run_dir
    with pytest.raises(UsageError, match="a regression run; ensembles average the class probabilities"):
        api.evaluate_ensemble([a, regression], device="cpu")


def test_runs_that_set_aside_different_validation_parts_share_their_test_split(tiny, tmp_path):
    tiny["data"]["limit"] = None
    with_val = api.run(tiny, ["train.epochs=1", "data.val_fraction=0.2"], out=tmp_path / "val").run_dir
    without = api.run(tiny, ["train.epochs=1", "data.val_fraction=0"], out=tmp_path / "none").run_dir
    result = api.evaluate_ensemble([with_val, without], device="cpu")
    (pa, y), (pb, y_other) = _probabilities(with_val), _probabilities(without)
    assert torch.equal(y, y_other)  # one test split, whatever the validation part
    assert result["metrics"]["accuracy"] == pytest.approx(((pa + pb).argmax(1) == y).float().mean().item())
    with pytest.raises(UsageError, match=r"none was not split as .*val was: data.val_fraction \(0.0 against 0.2\)"):
        api.evaluate_ensemble([with_val, without], split="val", device="cpu")
    first_fold = cross_validate(tiny, ["train.epochs=1", "data.val_fraction=0.2"], folds=2, out=tmp_path / "cv-val",
                                only=[0]).out / "fold-00"
    plain_fold = cross_validate(tiny, ["train.epochs=1", "data.val_fraction=0"], folds=2, out=tmp_path / "cv-none",
                                only=[0]).out / "fold-00"
    assert api.evaluate_ensemble([first_fold, plain_fold], device="cpu")["n"] == len(_probabilities(plain_fold)[1])
    with pytest.raises(UsageError, match=r"data.fold \(1 against 0\)"):
        api.evaluate_ensemble([first_fold, cross_validate(tiny, ["train.epochs=1"], folds=2, out=tmp_path / "cv-1",
                                                          only=[1]).out / "fold-01"], device="cpu")


def test_two_cross_validations_are_ensembled_fold_by_fold(tiny, tmp_path, capsys):
    tiny["data"]["limit"] = None
    wide = {**tiny, "model": {"name": "mlp", "hidden": [64]}}
    first = cross_validate(tiny, ["train.epochs=1"], folds=2, out=tmp_path / "narrow")
    cross_validate(wide, ["train.epochs=1"], folds=2, out=tmp_path / "wide")
    result = ensemble_folds([tmp_path / "narrow", tmp_path / "wide"], device="cpu")
    assert result["folds"] == 2
    fold1 = api.evaluate_ensemble([tmp_path / "narrow" / "fold-01", tmp_path / "wide" / "fold-01"], device="cpu")
    assert result["per_fold"][1] == fold1["metrics"]
    assert result["test"]["accuracy"]["mean"] > 0.5 and first.stats["accuracy"]["n"] == 2
    assert main(["ensemble", "--cv", str(tmp_path / "narrow"), str(tmp_path / "wide"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["test"]["accuracy"]["mean"] == pytest.approx(result["test"]["accuracy"]["mean"])
    cross_validate(tiny, ["train.epochs=1"], folds=3, out=tmp_path / "three")
    with pytest.raises(UsageError, match="holds 3 folds, .*narrow 2; an ensemble of cross-validations needs the same folds"):
        ensemble_folds([tmp_path / "narrow", tmp_path / "three"])
