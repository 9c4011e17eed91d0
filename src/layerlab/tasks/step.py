"""A task's own training step, for tasks the trainer's usual step does not fit.

The usual step is forward, loss, backward, one optimiser step. A GAN alternates a discriminator step
and a generator step, each with its own optimiser and learning rate. Such a task returns a
``TrainingStep`` from ``Task.training_step``; the trainer then calls it once per batch instead, keeps
its ``state_dict`` (optimiser states included) in the checkpoint, and stops and resumes it exactly as
the usual loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

# Given by the trainer: an optimiser for a module's parameters at a learning rate (None: train.lr), of
# the recipe's kind (train.optimizer, betas, weight_decay): a task chooses what to optimise, not how.
MakeOptimizer = Callable[[nn.Module, float | None], torch.optim.Optimizer]


class TrainingStep(ABC):
    @abstractmethod
    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        """Train on one batch; returns the (detached, scalar) loss recorded as ``train_loss``.

        Raises ``FloatingPointError`` when a loss is not finite, before any weight changes."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs (optimiser states, counters): plain values and tensors."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
