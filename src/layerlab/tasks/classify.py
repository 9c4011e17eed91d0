"""Classification: one label per example from a fixed set of classes.

Loss: cross-entropy with optional label smoothing, per-class weights and R-Drop. Metrics: accuracy, top-k
accuracy, macro F1, all from one confusion matrix built with ``bincount``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError, RecipeError
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import ClassificationConfig

log = logging.getLogger(__name__)

TOP_PREDICTIONS = 3  # classes listed under "top" by predict


@TASKS.register("classification")
class ClassificationTask(Task):
    name = "classification"
    target = TargetSpec("class", stratify=True)
    monitor = ("val_accuracy", "max")

    num_classes: int
    class_names: list[str]
    label_smoothing: float
    class_weights: Tensor | None  # (C,) float32 on the CPU; None = all classes weigh the same
    top_k: int
    rdrop: float  # R-Drop's weight of the two dropout passes' symmetric KL divergence; 0 = off

    def __init__(
        self,
        num_classes: int,
        class_names: list[str] | None = None,
        *,
        label_smoothing: float = 0.0,
        class_weights: Tensor | list[float] | None = None,
        top_k: int = 5,
        rdrop: float = 0.0,
    ):
        if num_classes < 2:
            raise LayerLabError(f"classification needs at least 2 classes; the data has {num_classes}")
        names = [str(n) for n in class_names] if class_names is not None else [str(i) for i in range(num_classes)]
        if len(names) != num_classes:
            raise LayerLabError(f"the data has {num_classes} classes but {len(names)} class names")
        if len(set(names)) != len(names):
            raise LayerLabError(f"class names must be unique; got {names}")
        self.num_classes, self.class_names = num_classes, names
        self.label_smoothing, self.top_k = float(label_smoothing), int(top_k)
        if rdrop < 0:
            raise LayerLabError(f"task.rdrop is the weight of a divergence and cannot be negative; got {rdrop}")
        self.rdrop = float(rdrop)
        self.class_weights = None if class_weights is None else _checked_weights(class_weights, num_classes)
        self._weights_on: dict[torch.device, Tensor] = {}  # class_weights copied to each device used

    @classmethod
    def from_config(
        cls, cfg: ClassificationConfig, *, num_classes: int | None, class_names: list[str] | None, train_targets: Tensor
    ) -> ClassificationTask:
        if num_classes is None:
            raise LayerLabError(
                "task.name is 'classification' but the data has no classes (its targets are numbers); "
                "use task.name=regression, or a data set with class labels"
            )
        if train_targets.numel():
            _check_targets(train_targets, num_classes)
        weights: Tensor | list[float] | None = None
        if cfg.class_weights == "balanced":
            if not train_targets.numel():
                raise LayerLabError("task.class_weights: 'balanced' needs the training targets, and none were given")
            weights = balanced_weights(train_targets, num_classes)
        elif isinstance(cfg.class_weights, list):
            weights = cfg.class_weights
        return cls(num_classes, class_names, label_smoothing=cfg.label_smoothing, class_weights=weights,
                   top_k=cfg.top_k, rdrop=cfg.rdrop)

    def num_outputs(self) -> int:
        return self.num_classes

    def config_dict(self) -> dict[str, Any]:
        weights = "none" if self.class_weights is None else self.class_weights.tolist()
        return {"name": self.name, "loss": "cross_entropy", "label_smoothing": self.label_smoothing,
                "class_weights": weights, "top_k": self.top_k,
                "rdrop": self.rdrop}

    # ------------------------------------------------------------------------------------ every step
    forward_on_inputs = True  # forward only calls the model on (copies of) x: a cached head may stand in

    def forward(self, model: Callable[[Tensor], Tensor], x: Tensor, y: Tensor) -> Tensor:
        """``model(x)``; with R-Drop, the batch twice in one pass (``(2B, C)``: the two copies of each
        example get independent dropout masks)."""
        if self.rdrop:
            return model(torch.cat([x, x]))
        return model(x)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy of logits ``(B, C)`` against class indices ``(B,)``.

        With class weights the mean is weighted (divided by the summed weights of the targets), as
        ``torch.nn.functional.cross_entropy`` does. With R-Drop and ``(2B, C)`` logits (``forward`` in
        training): the mean of the two passes' cross-entropies plus ``rdrop`` times half the sum of
        KL(p1 || p2) and KL(p2 || p1), averaged over the batch. That is the paper's loss halved, so that
        ``rdrop`` means its alpha and the cross-entropy keeps its usual scale.
        """
        output, target = output.float(), target.long()
        if self.rdrop and len(output) == 2 * len(target):
            ce = self._cross_entropy(output, torch.cat([target, target]))
            log_p, log_q = F.log_softmax(output, dim=1).chunk(2)
            kl = 0.5 * (F.kl_div(log_q, log_p, log_target=True, reduction="batchmean")
                        + F.kl_div(log_p, log_q, log_target=True, reduction="batchmean"))
            return ce + 0.5 * self.rdrop * kl
        return self._cross_entropy(output, target)

    def _cross_entropy(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output, target, weight=self._weight_on(output.device), label_smoothing=self.label_smoothing)

    def _weight_on(self, device: torch.device) -> Tensor | None:
        if self.class_weights is None:
            return None
        weight = self._weights_on.get(device)
        if weight is None:
            weight = self._weights_on[device] = self.class_weights.to(device)
        return weight

    # ----------------------------------------------------------------------------- a whole split
    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        """``loss``, ``accuracy``, ``top{k}_accuracy`` (only when there are more than k classes) and
        ``macro_f1`` (averaged over the classes present in the targets or the predictions, as
        scikit-learn's ``f1_score(average="macro")`` does)."""
        output, target = self._checked(output, target)
        pred = output.argmax(1)
        stats = per_class_stats(confusion_matrix(target, pred, self.num_classes))
        values = {"loss": self.loss(output, target), "accuracy": (pred == target).float().mean()}
        if self.num_classes > self.top_k:
            top = output.topk(self.top_k, dim=1).indices  # (N, k)
            values[f"top{self.top_k}_accuracy"] = (top == target[:, None]).any(1).float().mean()
        numbers = dict(zip(values, torch.stack(list(values.values())).tolist()))  # one transfer
        numbers["macro_f1"] = _macro(stats["f1"], stats["seen"])
        return numbers

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        """Per-class precision, recall, F1 and support keyed by class name, the confusion matrix
        (rows = true class, columns = predicted), the class names, accuracy and macro F1."""
        output, target = self._checked(output, target)
        pred = output.argmax(1)
        matrix = confusion_matrix(target, pred, self.num_classes)
        stats = per_class_stats(matrix)
        columns = {k: stats[k].tolist() for k in ("precision", "recall", "f1", "support")}
        per_class = {
            name: {"precision": columns["precision"][i], "recall": columns["recall"][i],
                   "f1": columns["f1"][i], "support": int(columns["support"][i])}
            for i, name in enumerate(self.class_names)
        }
        return {
            "class_names": list(self.class_names),
            "per_class": per_class,
            "confusion_matrix": matrix.tolist(),
            "accuracy": (pred == target).float().mean().item(),
            "macro_f1": _macro(stats["f1"], stats["seen"]),
        }

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """``{"label": name, "index": i, "probability": p, "top": [[name, p], ...]}`` per example,
        with the (up to 3) most probable classes under ``top``, most probable first."""
        if output.ndim != 2 or output.shape[1] != self.num_classes:
            raise LayerLabError(f"expected model outputs of shape (N, {self.num_classes}), got {tuple(output.shape)}")
        probs = output.float().softmax(dim=1)
        top_p, top_i = probs.topk(min(TOP_PREDICTIONS, self.num_classes), dim=1)
        names = self.class_names
        return [
            {"label": names[ids[0]], "index": ids[0], "probability": ps[0],
             "top": [[names[i], p] for i, p in zip(ids, ps)]}
            for ids, ps in zip(top_i.tolist(), top_p.tolist())
        ]

    def _checked(self, output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Outputs as float32 and targets as int64, after checking their shapes and the target range."""
        if output.ndim != 2 or output.shape[1] != self.num_classes or target.shape != output.shape[:1]:
            raise LayerLabError(f"expected outputs (N, {self.num_classes}) and targets (N,); got "
                                f"{tuple(output.shape)} and {tuple(target.shape)}")
        target = target.long()
        if target.numel() and ((target < 0) | (target >= self.num_classes)).any():
            raise LayerLabError(f"class targets must lie in 0..{self.num_classes - 1}; "
                                f"got {target.min().item()}..{target.max().item()}")
        return output.float(), target


# ------------------------------------------------------------------------------------------ helpers
def confusion_matrix(target: Tensor, pred: Tensor, num_classes: int) -> Tensor:
    """``(C, C)`` int64 counts; row = true class, column = predicted class."""
    flat = target.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_stats(matrix: Tensor) -> dict[str, Tensor]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined), and
    ``seen``: the classes that occur among the targets or the predictions. Computed on the CPU in
    float64 (the matrix is small; float32 would miscount above 2**24 examples, and MPS has no float64)."""
    matrix = matrix.cpu().double()
    tp = matrix.diagonal()
    support, predicted = matrix.sum(1), matrix.sum(0)
    return {
        "precision": tp / predicted.clamp(min=1),
        "recall": tp / support.clamp(min=1),
        "f1": 2 * tp / (support + predicted).clamp(min=1),  # = 2PR / (P + R)
        "support": support,
        "seen": (support + predicted) > 0,
    }


def _macro(values: Tensor, seen: Tensor) -> float:
    """The mean of ``values`` over the ``seen`` classes (NaN when none is)."""
    return values[seen].mean().item()


def balanced_weights(targets: Tensor, num_classes: int) -> Tensor:
    """Inverse class frequency, normalised to mean 1 over the classes present.

    A class absent from ``targets`` gets weight 1: it cannot be weighed, and an enormous weight would
    shrink every other class's share of the loss.
    """
    counts = torch.bincount(targets.long().flatten().cpu(), minlength=num_classes).double()
    present = counts > 0
    weights = torch.ones(num_classes, dtype=torch.float64)
    inverse = 1.0 / counts[present]
    weights[present] = inverse / inverse.mean()
    if not present.all():
        missing = present.logical_not().nonzero().flatten().tolist()
        log.warning("classes %s have no training examples; their class weight is 1", missing)
    return weights.float()


def _checked_weights(weights: Tensor | list[float], num_classes: int) -> Tensor:
    weights = torch.as_tensor(weights, dtype=torch.float32).flatten().cpu()
    if len(weights) != num_classes:
        raise RecipeError([f"task.class_weights: {len(weights)} weights given, but the data has {num_classes} "
                           "classes; give one weight per class, or 'balanced'"])
    if not torch.isfinite(weights).all() or (weights < 0).any() or not (weights > 0).any():
        raise RecipeError([f"task.class_weights: weights must be finite, non-negative and not all zero; "
                           f"got {weights.tolist()}"])
    return weights


def _check_targets(targets: Tensor, num_classes: int) -> None:
    if targets.is_floating_point() or targets.is_complex() or targets.ndim != 1:
        raise LayerLabError(f"classification needs one integer class index per example; the training "
                            f"targets are {targets.dtype} of shape {tuple(targets.shape)}")
    low, high = targets.min().item(), targets.max().item()
    if low < 0 or high >= num_classes:
        raise LayerLabError(f"class targets must lie in 0..{num_classes - 1}; the training targets span {low}..{high}")
