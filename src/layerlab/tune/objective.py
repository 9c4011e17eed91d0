"""One trial: the search's values applied to the recipe, trained as a normal run, scored by its best epoch.

The trial's run directory is ``<study>/trials/<number>``. Each epoch's validation metric goes to the
Optuna trial; when the pruner says so, training stops at the end of that epoch (the run directory is
complete, its ``stop_reason`` says it was pruned) and the trial is recorded as pruned.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab import runs
from layerlab.errors import TrainingError, UsageError, did_you_mean
from layerlab.train.callbacks import Callback
from layerlab.tune.space import SearchSpace, apply_values, parse_space

if TYPE_CHECKING:
    import optuna

    from layerlab.train.trainer import Trainer


class TrialReporter(Callback):
    """Reports each epoch's ``metric`` to the Optuna trial, and stops the run when the trial is pruned."""

    name = "tune_trial"

    def __init__(self, trial: optuna.Trial, metric: str, on_epoch: Callable[[], None] | None = None):
        self.trial, self.metric, self.on_epoch = trial, metric, on_epoch
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer: Trainer, row: dict[str, float]) -> None:
        value, epoch = self.report(row)
        if self.trial.should_prune():
            self.pruned_at = epoch
            trainer.stop(f"pruned by the search after epoch {epoch} ({self.metric} {value:.4g})")

    def report(self, row: Mapping[str, float]) -> tuple[float, int]:
        """Report one epoch's ``metric`` to the trial (UsageError when the run has no such metric)."""
        if self.metric not in row:
            known = [k for k in row if k.startswith(("val_", "train_"))]
            raise UsageError(f"tune.metric: '{self.metric}' is not a per-epoch metric of this run"
                             f"{did_you_mean(self.metric, known)} (known: {', '.join(known)})")
        value, epoch = float(row[self.metric]), int(row["epoch"])
        self.trial.report(value, epoch)
        if self.on_epoch is not None:
            self.on_epoch()
        return value, epoch


@dataclass
class Objective:
    """What a worker needs to run trials; plain data, so that it can go to a worker process."""

    base: dict[str, Any]  # the resolved recipe without its tune section, with the trials' fixed settings
    space_raw: dict[str, Any]
    metric: str
    direction: str  # "maximize" or "minimize"
    trials_dir: Path
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    callbacks: Sequence[Callback] = ()
    on_epoch: Callable[[], None] | None = None
    nproc: int = 1  # processes each trial trains on (``tune --nproc``: through torchrun, tune.ranks)

    def __post_init__(self) -> None:
        self.space: SearchSpace = parse_space(self.space_raw)

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        values = self.space.sample(trial)
        run_dir = self.trials_dir / f"{trial.number:04d}"
        trial.set_user_attr("values", values)
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        trial.set_user_attr("worker", self.worker)
        reporter = TrialReporter(trial, self.metric, self.on_epoch)
        try:
            result = self._train(apply_values(self.base, values), run_dir, reporter)
        except TrainingError as exc:  # a diverging setting is an outcome of the search, not its end
            trial.set_user_attr("error", str(exc).split(". Training stopped")[0])
            raise
        except runs.Interrupted:
            trial.set_user_attr("interrupted", True)
            raise
        trial.set_user_attr("epochs", result.summary["epochs"])
        trial.set_user_attr("seconds", result.summary["seconds"])
        if reporter.pruned_at is not None:
            raise optuna.TrialPruned(f"pruned after epoch {reporter.pruned_at}")
        try:
            return best_value(result.history, self.metric, self.direction)
        except TrainingError as exc:
            trial.set_user_attr("error", str(exc))
            raise

    def _train(self, recipe: dict[str, Any], run_dir: Path, reporter: TrialReporter) -> runs.RunResult:
        """The trial's run: in this process (each epoch reported as it ends, the pruner asked), or on
        ``nproc`` processes (tune.ranks: the epochs reported once the run has finished)."""
        if self.nproc == 1:
            return runs.run(recipe, out=run_dir, callbacks=[reporter, *self.callbacks])
        from layerlab.tune.ranks import train_on_ranks

        result = train_on_ranks(recipe, run_dir, self.nproc)
        for row in result.history:
            reporter.report(row)
        return result


def best_value(history: Sequence[Mapping[str, float]], metric: str, direction: str) -> float:
    """The best epoch's ``metric``; TrainingError when no epoch has a finite one."""
    values = [float(row[metric]) for row in history if metric in row and math.isfinite(float(row[metric]))]
    if not values:
        raise TrainingError(f"no epoch has a finite {metric}")
    return max(values) if direction == "maximize" else min(values)
