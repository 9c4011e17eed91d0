"""Quality per group of examples, from a model's outputs and their targets, and its plot: what
``layerlab audit`` computes for a run (``layerlab.analyze.audit``) and the report draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.analyze.plots import new_figure, save_png
from layerlab.errors import LayerLabError


def audit_classification(outputs: torch.Tensor, targets: torch.Tensor, groups: np.ndarray, *,
                         positive: int | None = None, class_names: list[str] | None = None) -> dict[str, Any]:
    """``fairness.group_metrics`` of logits ``(N, C)`` against class indices, plus the metric the
    rows are compared on (``"accuracy"``) and, for binary decisions, each group's false negative rate."""
    from layerlab.analyze.fairness import group_metrics

    probs = outputs.float().softmax(dim=1)
    result = group_metrics(probs.argmax(1), targets.long(), list(groups), probs=probs, positive=positive)
    for row in result["groups"].values():
        if row.get("true_positive_rate") is not None:
            row["false_negative_rate"] = 1 - row["true_positive_rate"]
    if class_names is not None and "positive" in result:
        result["positive_class"] = class_names[result["positive"]]
    result["compared_on"] = "accuracy"
    return result


def audit_regression(outputs: torch.Tensor, targets: torch.Tensor, groups: np.ndarray) -> dict[str, Any]:
    """Per group ``n``, ``mae``, ``rmse`` and ``gap_to_best`` (this group's MAE minus the lowest),
    the worst group (highest MAE) and the overall MAE."""
    pred = outputs.float().reshape(len(outputs), -1).numpy()
    true = targets.float().reshape(len(targets), -1).numpy()
    error = pred - true
    names = sorted(set(groups.tolist()))
    if len(names) < 2:
        raise LayerLabError(f"comparing groups needs at least 2 groups; found {len(names)}")
    rows: dict[str, dict[str, Any]] = {}
    for name in names:
        members = groups == name
        e = error[members]
        rows[name] = {"n": int(members.sum()), "mae": float(np.abs(e).mean()),
                      "rmse": float(np.sqrt(np.square(e).mean()))}
    best = min(row["mae"] for row in rows.values())
    for row in rows.values():
        row["gap_to_best"] = row["mae"] - best
    worst = max(rows, key=lambda n: rows[n]["mae"])
    return {"groups": rows, "overall": {"n": len(error), "mae": float(np.abs(error).mean())},
            "worst_group": {"name": worst, "mae": rows[worst]["mae"]}, "compared_on": "mae"}


def plot_audit(result: dict[str, Any], path: Path) -> Path:
    """A bar per group of the compared metric, the overall value as a line, the worst group in red."""
    metric = result["compared_on"]
    names = list(result["groups"])
    values = [result["groups"][n][metric] for n in names]
    worst = result["worst_group"]["name"]
    fig = new_figure(max(5.0, 0.45 * len(names) + 2.5), 3.8)
    ax = fig.add_subplot()
    colours = ["tab:red" if n == worst else "tab:blue" for n in names]
    ax.bar(range(len(names)), values, color=colours)
    ax.axhline(result["overall"][metric], color="0.3", linestyle="--", linewidth=1, label=f"overall {metric}")
    ax.set_xticks(range(len(names)), [n[:18] for n in names], rotation=45 if len(names) > 6 else 0, ha="right"
                  if len(names) > 6 else "center", fontsize="small")
    ax.set_ylabel(metric)
    low = min(values)
    if metric == "accuracy":
        ax.set_ylim(max(0.0, low - 0.1), 1.0)
    extra = ""
    if result.get("demographic_parity_difference") is not None:
        extra = f"; DP diff {result['demographic_parity_difference']:.3f}"
        if result.get("equalized_odds_difference") is not None:
            extra += f", EO diff {result['equalized_odds_difference']:.3f}"
    ax.set_title(f"{metric} per group ({result['rule']}, {result['split']}){extra}", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return save_png(fig, path)
