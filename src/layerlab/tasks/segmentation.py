"""Semantic segmentation: a class for every pixel (binary segmentation is the two-class case).

The model gives logits (B, C, H, W) for targets (B, H, W) of class indices (0 is usually the background);
pixels whose target is ``ignore_index`` count nowhere. Loss: cross-entropy (optionally class-weighted),
soft Dice, or their sum. Metrics come from one confusion matrix over the split: mean IoU over the
classes present (in the target or the prediction), the mean IoU of the classes other than class 0
(``fg_miou``: the person's IoU on Penn-Fudan), mean Dice, and pixel accuracy; the report adds IoU and
Dice per class.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError
from layerlab.models.inference import predict_outputs
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import SegmentationConfig

SegmentationLoss = Literal["cross_entropy", "dice", "cross_entropy+dice"]
METRICS = ("loss", "miou", "fg_miou", "dice", "pixel_accuracy")


@TASKS.register("segmentation")
class SegmentationTask(Task):
    name = "segmentation"
    target = TargetSpec("class", modalities=("image",), on_pixels=True,
                        needs="images with a class per pixel (data.name: scenes, pennfudan, mask-folder)")
    monitor = ("val_miou", "max")

    def __init__(self, class_names: list[str], *, loss: SegmentationLoss = "cross_entropy",
                 class_weights: list[float] | None = None, ignore_index: int = 255):
        if class_weights is not None and len(class_weights) != len(class_names):
            raise LayerLabError(f"task.class_weights: {len(class_weights)} weights for {len(class_names)} classes "
                                f"({', '.join(class_names)})")
        self.class_names, self.loss_name = list(class_names), loss
        self.class_weights, self.ignore_index = class_weights, int(ignore_index)

    @classmethod
    def from_config(cls, cfg: SegmentationConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> SegmentationTask:
        if not class_names:
            raise LayerLabError("task.name is 'segmentation' but the data has no classes; it needs a class per pixel")
        if train_targets.numel() and train_targets.ndim != 3:
            raise LayerLabError(f"segmentation's targets are class maps (N, H, W); the data gives "
                                f"{tuple(train_targets.shape)} (use task.name=classification for a class per image)")
        loss = "cross_entropy" if cfg.loss == "auto" else cfg.loss
        return cls(class_names, loss=loss, class_weights=cfg.class_weights, ignore_index=cfg.ignore_index)

    def num_outputs(self) -> int:
        return len(self.class_names)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": self.loss_name, "class_weights": self.class_weights,
                "ignore_index": self.ignore_index}

    def metric_names(self) -> list[str]:
        return list(METRICS)

    # ------------------------------------------------------------------------------------ every step
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        logits = _checked(output, target).float()
        total = logits.new_zeros(())
        if self.loss_name in ("cross_entropy", "cross_entropy+dice"):
            weight = None if self.class_weights is None else torch.tensor(self.class_weights, device=logits.device)
            total = total + F.cross_entropy(logits, target, weight=weight, ignore_index=self.ignore_index)
        if self.loss_name in ("dice", "cross_entropy+dice"):
            total = total + soft_dice_loss(logits, target, ignore_index=self.ignore_index)
        return total

    # ----------------------------------------------------------------------------- a whole split
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """Metrics in batches (one confusion matrix), so a split's (N, C, H, W) logits are never held at once."""
        n = len(split.y)
        confusion = torch.zeros(self.num_outputs(), self.num_outputs(), dtype=torch.int64)
        loss_sum = 0.0
        for start in range(0, n, batch_size):
            x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
            logits = predict_outputs(model, x, batch_size=batch_size, precision=precision)
            loss_sum += float(self.loss(logits, y)) * len(y)
            confusion += self.confusion(logits, y)
        metrics = {"loss": loss_sum / max(n, 1), **confusion_metrics(confusion)}
        return metrics, (self._report(metrics, confusion) if report else {})

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        return {"loss": float(self.loss(output, target)), **confusion_metrics(self.confusion(output, target))}

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        return self._report(self.metrics(output, target), self.confusion(output, target))

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """Per example: the class map (H, W) as nested lists and the fraction of pixels of each class."""
        maps = output.float().argmax(1)
        rows = []
        for class_map in maps:
            counts = torch.bincount(class_map.flatten(), minlength=self.num_outputs()).tolist()
            total = max(class_map.numel(), 1)
            rows.append({"fractions": {name: c / total for name, c in zip(self.class_names, counts)},
                         "mask": class_map.tolist()})
        return rows

    def confusion(self, output: Tensor, target: Tensor) -> Tensor:
        """(C, C) int64 pixel counts, row the true class, column the predicted one; ignored pixels left out."""
        predicted = _checked(output, target).argmax(1).flatten()
        truth = target.flatten()
        keep = truth != self.ignore_index
        return pixel_confusion(truth[keep], predicted[keep], self.num_outputs())

    def _report(self, metrics: dict[str, float], confusion: Tensor) -> dict[str, Any]:
        iou, dice = per_class_scores(confusion)
        return {**metrics, "pixels": int(confusion.sum()),
                "per_class": {name: {"iou": i, "dice": d, "pixels": int(confusion[c].sum())}
                              for c, (name, i, d) in enumerate(zip(self.class_names, iou.tolist(), dice.tolist()))}}


def _checked(output: Tensor, target: Tensor) -> Tensor:
    if output.ndim != 4 or target.ndim != 3 or output.shape[-2:] != target.shape[-2:]:
        raise LayerLabError(f"segmentation needs logits (B, C, H, W) for targets (B, H, W); got the model's "
                            f"{tuple(output.shape)} for targets {tuple(target.shape)}")
    return output


def soft_dice_loss(logits: Tensor, target: Tensor, *, ignore_index: int, eps: float = 1.0) -> Tensor:
    """1 - the mean over classes of the soft Dice between the softmax and the one-hot target."""
    keep = (target != ignore_index).unsqueeze(1).float()  # (B, 1, H, W)
    probs = logits.softmax(1) * keep
    onehot = F.one_hot(target.clamp(0, logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2).float() * keep
    inter = (probs * onehot).sum((0, 2, 3))
    sizes = probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    return 1 - ((2 * inter + eps) / (sizes + eps)).mean()


def pixel_confusion(truth: Tensor, predicted: Tensor, classes: int) -> Tensor:
    """(C, C) int64 counts of (true, predicted) class pairs over the pixels given (any shape, the same for both)."""
    pairs = truth.flatten() * classes + predicted.flatten()
    return torch.bincount(pairs, minlength=classes * classes).reshape(classes, classes).cpu()


def per_class_scores(confusion: Tensor) -> tuple[Tensor, Tensor]:
    """IoU and Dice of each class (C,) float64; NaN for a class in neither the target nor the prediction."""
    c = confusion.double()
    tp = c.diagonal()
    union = c.sum(0) + c.sum(1) - tp
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(union > 0, tp / union.clamp(min=1), nan)
    dice = torch.where(union > 0, 2 * tp / (union + tp).clamp(min=1), nan)
    return iou, dice


def confusion_metrics(confusion: Tensor) -> dict[str, float]:
    """``miou`` (over the classes present), ``fg_miou`` (the same without class 0), ``dice`` and ``pixel_accuracy``."""
    iou, dice = per_class_scores(confusion)
    total = int(confusion.sum())
    return {
        "miou": float(iou.nanmean()),
        "fg_miou": float(iou[1:].nanmean()),
        "dice": float(dice.nanmean()),
        "pixel_accuracy": float(confusion.diagonal().sum()) / total if total else float("nan"),
    }
