"""The bias audit of a trained run: how its quality differs between groups of examples.

    layerlab audit runs/fsdd-... --group 'file:^\\d+_([a-z]+)_'      # the speaker in FSDD file names
    layerlab audit runs/adult-... --group column:sex

Groups come from a rule (``layerlab.data.groups``): a table column, a regular expression on file
names, or a metadata file; without ``--group`` the recipe's ``data.groups`` is used. The data is
read again as the run read it, so the audited split is the run's own.

Classification: per group the accuracy, error rate, macro F1 and expected calibration error, each
group's gap to the best, the worst group; for a binary task (or with ``positive``) the selection,
true and false positive rates and the demographic parity and equalised odds differences
(``layerlab.analyze.fairness``). Regression: per group the MAE, RMSE and the gap to the best MAE.
Written to ``RUN/audit/<name>.json`` and ``.png``; the report shows every audit of the run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.analyze.plots import _figure, _save
from layerlab.errors import UsageError

AUDIT_DIR = "audit"


def audit(run_dir: str | Path, *, group: str | None = None, split: str = "test", positive: int | None = None,
          device: str = "auto") -> dict[str, Any]:
    """Audit a run (see the module docstring); returns the JSON-able result, also written to
    ``RUN/audit/<rule>.json`` with its plot. Raises UsageError without a group rule, DataError for a
    rule that does not fit the data, LayerLabError for fewer than two groups."""
    from layerlab.api import _pick_split, load_run
    from layerlab.data import load_data
    from layerlab.models.inference import predict_outputs

    loaded = load_run(run_dir, device=device)
    rule = group or loaded.recipe.data.groups
    if not rule:
        raise UsageError("audit needs --group (column:NAME, file:REGEX or meta:PATH), or data.groups in the recipe")
    data_cfg = loaded.recipe.data.model_copy(update={"groups": rule, "group_balance": False})
    dataset = load_data(data_cfg, task=loaded.recipe.task.name, seed=loaded.recipe.train.seed,
                        preprocessor=loaded.preprocessor)
    chosen = _pick_split(dataset, split)
    groups = _split_groups(dataset, split)
    if len(chosen) == 0:
        raise UsageError(f"the {split} split is empty; nothing to audit")
    outputs = predict_outputs(loaded.model, chosen.x.to(loaded.device),
                              batch_size=loaded.recipe.train.eval_batch_size).cpu()
    if loaded.task.name == "classification":
        result = audit_classification(outputs, chosen.y.cpu(), groups, positive=positive,
                                      class_names=loaded.info.class_names)
    elif loaded.task.name == "regression":
        result = audit_regression(outputs, chosen.y.cpu(), groups)
    else:
        raise UsageError(f"audit compares classification or regression quality; this run's task is {loaded.task.name}")
    result = {"run": str(loaded.run.path), "rule": rule, "split": split, "task": loaded.task.name, **result}
    name = _file_name(rule)
    loaded.run.write_json(loaded.run.path / AUDIT_DIR / f"{name}.json", result)
    result["plot"] = str(plot_audit(result, loaded.run.path / AUDIT_DIR / f"{name}.png"))
    return result


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
        from layerlab.errors import LayerLabError

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
    fig = _figure(max(5.0, 0.45 * len(names) + 2.5), 3.8)
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
    return _save(fig, path)


def read_audits(run_dir: Path) -> list[dict[str, Any]]:
    """Every audit written into a run directory, as read from its JSON files."""
    import json

    folder = Path(run_dir) / AUDIT_DIR
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _split_groups(dataset: Any, split: str) -> np.ndarray:
    parts = {"train": [dataset.train], "val": [dataset.val], "test": [dataset.test],
             "all": [dataset.train, dataset.val, dataset.test]}[split]
    return np.concatenate([s.groups for s in parts if len(s)])


def _file_name(rule: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rule).strip("_")[:60] or "groups"
