"""The recipe's ``tune:`` section: what a hyperparameter search varies, how, and for how long.

    tune:
      space:
        train.lr: {log_uniform: [1.0e-4, 1.0e-1]}
        model.hidden: {choice: [[128], [256, 128]]}
      strategy: tpe
      pruner: median
      trials: 30
      timeout: 10m

The space's syntax is described in ``layerlab.tune.space``; it is checked against the rest of the
recipe when the recipe is validated (``layerlab.tune.space.recipe_problems``). Without a space the
section does nothing: ``layerlab run`` ignores it.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from layerlab.config import Section

Strategy = Literal["grid", "random", "tpe", "gp", "cmaes"]
Pruner = Literal["none", "median", "halving", "hyperband"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$")


def parse_duration(value: str | float | int) -> float:
    """Seconds of ``90``, ``"90s"``, ``"5m"``, ``"1.5h"`` or ``"2d"``; ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 90, '90s', '5m' or '2h', given {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration like 90, '90s', '5m' or '2h', given {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not seconds > 0:
        raise ValueError(f"a duration must be positive, given {value!r}")
    return seconds


class TuneConfig(Section):
    space: dict[str, Any] = Field(
        default_factory=dict,
        description="recipe keys to search: {train.lr: {log_uniform: [1e-4, 1e-1]}, model.width: {choice: [32, 64]}, "
                    "train.batch_size: {int: [32, 256], step: 32}, train.momentum: {uniform: [0.5, 0.99]}}; "
                    "a choice may add keys searched only under one of its values: when: {sgd: {train.momentum: ...}}")
    strategy: Strategy = Field("tpe", description="grid, random, tpe (Bayesian: Optuna's TPE), gp (Gaussian process), "
                                                 "cmaes (CMA-ES; numeric keys)")
    metric: str = Field("auto", description="the per-epoch validation metric to optimise; a trial scores its best epoch "
                                            "(auto: the run's train.monitor, e.g. val_accuracy)")
    direction: Literal["auto", "maximize", "minimize"] = Field(
        "auto", description="maximize or minimize the metric (auto: minimize losses and errors, maximize the rest)")
    trials: int | None = Field(20, ge=1, description="trials in the study in all, those of earlier (interrupted) calls "
                                                     "included; null: until the time budget (grid: at most the grid)")
    timeout: float | str | None = Field(None, description="time budget of one `layerlab tune` call: seconds, or "
                                                          "'90s', '5m', '2h'; no trial starts after it")
    pruner: Pruner = Field("none", description="stop poor trials early from their per-epoch metric: none, median, "
                                               "halving (successive halving) or hyperband")
    prune_warmup: int = Field(1, ge=0, description="median: epochs every trial runs before it may be pruned")
    prune_startup: int = Field(3, ge=0, description="median: trials that must finish before any is pruned")
    startup_trials: int = Field(8, ge=1, description="tpe, gp, cmaes: random trials before the model-guided ones")
    seed: int = Field(0, description="seed of the sampler (each parallel worker adds its index)")

    @field_validator("timeout")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def timeout_seconds(self) -> float | None:
        return None if self.timeout is None else parse_duration(self.timeout)
