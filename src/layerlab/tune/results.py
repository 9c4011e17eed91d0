"""What a study leaves in its folder: the leaderboard, the best recipe, ``study.json`` and the plots.

    leaderboard.csv   every trial: number, state, score, epochs, seconds, its values, its run directory
    best.yaml         the recipe with the best trial's values: `layerlab run best.yaml` trains it again
    study.json        the study's name, storage, metric, counts by state and the best trial
    plots/            history.png, intermediate.png, importance.png, parallel.png
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.train.state_io import atomic_write_text
from layerlab.tune.space import apply_values

if TYPE_CHECKING:
    import optuna

    from layerlab.recipe import Recipe


@dataclass
class TuneResult:
    study_dir: Path
    study_name: str
    metric: str
    direction: str
    best_value: float | None
    best_values: dict[str, Any]  # the recipe values of the best trial: {"train.lr": 0.003, ...}
    best_trial: int | None
    best_run_dir: Path | None
    best_recipe: Path | None
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """One trial as a plain row. ``score`` is the trial's value when complete, else its latest epoch's."""
    from optuna.trial import TrialState

    steps = trial.intermediate_values
    latest = steps[max(steps)] if steps else None
    end = trial.datetime_complete or (datetime.now() if trial.state == TrialState.RUNNING else None)
    seconds = (end - trial.datetime_start).total_seconds() if end and trial.datetime_start else None
    return {
        "trial": trial.number,
        "state": trial.state.name.lower(),
        "score": trial.value if trial.state == TrialState.COMPLETE else latest,
        "epochs": max(steps) if steps else trial.user_attrs.get("epochs", 0),
        "seconds": seconds,
        "values": trial.user_attrs.get("values", {}),
        "run_dir": trial.user_attrs.get("run_dir", ""),
        "worker": trial.user_attrs.get("worker", ""),
        "error": trial.user_attrs.get("error", "interrupted" if trial.user_attrs.get("interrupted") else ""),
    }


def leaderboard(trials: list[optuna.trial.FrozenTrial], direction: str) -> list[dict[str, Any]]:
    """Complete trials best first, then pruned ones (by their last score), then the rest by number."""
    rows = [trial_row(t) for t in trials]
    sign = -1.0 if direction == "maximize" else 1.0
    rank = {"complete": 0, "pruned": 1, "running": 2}

    def key(row: dict[str, Any]) -> tuple[int, float, int]:
        score = row["score"]
        scored = isinstance(score, (int, float)) and math.isfinite(score)
        return (rank.get(row["state"], 3), sign * score if scored else math.inf, row["trial"])

    return sorted(rows, key=key)


def write_results(study: optuna.Study, cfg: Recipe, study_dir: Path, *, metric: str, direction: str) -> TuneResult:
    """Write the leaderboard, best recipe, study.json and plots of ``study`` into ``study_dir``."""
    from layerlab.tune.plots import plot_study

    trials = study.get_trials(deepcopy=False)
    rows = leaderboard(trials, direction)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    _write_leaderboard(rows, study_dir / "leaderboard.csv")
    best = rows[0] if rows and rows[0]["state"] == "complete" else None
    best_recipe = None
    if best is not None:
        best_recipe = study_dir / "best.yaml"
        header = (f"# best of study '{study.study_name}': {metric} {best['score']:.6g} "
                  f"(trial {best['trial']}, {best['run_dir']})\n")
        atomic_write_text(best_recipe, header + best_recipe_yaml(cfg, best["values"]))
    plots = plot_study(trials, study_dir / "plots", metric=metric, direction=direction, study=study)
    result = TuneResult(
        study_dir=study_dir, study_name=study.study_name, metric=metric, direction=direction,
        best_value=None if best is None else best["score"], best_values={} if best is None else best["values"],
        best_trial=None if best is None else best["trial"],
        best_run_dir=None if best is None else Path(best["run_dir"]), best_recipe=best_recipe,
        leaderboard=rows, counts=counts, plots=plots)
    summary = {
        "study": study.study_name, "metric": metric, "direction": direction,
        "strategy": cfg.tune.strategy, "pruner": cfg.tune.pruner, "counts": counts,
        "best": None if best is None else {k: best[k] for k in ("trial", "score", "values", "run_dir", "epochs")},
        "best_recipe": None if best_recipe is None else str(best_recipe),
        "plots": [str(p) for p in plots],
    }
    atomic_write_text(study_dir / "study.json", json.dumps(summary, indent=2, default=str) + "\n")
    return result


def best_recipe_yaml(cfg: Recipe, values: dict[str, Any]) -> str:
    """The recipe a search started from, with a trial's values and without its tune section."""
    from layerlab.recipe import validate_recipe

    base = {k: v for k, v in cfg.to_dict().items() if k != "tune"}
    return validate_recipe(apply_values(base, values)).to_yaml()


def _write_leaderboard(rows: list[dict[str, Any]], path: Path) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row["values"]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "state", "score", "epochs", "seconds", *keys, "run_dir", "worker", "error"])
    for row in rows:
        values = [json.dumps(row["values"][k]) if isinstance(row["values"].get(k), (list, dict))
                  else row["values"].get(k, "") for k in keys]
        seconds = "" if row["seconds"] is None else round(row["seconds"], 2)
        writer.writerow([row["trial"], row["state"], "" if row["score"] is None else row["score"], row["epochs"],
                         seconds, *values, row["run_dir"], row["worker"], row["error"]])
    atomic_write_text(path, buffer.getvalue())
