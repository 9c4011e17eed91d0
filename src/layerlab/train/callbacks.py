"""Named callbacks: a small fixed set of hooks with no-op defaults.

Each hook gets the trainer as a ``TrainerView``: what a callback may read of it (the model, the task, the
train section, the state) and ask of it (stop, interrupt, write a checkpoint). A callback may stop
training by calling ``trainer.stop(reason)``. One that keeps state across a resume returns it from
``state_dict`` (plain values and tensors) and takes it back in ``load_state_dict``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

if TYPE_CHECKING:
    from torch import nn

    from layerlab.recipe import TrainConfig
    from layerlab.tasks import Task
    from layerlab.train.state import TrainState


class TrainerView(Protocol):
    """What callbacks use of the trainer that calls them (``layerlab.train.trainer.Trainer`` is one)."""

    @property
    def model(self) -> nn.Module: ...  # the model being trained (the raw weights, or their average in on_epoch_end)
    @property
    def task(self) -> Task: ...
    @property
    def cfg(self) -> TrainConfig: ...  # the recipe's train section
    @property
    def state(self) -> TrainState: ...  # epoch, step_in_epoch, global_step, seconds, history, ...
    @property
    def at_step_boundary(self) -> bool: ...  # no gradients pending: a checkpoint taken now is complete

    def gradient_scale(self) -> float:
        """What the gradients are multiplied by in on_after_backward: fp16's loss scale, else 1."""

    def stop(self, reason: str) -> None:
        """Stop at the end of this epoch, for ``reason`` (the run's stop_reason)."""

    def interrupt(self) -> None:
        """Stop at the next step boundary and write a checkpoint there (what Ctrl-C does)."""

    def save_checkpoint(self, path: Path | None = None) -> Path | None:
        """Write the trainer's checkpoint (to its own path when none is given); only at a step boundary."""


class Callback:
    name = "callback"

    def on_fit_start(self, trainer: TrainerView) -> None: ...
    def on_epoch_start(self, trainer: TrainerView) -> None: ...
    def on_after_backward(self, trainer: TrainerView) -> None:
        """Once per optimiser step, when its gradients are complete (after accumulation), before
        clipping and the step; with fp16 they are still multiplied by ``trainer.gradient_scale()``."""

    def on_step_end(self, trainer: TrainerView, loss: torch.Tensor) -> None: ...
    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None: ...
    def on_fit_end(self, trainer: TrainerView) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Monitor:
    """Whether a metric improved: ``mode`` is "min" or "max", ``min_delta`` the smallest change that counts."""

    def __init__(self, metric: str, mode: str, min_delta: float = 0.0):
        self.metric, self.mode, self.min_delta = metric, mode, min_delta
        self.best: float | None = None

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float) -> bool:
        better = self.improved(value)
        if better:
            self.best = value
        return better


def metric_mode(metric: str) -> str:
    """'min' for losses and errors, 'max' for everything else (accuracy, F1, R²)."""
    lowered = metric.lower()
    return "min" if any(w in lowered for w in ("loss", "error", "mse", "mae", "rmse", "perplexity")) else "max"


class EarlyStopping(Callback):
    name = "early_stopping"

    def __init__(self, metric: str, mode: str, patience: int, min_delta: float = 0.0):
        self.monitor = Monitor(metric, mode, min_delta)
        self.patience = patience
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        if self.monitor.update(row[self.monitor.metric]):
            self.bad_epochs = 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            trainer.stop(
                f"early stopping: {self.monitor.metric} did not improve for {self.bad_epochs} epochs "
                f"(best {self.monitor.best:.4g})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.monitor.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best, self.bad_epochs = state["best"], state["bad_epochs"]


class KeepBest(Callback):
    """Keeps a copy of the weights of the best epoch (in memory, and on disk when given a path)."""

    name = "keep_best"

    def __init__(self, metric: str, mode: str, path: Path | None = None, min_delta: float = 0.0):
        self.monitor = Monitor(metric, mode, min_delta)
        self.path = path
        self.best_epoch: int | None = None
        self.weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        if self.monitor.update(row[self.monitor.metric]):
            self.best_epoch = int(row["epoch"])
            self.weights = {k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()}
            if self.path is not None:
                from layerlab.train.checkpoint import save_weights

                save_weights(self.path, self.weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.monitor.best, "best_epoch": self.best_epoch, "weights": self.weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.best, self.best_epoch = state["best"], state["best_epoch"]
        self.weights = copy.copy(state.get("weights"))


class PeriodicCheckpoint(Callback):
    """Writes the trainer's checkpoint every ``every`` optimiser steps (the trainer writes one each epoch too)."""

    name = "periodic_checkpoint"

    def __init__(self, every: int):
        self.every = every

    def on_step_end(self, trainer: TrainerView, loss: torch.Tensor) -> None:
        if trainer.at_step_boundary and trainer.state.global_step % self.every == 0:
            trainer.save_checkpoint()


class LambdaCallback(Callback):
    """A callback from plain functions, for a quick hook: ``LambdaCallback(on_step_end=f)``."""

    name = "lambda"

    def __init__(self, **hooks: Callable[..., None]):
        for hook, fn in hooks.items():
            if not hasattr(Callback, hook):
                raise ValueError(f"'{hook}' is not a callback hook")
            setattr(self, hook, fn)

