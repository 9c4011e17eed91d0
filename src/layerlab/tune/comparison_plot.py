"""Overlaid learning curves of several runs, as one PNG: training loss and the monitored validation
metric, against epochs and against training time (the fair axis when the runs differ in speed)."""

from __future__ import annotations

from itertools import accumulate
from pathlib import Path

from layerlab.analyze.plots import new_figure, save_png


def plot_curves(histories: dict[str, list[dict[str, float]]], monitors: dict[str, str | None], path: Path) -> Path | None:
    """Panels: train loss by epoch, validation metric by epoch, validation metric by seconds of training.

    ``histories`` maps a run's name to its history rows; ``monitors`` to the metric it monitored
    (runs monitoring different metrics share a panel per metric). None when no run has a history.
    """
    if not any(histories.values()):
        return None
    metrics = list(dict.fromkeys(m for m in monitors.values() if m and m != "train_loss"))
    panels = 1 + 2 * len(metrics)
    fig = new_figure(4.2 * panels, 3.4)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for name, history in histories.items():
        if not history:
            continue
        epochs = [row["epoch"] for row in history]
        seconds = list(accumulate(row.get("seconds", 0.0) for row in history))
        line = axes[0].plot(epochs, [row.get("train_loss") for row in history], marker=".", label=name)[0]
        for i, metric in enumerate(metrics):
            if monitors.get(name) != metric and not any(metric in row for row in history):
                continue
            values = [row.get(metric) for row in history]
            axes[1 + 2 * i].plot(epochs, values, marker=".", color=line.get_color(), label=name)
            axes[2 + 2 * i].plot(seconds, values, marker=".", color=line.get_color(), label=name)
    axes[0].set(xlabel="epoch", ylabel="train loss", title="training loss")
    for i, metric in enumerate(metrics):
        axes[1 + 2 * i].set(xlabel="epoch", ylabel=metric, title=f"{metric} by epoch")
        axes[2 + 2 * i].set(xlabel="seconds of training", ylabel=metric, title=f"{metric} by time")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small", loc="best")
    return save_png(fig, path)
