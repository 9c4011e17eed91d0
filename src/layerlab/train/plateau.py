"""Reduce on plateau (``train.schedule: plateau``): cut the learning rate when the monitored metric stalls.

    plateau = ReduceOnPlateau.of(cfg, monitor)   # None unless the schedule is "plateau" and a metric is monitored
    plateau.update(state, row)                   # at each epoch's end, with the epoch's row

After ``plateau_patience`` epochs without an improvement of at least ``min_delta`` (a loss falls, an
accuracy rises: ``metric_mode``), ``state.lr_scale`` is multiplied by ``gamma``; the trainer's rate is
``train.lr * state.lr_scale`` times the stage's schedule. Its memory (``lr_scale``, ``plateau_best``,
``plateau_bad``) lives in ``TrainState``, so that it goes into the checkpoint with the other counters.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from layerlab.train.callbacks import Monitor, metric_mode

if TYPE_CHECKING:
    from layerlab.recipe import TrainConfig
    from layerlab.train.state import TrainState

log = logging.getLogger(__name__)


class ReduceOnPlateau:
    def __init__(self, metric: str, *, patience: int, gamma: float, min_delta: float, lr: float):
        self.metric, self.patience, self.gamma, self.min_delta = metric, patience, gamma, min_delta
        self.lr = lr  # train.lr, for the log line

    @classmethod
    def of(cls, cfg: TrainConfig, monitor: str | None) -> ReduceOnPlateau | None:
        """The scheduler a train section asks for, or None (another schedule, or no metric to watch)."""
        if cfg.schedule != "plateau" or monitor is None:
            return None
        return cls(monitor, patience=cfg.plateau_patience, gamma=cfg.gamma, min_delta=cfg.min_delta, lr=cfg.lr)

    def update(self, state: TrainState, row: dict[str, float]) -> None:
        """Count this epoch as an improvement or not, and cut ``state.lr_scale`` after too many that were not.
        An epoch whose row lacks the metric (no validation split) counts as neither."""
        if self.metric not in row:
            return
        mon = Monitor(self.metric, metric_mode(self.metric), self.min_delta)
        mon.best = state.plateau_best
        if mon.update(row[self.metric]):
            state.plateau_best, state.plateau_bad = mon.best, 0
            return
        state.plateau_bad += 1
        if state.plateau_bad > self.patience:
            state.lr_scale *= self.gamma
            state.plateau_bad = 0
            log.info("reduce on plateau: learning rate scaled to %.3g", self.lr * state.lr_scale)
