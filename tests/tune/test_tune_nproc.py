"""``layerlab tune --nproc N``: every trial trains data-parallel on N processes (torchrun, as ``run --nproc``),
scores as the same trial in one process does, and what such a search cannot do is refused before it starts."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

import layerlab
from layerlab.cli import main
from layerlab.errors import RecipeError, UsageError
from layerlab.recipe import load_recipe
from layerlab.rundir import RunDir
from layerlab.train.callbacks import Callback
from layerlab.train.launch import SEMI_REFUSAL
from layerlab.tune import tune


@pytest.mark.slow
def test_each_trial_trains_on_two_processes_and_scores_as_in_one(with_space, tmp_path: Path) -> None:
    recipe = with_space({"train.lr": {"choice": [0.01, 0.0001]}}, strategy="grid", trials=None)
    result = tune(recipe, out=tmp_path / "study", nproc=2)

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'study' / 'study.db'}")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    for trial in study.trials:
        run = tmp_path / "study" / "trials" / f"{trial.number:04d}"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["distributed"]["world_size"] == 2  # trained by two ranks under torchrun
        assert run.with_suffix(".log").is_file() and run.with_suffix(".yaml").is_file()
        assert sorted(trial.intermediate_values) == [1, 2]  # every epoch reported to Optuna, once it ended
    assert result.best_values == {"train.lr": 0.01}
    assert result.best_value > 0.6  # chance: 0.1

    # the best trial again, in one process: the same validation metrics epoch by epoch
    best = tmp_path / "study" / "trials" / f"{result.best_trial:04d}"
    layerlab.run(best.with_suffix(".yaml"), out=tmp_path / "alone")
    alone, ranks = RunDir(tmp_path / "alone").read_history(), RunDir(best).read_history()
    assert [r["val_accuracy"] for r in alone] == [r["val_accuracy"] for r in ranks]
    for mine, theirs in zip(alone, ranks, strict=True):
        assert mine["val_loss"] == pytest.approx(theirs["val_loss"], abs=1e-5)


def test_what_a_search_on_several_processes_cannot_do_is_refused_before_it_starts(with_space, tmp_path: Path, capsys) -> None:
    recipe = with_space({"train.lr": {"choice": [0.01, 0.001]}}, strategy="grid", pruner="median")
    with pytest.raises(UsageError, match=r"tune.pruner: median stops a trial part-way .* set tune.pruner: none"):
        tune(recipe, out=tmp_path / "a", nproc=2)
    recipe["tune"]["pruner"] = "none"

    class Noop(Callback):
        name = "noop"

    with pytest.raises(UsageError, match="extra trainer callbacks run in this process only"):
        tune(recipe, out=tmp_path / "b", nproc=2, callbacks=[Noop()])
    with pytest.raises(UsageError, match=r"--nproc 0: give 1 or more processes per trial"):
        tune(recipe, out=tmp_path / "c", nproc=0)

    semi = load_recipe("fashion-fixmatch-40").to_dict()
    semi["tune"] = {"space": {"train.lr": {"choice": [0.01, 0.001]}}}
    with pytest.raises(RecipeError, match=r"^train\.semi: semi-supervised training runs in one process only"):
        tune(semi, out=tmp_path / "d", nproc=2)
    assert not any((tmp_path / name).exists() for name in "abcd")  # nothing started, nothing written

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**recipe, "tune": {**recipe["tune"], "pruner": "hyperband"}}))
    assert main(["tune", str(path), "--nproc", "2", "--out", str(tmp_path / "e"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: tune.pruner: hyperband stops a trial part-way")
    assert SEMI_REFUSAL.startswith("train.semi:")
