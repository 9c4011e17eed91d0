"""Which metric a run watches (``train.monitor``): for the best epoch, early stopping and plateaus."""

from __future__ import annotations

import torch

from layerlab.errors import LayerLabError, did_you_mean
from layerlab.recipe import Recipe
from layerlab.tasks import Task
from layerlab.train.callbacks import metric_mode


def resolve_monitor(cfg: Recipe, task: Task, *, has_val: bool) -> tuple[str, str]:
    """The monitored metric and its mode ("min" or "max"). Raises LayerLabError for a train.monitor that
    is not a metric of this run, naming the close match and the known ones."""
    if cfg.train.monitor == "auto":
        metric, mode = task.monitor
        return (metric, mode) if has_val else ("train_loss", "min")
    metric = cfg.train.monitor
    known = ["train_loss"] + ([f"val_{k}" for k in metric_names(task)] if has_val else [])
    if metric not in known:
        raise LayerLabError(f"train.monitor: '{metric}' is not a metric of this run{did_you_mean(metric, known)} "
                            f"(known: {', '.join(known)})")
    return metric, metric_mode(metric)


def metric_names(task: Task) -> list[str]:
    """The names ``task.metrics`` returns: as the task names them (``metric_names``), else found on a tiny
    made-up batch."""
    if hasattr(task, "metric_names"):
        return list(task.metric_names())
    n = task.num_outputs()
    outputs = torch.zeros(2, n)
    targets = torch.zeros(2, dtype=torch.long) if task.name == "classification" else torch.zeros(2)
    return list(task.metrics(outputs, targets))
