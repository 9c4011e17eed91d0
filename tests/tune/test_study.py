"""Searches that really train: grid, pruning, resuming, time budgets, parallel workers on SQLite."""

from __future__ import annotations

import csv
import json
import os
import signal

import optuna
import pytest
import yaml

from layerlab.api import Interrupted
from layerlab.errors import UsageError
from layerlab.recipe import load_recipe
from layerlab.train.callbacks import Callback
from layerlab.tune import tune


def states(study_dir, name="tiny"):
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / 'study.db'}")
    return study, [t.state.name for t in study.get_trials()]


def test_grid_runs_exactly_the_grid_and_writes_the_results(with_space, tmp_path):
    space = {"train.lr": {"choice": [0.03, 0.003]},
             "train.optimizer": {"choice": ["adamw", "sgd"], "when": {"sgd": {"train.momentum": {"choice": [0.9]}}}}}
    recipe = with_space(space, strategy="grid", trials=None)
    recipe["train"]["epochs"] = 1
    result = tune(recipe, out=tmp_path)

    study, seen = states(tmp_path)
    assert seen == ["COMPLETE"] * 4  # 2 learning rates x (adamw, sgd with its momentum)
    points = sorted(json.dumps(t.user_attrs["values"], sort_keys=True) for t in study.trials)
    expected = sorted(json.dumps(v, sort_keys=True) for v in (
        {"train.lr": lr, "train.optimizer": "adamw"} if m is None else
        {"train.lr": lr, "train.optimizer": "sgd", "train.momentum": m}
        for lr in (0.03, 0.003) for m in (None, 0.9)))
    assert points == expected
    # every trial is a normal run directory, trained with its values
    for trial in study.trials:
        run = tmp_path / "trials" / f"{trial.number:04d}"
        ran = load_recipe(run / "recipe.yaml")
        assert ran.train.lr == trial.user_attrs["values"]["train.lr"] and ran.train.epochs == 1
        assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert result.best_value > 0.5  # far above chance (0.1) on digits
    best = load_recipe(result.best_recipe)
    assert best.train.lr == result.best_values["train.lr"] and not best.tune.space
    rows = list(csv.DictReader((tmp_path / "leaderboard.csv").open()))
    assert len(rows) == 4 and float(rows[0]["score"]) == pytest.approx(result.best_value)
    assert {p.name for p in result.plots} >= {"history.png", "intermediate.png", "parallel.png"}
    summary = json.loads((tmp_path / "study.json").read_text())
    assert summary["counts"] == {"complete": 4} and summary["best"]["trial"] == result.best_trial

    tune(recipe, out=tmp_path)  # a finished grid has nothing left to run
    assert states(tmp_path)[1] == ["COMPLETE"] * 4


def test_a_pruned_trial_stops_early(with_space, tmp_path):
    recipe = with_space({"train.lr": {"choice": [0.03, 1.0e-6]}}, strategy="grid", pruner="median",
                        prune_startup=1, prune_warmup=0)
    recipe["train"]["epochs"] = 4
    tune(recipe, out=tmp_path)

    study, seen = states(tmp_path)
    assert seen == ["COMPLETE", "PRUNED"]
    good, bad = study.trials
    assert len(good.intermediate_values) == 4 and len(bad.intermediate_values) == 1
    history = (tmp_path / "trials" / "0001" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 1  # header and the one epoch it ran
    summary = json.loads((tmp_path / "trials" / "0001" / "summary.json").read_text())
    assert summary["status"] == "stopped" and summary["stop_reason"].startswith("pruned by the search after epoch 1")


class CtrlCInSecondTrial(Callback):
    """Presses Ctrl-C (a real SIGINT) at the first step of the second trial."""

    def __init__(self) -> None:
        self.fits = 0

    def on_fit_start(self, trainer) -> None:
        self.fits += 1

    def on_step_end(self, trainer, loss) -> None:
        if self.fits == 2 and trainer.state.global_step == 1:
            os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupted_study_resumes_its_count(with_space, tmp_path):
    recipe = with_space({"train.lr": {"log_uniform": [1e-3, 3e-2]}}, strategy="random", trials=3)
    recipe["train"]["epochs"] = 1
    with pytest.raises(Interrupted) as err:
        tune(recipe, out=tmp_path, callbacks=[CtrlCInSecondTrial()])
    assert err.value.exit_code == 130
    assert f"Continue with: layerlab tune {tmp_path / 'recipe.yaml'} --out {tmp_path}" in str(err.value)
    _, seen = states(tmp_path)
    assert seen == ["COMPLETE", "FAIL"]
    interrupted = json.loads((tmp_path / "trials" / "0001" / "summary.json").read_text())
    assert interrupted["status"] == "interrupted"
    assert (tmp_path / "leaderboard.csv").is_file()  # the results so far are written

    result = tune(tmp_path / "recipe.yaml", out=tmp_path)  # the command the message gives
    study, seen = states(tmp_path)
    assert seen == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]  # 3 in all, as asked
    assert result.counts == {"complete": 3, "fail": 1}
    assert study.trials[1].user_attrs["interrupted"] is True

    changed = load_recipe(tmp_path / "recipe.yaml", ["train.batch_size=32"])
    with pytest.raises(UsageError, match=r"was started with another recipe: train.batch_size \(64 -> 32\)"):
        tune(changed, out=tmp_path)


def test_a_time_budget_ends_the_search(with_space, tmp_path):
    recipe = with_space({"train.lr": {"log_uniform": [1e-3, 3e-2]}}, strategy="random", trials=None, timeout=1.5)
    recipe["train"]["epochs"] = 1
    tune(recipe, out=tmp_path)
    study, seen = states(tmp_path)
    assert seen and set(seen) == {"COMPLETE"}
    first = study.trials[0].datetime_start  # the budget started before it: none may start 1.5 s after it
    assert all((t.datetime_start - first).total_seconds() <= 1.5 for t in study.trials)


@pytest.mark.parametrize("strategy", ["gp", "cmaes"])  # tpe: see the PostgreSQL test
def test_model_guided_strategies_propose_values_inside_the_space(with_space, tmp_path, strategy):
    space = {"train.lr": {"log_uniform": [1e-3, 3e-2]}, "model.hidden": {"choice": [[16], [32]]},
             "train.batch_size": {"int": [32, 64], "step": 32}}
    recipe = with_space(space, strategy=strategy, trials=2, startup_trials=1)  # the second is model-guided
    recipe["train"]["epochs"] = 1
    result = tune(recipe, out=tmp_path)
    assert result.counts == {"complete": 2}
    for row in result.leaderboard:
        values = row["values"]
        assert 1e-3 <= values["train.lr"] <= 3e-2 and values["model.hidden"] in ([16], [32])
        assert values["train.batch_size"] in (32, 64)
        assert yaml.safe_load((tmp_path / "trials" / f"{row['trial']:04d}" / "recipe.yaml").read_text())[
            "model"]["hidden"] == values["model.hidden"]


@pytest.mark.slow
def test_two_worker_processes_share_one_study_on_sqlite(with_space, tmp_path):
    recipe = with_space({"train.lr": {"log_uniform": [1e-3, 3e-2]}}, strategy="random", trials=4)
    result = tune(recipe, out=tmp_path, workers=2)
    study, seen = states(tmp_path)
    assert 4 <= seen.count("COMPLETE") <= 5 and set(seen) == {"COMPLETE"}  # at most one past the target
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers) == 2 and all(w.split(":")[1] != str(os.getpid()) for w in workers)
    assert len({t.user_attrs["values"]["train.lr"] for t in study.trials}) == len(study.trials)  # own seeds
    assert sorted(p.name for p in (tmp_path / "trials").iterdir() if p.is_dir()) == [
        f"{t.number:04d}" for t in study.trials]
    assert result.best_recipe.is_file()
