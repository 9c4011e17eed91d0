"""ROC and precision-recall curves of a classifier, one-vs-rest per class (scikit-learn's metrics).

For two classes only the positive class (index 1) is drawn; for more, each class against the rest,
with the macro average of the areas in the title. Up to ``MAX_CURVES`` classes are drawn (those with
the lowest ROC AUC first, the ones worth looking at); every class's areas are in the returned table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

from layerlab.analyze.plots import new_figure, save_png

MAX_CURVES = 10


def curve_areas(probs: np.ndarray, targets: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """``{"classes": {name: {"roc_auc", "average_precision", "support"}}, "macro_roc_auc",
    "macro_average_precision"}``; a class absent from ``targets`` (or present in all) has None."""
    rows: dict[str, dict[str, Any]] = {}
    for c in _drawn_classes(len(class_names)):
        truth = targets == c
        row: dict[str, Any] = {"roc_auc": None, "average_precision": None, "support": int(truth.sum())}
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, probs[:, c])
            row["roc_auc"] = float(auc(fpr, tpr))
            row["average_precision"] = float(average_precision_score(truth, probs[:, c]))
        rows[class_names[c]] = row
    defined = [r for r in rows.values() if r["roc_auc"] is not None]
    return {
        "classes": rows,
        "macro_roc_auc": float(np.mean([r["roc_auc"] for r in defined])) if defined else None,
        "macro_average_precision": float(np.mean([r["average_precision"] for r in defined])) if defined else None,
    }


def plot_roc_pr(probs: np.ndarray, targets: np.ndarray, class_names: list[str], path: Path) -> Path:
    """ROC (left) and precision-recall (right) curves; ``probs`` (N, C), ``targets`` (N,) class indices."""
    areas = curve_areas(probs, targets, class_names)
    drawn = [c for c in _drawn_classes(len(class_names)) if areas["classes"][class_names[c]]["roc_auc"] is not None]
    drawn.sort(key=lambda c: areas["classes"][class_names[c]]["roc_auc"])
    drawn = drawn[:MAX_CURVES]
    fig = new_figure(10.0, 4.4)
    roc_ax, pr_ax = fig.subplots(1, 2)
    for c in drawn:
        truth = targets == c
        row = areas["classes"][class_names[c]]
        fpr, tpr, _ = roc_curve(truth, probs[:, c])
        precision, recall, _ = precision_recall_curve(truth, probs[:, c])
        roc_ax.plot(fpr, tpr, linewidth=1.2, label=f"{class_names[c]} ({row['roc_auc']:.3f})")
        pr_ax.plot(recall, precision, linewidth=1.2, label=f"{class_names[c]} ({row['average_precision']:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1)
    macro = areas["macro_roc_auc"]
    roc_ax.set_title(f"ROC (AUC{'' if macro is None else f', macro {macro:.3f}'})")
    roc_ax.set_xlabel("false positive rate")
    roc_ax.set_ylabel("true positive rate")
    macro_ap = areas["macro_average_precision"]
    pr_ax.set_title(f"Precision-recall (AP{'' if macro_ap is None else f', macro {macro_ap:.3f}'})")
    pr_ax.set_xlabel("recall")
    pr_ax.set_ylabel("precision")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(fontsize="x-small", loc="lower right" if ax is roc_ax else "lower left")
    return save_png(fig, path)


def _drawn_classes(num_classes: int) -> list[int]:
    return [1] if num_classes == 2 else list(range(num_classes))
