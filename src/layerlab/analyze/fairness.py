"""Fairness audit: how a classifier's quality differs between groups of examples.

``group_metrics`` splits the examples by a group label (a sensitive attribute such as age band or
site, or any slice worth checking) and reports, for each group, the quality measures of
``layerlab.tasks.classify`` and, for a binary decision, the rates the usual fairness criteria
compare. Everything comes from one ``(G, C, C)`` stack of confusion matrices built with a single
``bincount``; the only Python loop is over the groups.

The parity measures follow fairlearn's definitions (``fairlearn.metrics``, with the default
``method="between_groups"``): a difference is the largest minus the smallest value over the groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from layerlab.analyze.calibration import expected_calibration_error
from layerlab.errors import LayerLabError
from layerlab.tasks.classify import per_class_stats


def group_metrics(
    preds: Tensor,
    targets: Tensor,
    groups: Sequence[str] | Tensor,
    *,
    probs: Tensor | None = None,
    positive: int | None = None,
    bins: int = 15,
) -> dict[str, Any]:
    """Per-group quality and the gaps between groups, as a JSON-able dict.

    ``preds`` and ``targets`` are ``(N,)`` class indices, ``groups`` one label per example (strings,
    or a 1-D tensor of ids; labels are compared and reported as strings, sorted). ``probs`` ``(N, C)``,
    when given, adds each group's expected calibration error (of the most probable class, over
    ``bins`` confidence bins; see ``layerlab.analyze.calibration``).

    Returns ``{"groups": {name: row}, "overall": {"n", "accuracy"}, "worst_group": {"name",
    "accuracy"}}``, where each row holds ``n``, ``accuracy``, ``error_rate``, ``macro_f1`` (averaged
    over the classes present in that group's targets or predictions, as the classification task's
    metric is), ``gap_to_best`` (the best group's accuracy minus this one's) and, with ``probs``,
    ``ece``. The worst group is the one with the lowest accuracy (the first in name order on a tie).

    Binary decisions: when the task has two classes (``probs`` has two columns or, without ``probs``,
    every prediction and target is 0 or 1), or when ``positive`` names the class that counts as a
    positive decision (one class against the rest), each row also holds ``selection_rate`` P(ŷ=1),
    ``true_positive_rate`` P(ŷ=1 | y=1) and ``false_positive_rate`` P(ŷ=1 | y=0), and the result
    holds ``positive`` and, as in fairlearn:

    - ``demographic_parity_difference``: max − min selection rate over the groups;
    - ``true_positive_rate_difference`` and ``false_positive_rate_difference``: max − min of each rate;
    - ``equalized_odds_difference``: the larger of those two differences.

    A group with no positive targets has no true positive rate (None), and one with no negative
    targets no false positive rate (None); such a group is left out of that rate's difference. A
    difference needs the rate in at least two groups, else it is None and left out of the equalised
    odds difference, which is None when neither difference is defined.

    Raises LayerLabError when the lengths differ, the labels are not non-negative integers, there
    are fewer than 2 groups, a label is not a column of ``probs``, or ``positive`` is not a class.
    """
    preds, targets = _checked_labels(preds, targets)
    codes, names = _group_codes(groups, len(preds))
    num_classes = _num_classes(preds, targets, probs)
    positive = _positive_class(positive, num_classes)
    # (G, C, C): one confusion matrix per group, row = true class, column = predicted class
    size = len(names) * num_classes * num_classes
    flat = (codes * num_classes + targets) * num_classes + preds
    matrices = torch.bincount(flat, minlength=size).reshape(len(names), num_classes, num_classes)
    rows = _group_rows(matrices, names, codes, targets, probs=probs, positive=positive, bins=bins)
    worst = min(rows, key=lambda name: rows[name]["accuracy"])
    correct = int(matrices.diagonal(dim1=1, dim2=2).sum())
    result: dict[str, Any] = {
        "groups": rows,
        "overall": {"n": len(preds), "accuracy": correct / len(preds)},
        "worst_group": {"name": worst, "accuracy": rows[worst]["accuracy"]},
    }
    if positive is not None:
        result["positive"] = int(positive)
        result.update(_parity(rows))
    return result


def _positive_class(positive: int | None, num_classes: int) -> int | None:
    """The class that counts as the positive decision: ``positive``, or class 1 of a binary task."""
    if positive is None and num_classes == 2:
        return 1
    if positive is not None and (isinstance(positive, bool) or not 0 <= positive < num_classes):
        raise LayerLabError(f"positive={positive!r} is not one of the classes 0..{num_classes - 1}")
    return positive


# ------------------------------------------------------------------------------------ per group
def _group_rows(matrices: Tensor, names: list[str], codes: Tensor, targets: Tensor, *, probs: Tensor | None,
                positive: int | None, bins: int) -> dict[str, dict[str, Any]]:
    """One row per group: its quality, its ECE (with ``probs``), its rates (with ``positive``), its gap to
    the best group's accuracy."""
    rows: dict[str, dict[str, Any]] = {}
    for g, name in enumerate(names):
        rows[name] = row = _quality(matrices[g])
        if probs is not None:
            members = codes == g
            row["ece"] = expected_calibration_error(probs[members.to(probs.device)], targets[members], bins=bins)
        if positive is not None:
            row.update(_rates(matrices[g], positive))
    best = max(row["accuracy"] for row in rows.values())
    for row in rows.values():
        row["gap_to_best"] = best - row["accuracy"]
    return rows


def _quality(matrix: Tensor) -> dict[str, Any]:
    """``n``, ``accuracy``, ``error_rate`` and ``macro_f1`` of one group's ``(C, C)`` confusion matrix."""
    n, correct = int(matrix.sum()), int(matrix.diagonal().sum())
    stats = per_class_stats(matrix)
    return {"n": n, "accuracy": correct / n, "error_rate": (n - correct) / n,
            "macro_f1": stats["f1"][stats["seen"]].mean().item()}


def _rates(matrix: Tensor, positive: int) -> dict[str, float | None]:
    """Selection, true positive and false positive rate of ``positive`` against the other classes."""
    n = int(matrix.sum())
    selected = int(matrix[:, positive].sum())  # predicted positive
    true_positives = int(matrix[positive, positive])
    actual_positives = int(matrix[positive].sum())
    actual_negatives = n - actual_positives
    return {
        "selection_rate": selected / n,
        "true_positive_rate": true_positives / actual_positives if actual_positives else None,
        "false_positive_rate": (selected - true_positives) / actual_negatives if actual_negatives else None,
    }


def _parity(rows: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    selection = [row["selection_rate"] for row in rows.values()]
    tpr = _spread([row["true_positive_rate"] for row in rows.values()])
    fpr = _spread([row["false_positive_rate"] for row in rows.values()])
    defined = [d for d in (tpr, fpr) if d is not None]
    return {
        "demographic_parity_difference": max(selection) - min(selection),
        "true_positive_rate_difference": tpr,
        "false_positive_rate_difference": fpr,
        "equalized_odds_difference": max(defined) if defined else None,
    }


def _spread(values: list[float | None]) -> float | None:
    """max − min of the values that are defined; None when fewer than two are."""
    known = [v for v in values if v is not None]
    return max(known) - min(known) if len(known) >= 2 else None


# ------------------------------------------------------------------------------------- checking
def _checked_labels(preds: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Predictions and targets as int64 CPU tensors, after checking their shapes and values."""
    if preds.ndim != 1 or targets.ndim != 1 or len(preds) != len(targets):
        raise LayerLabError(f"preds and targets must be (N,) with one entry per example; got "
                            f"{tuple(preds.shape)} and {tuple(targets.shape)}")
    for name, labels in (("preds", preds), ("targets", targets)):
        if labels.is_floating_point() or labels.is_complex():
            raise LayerLabError(f"{name} must be integer class indices; got {labels.dtype}")
        if labels.numel() and labels.min() < 0:
            raise LayerLabError(f"{name} must be class indices 0, 1, ...; got {labels.min().item()}")
    return preds.detach().cpu().long(), targets.detach().cpu().long()


def _group_codes(groups: Sequence[str] | Tensor, n: int) -> tuple[Tensor, list[str]]:
    """``(N,)`` int64 group index of each example, and the group names in sorted order."""
    if isinstance(groups, Tensor):
        if groups.ndim != 1:
            raise LayerLabError(f"groups must hold one label per example; got a tensor of shape {tuple(groups.shape)}")
        values, codes = torch.unique(groups.detach().cpu(), return_inverse=True)
        names = [str(v) for v in values.tolist()]
    else:
        values, codes = np.unique(np.array([str(g) for g in groups]), return_inverse=True)
        names, codes = values.tolist(), torch.from_numpy(codes.reshape(-1).astype(np.int64))
    if len(codes) != n:
        raise LayerLabError(f"there are {n} predictions and targets but {len(codes)} group labels; "
                            "give one group label per example")
    if len(names) < 2:
        found = f"all {n} examples are in group '{names[0]}'" if names else "there are no examples"
        raise LayerLabError(f"comparing groups needs at least 2 groups; {found}")
    return codes.long(), names


def _num_classes(preds: Tensor, targets: Tensor, probs: Tensor | None) -> int:
    """The number of classes: ``probs``' columns, else the largest label + 1 (at least 2)."""
    largest = max(int(preds.max()), int(targets.max()))
    if probs is None:
        return max(2, largest + 1)
    if probs.ndim != 2 or len(probs) != len(preds):
        raise LayerLabError(f"probs must be (N, C) with one row per example; got {tuple(probs.shape)} "
                            f"for {len(preds)} examples")
    if largest >= probs.shape[1]:
        raise LayerLabError(f"probs has {probs.shape[1]} columns (classes) but a prediction or target is {largest}")
    return probs.shape[1]
