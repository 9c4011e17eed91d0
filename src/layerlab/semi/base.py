"""What every semi-supervised method shares: its recipe section, the registry, the interface.

    SEMI.register("fixmatch", config=FixMatchConfig, description="...")(FixMatch)
    semi = semi_section({"method": "fixmatch", "threshold": 0.95})   # the recipe's check of train.semi

A method turns one labelled batch and one batch of unlabelled inputs into the labelled logits and an
unlabelled loss (``SemiMethod.losses``); the trainer adds that loss, weighted and ramped up, to the
task's. ``Views`` are the weak and strong augmentations a method draws its views of the unlabelled
inputs from, each seeded per batch.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from pydantic import Field, ValidationError
from torch import Tensor, nn

from layerlab.config import Section
from layerlab.errors import short
from layerlab.recipe_errors import NestedErrors, problems
from layerlab.registry import Registry

SEMI: Registry[type[SemiMethod]] = Registry("semi-supervised method")

Augment = Callable[[Tensor, torch.Generator], Tensor]


class SemiConfig(Section):
    """``train.semi``: what every method takes; ``method`` picks one (each adds its own fields)."""

    method: str = Field("fixmatch", description="semi-supervised learning from data.labels_per_class's unlabelled examples: pseudo_label, mean_teacher or fixmatch")
    mu: int = Field(7, ge=1, description="semi: unlabelled examples per labelled one in a step (the unlabelled batch is mu x train.batch_size)")
    weight: float = Field(1.0, ge=0, description="semi: weight of the unlabelled loss (default 1; mean_teacher's 50, its loss being a squared difference of probabilities)")
    ramp_up_epochs: float = Field(0.0, ge=0, description="semi: the unlabelled loss's weight rises from 0 to semi.weight over this many epochs (exp(-5 (1 - t)^2), as Mean Teacher's ramp-up; 0: full weight from the start; pseudo_label's and mean_teacher's default 5)")
    threshold: float = Field(0.95, ge=0, le=1, description="semi: the confidence an unlabelled example's prediction needs to count as its pseudo-label (the history's unlabeled_above_threshold and pseudo_label_accuracy)")


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


class SemiMethod(ABC):
    """One semi-supervised method. ``losses`` runs inside the trainer's step (autocast on); the
    generators seed the views of the unlabelled batch (two: a method may want two independent ones)."""

    needs_strong = False  # FixMatch: a strong view is required

    def __init__(self, cfg: SemiConfig, views: Views):
        self.cfg, self.views = cfg, views

    @abstractmethod
    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator]
               ) -> SemiBatch: ...

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


def semi_section(section: Any) -> SemiConfig | None:
    """``train.semi`` as its method's config object (None: off). Raises ValueError with the key path."""
    if section is None or isinstance(section, SemiConfig):
        return section
    if not isinstance(section, Mapping):
        raise ValueError(f"@@expected a mapping with at least 'method', given {short(section)}")
    method = section.get("method", SemiConfig.model_fields["method"].default)
    if not isinstance(method, str) or method not in SEMI:
        raise ValueError(f"@method@{SEMI.unknown_message(method)}")
    config_cls = SEMI.entry(method).config
    try:
        return config_cls.model_validate({**section, "method": method})
    except ValidationError as exc:
        raise NestedErrors(problems(exc, "train.semi", config_cls)) from None
