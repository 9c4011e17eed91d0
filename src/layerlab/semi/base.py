"""What every semi-supervised method shares: the interface (its recipe section and the registry are in
``semi.config``, which imports no torch).

    @SEMI.register("fixmatch")   # its config, FixMatchConfig, declared in semi.config
    class FixMatch(SemiMethod): ...

A method turns one labelled batch and one batch of unlabelled inputs into the labelled logits and an
unlabelled loss (``SemiMethod.losses``); the trainer adds that loss, weighted and ramped up, to the
task's. ``Views`` are the weak and strong augmentations a method draws its views of the unlabelled
inputs from, each seeded per batch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from layerlab.semi.config import SEMI, SemiConfig, semi_section

__all__ = ["SEMI", "SemiBatch", "SemiConfig", "SemiMethod", "Views", "confident", "masked_cross_entropy", "ramp_up", "semi_section"]

Augment = Callable[[Tensor, torch.Generator], Tensor]


@dataclass
class Views:
    """The augmentations of unlabelled batches: ``weak`` (the recipe's data.augment), ``strong``
    (RandAugment-like for images, SpecAugment for spectrograms; None where the modality has none)."""

    weak: Augment
    strong: Augment | None


@dataclass
class SemiBatch:
    """One step's work: the labelled batch's logits, the unlabelled loss (a scalar), and for each
    unlabelled example its prediction's confidence and class (for the history)."""

    logits: Tensor  # (B, classes)
    unlabeled_loss: Tensor  # ()
    confidence: Tensor  # (M,)
    pseudo: Tensor  # (M,) int64
    used: Tensor | None = None  # (M,) bool: the pseudo-labels the loss used, where not confidence >= threshold


class SemiMethod(ABC):
    """One semi-supervised method. ``losses`` runs inside the trainer's step (autocast on); the
    generators seed the views of the unlabelled batch (two: a method may want two independent ones)."""

    needs_strong = False  # FixMatch: a strong view is required

    def __init__(self, cfg: SemiConfig, views: Views, prior: Tensor | None = None, unlabeled: int = 0):
        # prior: (classes,) the labelled examples' class shares (FixMatch's distribution alignment aims at it);
        # unlabeled: how many unlabelled examples there are (FlexMatch remembers each one's confident class)
        self.cfg, self.views, self.prior, self.unlabeled = cfg, views, prior, unlabeled

    @abstractmethod
    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator],
               index: Tensor | None = None) -> SemiBatch:
        """``index``: (M,) the unlabelled examples' numbers in the unlabelled set (for methods that remember them)."""

    def start(self, model: nn.Module) -> None:
        """When training starts (or resumes), with the model on its device, after ``load_state_dict``."""
        return None

    def after_step(self, model: nn.Module, step: int) -> None:
        """After each optimiser step (Mean Teacher moves its teacher); nothing by default."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def confident(logits: Tensor) -> tuple[Tensor, Tensor]:
    """(confidence, class) of each row's softmax, without gradients, in float32."""
    return torch.softmax(logits.detach().float(), dim=1).max(dim=1)


def masked_cross_entropy(logits: Tensor, pseudo: Tensor, mask: Tensor) -> Tensor:
    """Cross-entropy against the pseudo-labels of the examples in ``mask``, averaged over all of them
    (FixMatch's normalisation: a batch with few confident examples gives a small loss)."""
    losses = nn.functional.cross_entropy(logits.float(), pseudo, reduction="none")
    return (losses * mask.float()).mean()


def ramp_up(progress: float) -> float:
    """Mean Teacher's sigmoid ramp-up: exp(-5 (1 - t)^2) for t in [0, 1), then 1."""
    t = min(max(progress, 0.0), 1.0)
    return math.exp(-5.0 * (1.0 - t) ** 2) if t < 1 else 1.0
