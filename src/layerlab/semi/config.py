"""``train.semi``: the options of every semi-supervised method, declared in ``SEMI`` without importing torch.

    semi = semi_section({"method": "fixmatch", "threshold": 0.95})   # the recipe's check of train.semi

Each method's class, in ``layerlab.semi.<method>``, registers under the same name
(``@SEMI.register("fixmatch")``) and loads on first use, when training starts; checking and explaining
a recipe read only this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationError

from layerlab.config import Section
from layerlab.errors import short
from layerlab.recipe_errors import NestedErrors, problems
from layerlab.registry import Registry

SEMI: Registry = Registry("semi-supervised method")  # of SemiMethod classes (layerlab.semi.base)


class SemiConfig(Section):
    """``train.semi``: what every method takes; ``method`` picks one (each adds its own fields)."""

    method: str = Field("fixmatch", description="semi-supervised learning from data.labels_per_class's unlabelled examples: pseudo_label, mean_teacher or fixmatch")
    mu: int = Field(7, ge=1, description="semi: unlabelled examples per labelled one in a step (the unlabelled batch is mu x train.batch_size)")
    weight: float = Field(1.0, ge=0, description="semi: weight of the unlabelled loss (default 1; mean_teacher's 50, its loss being a squared difference of probabilities)")
    ramp_up_epochs: float = Field(0.0, ge=0, description="semi: the unlabelled loss's weight rises from 0 to semi.weight over this many epochs (exp(-5 (1 - t)^2), as Mean Teacher's ramp-up; 0: full weight from the start; pseudo_label's and mean_teacher's default 5)")
    threshold: float = Field(0.95, ge=0, le=1, description="semi: the confidence an unlabelled example's prediction needs to count as its pseudo-label (the history's unlabeled_above_threshold and pseudo_label_accuracy)")


class FixMatchConfig(SemiConfig):
    dist_align: bool = Field(False, description="fixmatch: distribution alignment (ReMixMatch's, USB's DistAlign): the weak view's probabilities times the labelled examples' class shares over a running mean of the model's predictions, renormalised, before the threshold (against confirmation bias with few labels)")
    dist_align_momentum: float = Field(0.999, ge=0, lt=1, description="fixmatch: with semi.dist_align, the running mean of the model's predictions keeps this share of itself each step (0: the current batch's mean alone)")
    flexible: bool = Field(False, description="fixmatch: FlexMatch's per-class thresholds (curriculum pseudo-labelling): threshold x beta / (2 - beta), beta a class's share of the unlabelled examples confidently predicted as it, over the largest class's; the history's unlabeled_above_threshold then counts the pseudo-labels used")
    flexible_warmup: bool = Field(True, description="fixmatch: with semi.flexible, the examples never yet confident count in beta's denominator too (FlexMatch's threshold warm-up: every threshold starts low and rises as the model grows confident)")


class MeanTeacherConfig(SemiConfig):
    weight: float = Field(50.0, ge=0, description="semi: weight of the unlabelled loss")
    ramp_up_epochs: float = Field(5.0, ge=0, description="semi: the unlabelled loss's weight rises from 0 to semi.weight over this many epochs (exp(-5 (1 - t)^2), as Mean Teacher's ramp-up; 0: full weight from the start)")
    ema_decay: float = Field(0.999, gt=0, lt=1, description="mean_teacher: the teacher's weights move towards the student's by 1 - ema_decay each optimiser step")


class PseudoLabelConfig(SemiConfig):
    ramp_up_epochs: float = Field(5.0, ge=0, description="semi: the unlabelled loss's weight rises from 0 to semi.weight over this many epochs (exp(-5 (1 - t)^2), as Mean Teacher's ramp-up; 0: full weight from the start)")


SEMI.declare("fixmatch", "layerlab.semi.fixmatch", config=FixMatchConfig,
             description="FixMatch: a weak view's confident prediction as the target of a strong view")
SEMI.declare("mean_teacher", "layerlab.semi.mean_teacher", config=MeanTeacherConfig,
             description="Mean Teacher: consistency with a teacher whose weights average the student's")
SEMI.declare("pseudo_label", "layerlab.semi.pseudo_label", config=PseudoLabelConfig,
             description="pseudo-labels: the model's own confident predictions on unlabelled inputs as their targets")


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


def unlabeled_problem(data: Any, semi: SemiConfig | None) -> str | None:
    """Why a recipe's ``data`` (a DataConfig) and ``train.semi`` do not go together ("@key@message"), or None:
    train.semi needs unlabelled examples, and data.unlabeled is there only for train.semi."""
    elsewhere = getattr(data, "unlabeled", None) is not None
    if semi is not None and not (data.keeps_few_labels or elsewhere):
        return ("@train.semi@needs unlabelled examples: set data.labels_per_class (the rest of the training split "
                "is then unlabelled) or data.unlabeled (a folder or source of them)")
    if elsewhere and semi is None:
        return "@data.unlabeled@is what train.semi learns from; set train.semi (e.g. {method: fixmatch}) or remove data.unlabeled"
    return None
