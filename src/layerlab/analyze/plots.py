"""Plots of a run, as PNG files: the training curves and the confusion matrix.

Figures are drawn with matplotlib's object API on an Agg canvas, never through pyplot: nothing global
changes (a user's notebook keeps its backend and its figures), no display is needed, and a figure is
freed as soon as it goes out of scope. Files are written atomically.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from layerlab.errors import LayerLabError
from layerlab.train.state_io import atomic_write

DPI = 120
PANEL_INCHES = (4.0, 3.0)  # (width, height) of one panel of plot_history
PANEL_COLUMNS = 3  # panels per row of plot_history
MARKERS_UP_TO = 30  # epochs; longer histories are drawn as plain lines
NOT_CURVES = {"epoch", "lr", "seconds", "examples_per_second", "partial", "step", "best_epoch"}
TITLES = {"loss": "loss", "accuracy": "accuracy", "macro_f1": "macro F1", "r2": "R²", "mse": "MSE",
          "rmse": "RMSE", "mae": "MAE", "lr": "learning rate"}
CONFUSION_ANNOTATE_UP_TO = 30  # classes; with more the cells are too small for numbers
NAME_CHARS = 24  # longer class names are shortened on the axes


# -------------------------------------------------------------------------------------- history
def plot_history(history: list[dict[str, float]], path: Path, *, best_epoch: int | None = None) -> Path:
    """Training curves of a run, one panel per quantity, written as one PNG to ``path``.

    ``history`` has one row per epoch (``{"epoch": 1, "train_loss": .., "val_loss": .., "lr": ..}``).
    Panels: the loss (train and validation), then each other metric (``val_<m>`` with ``train_<m>``
    when both exist), then the learning rate. ``best_epoch`` is marked on every panel. Panels are
    laid out ``PANEL_COLUMNS`` to a row, each ``PANEL_INCHES`` at ``DPI``. Returns ``path``; raises
    LayerLabError for an empty history.
    """
    if not history:
        raise LayerLabError("there is no epoch in the history to plot")
    epochs = [float(row.get("epoch", i + 1)) for i, row in enumerate(history)]
    panels = _history_panels(history)
    columns = min(PANEL_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = new_figure(PANEL_INCHES[0] * columns, PANEL_INCHES[1] * rows)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    marker = "o" if len(history) <= MARKERS_UP_TO else None
    for ax, (name, keys) in zip(axes, panels):
        for key in keys:
            values = [_number(row.get(key)) for row in history]
            label = "validation" if key.startswith("val_") else "train" if key.startswith("train_") else None
            ax.plot(epochs, values, marker=marker, markersize=3, label=label)
        if name in ("loss", "lr"):
            _log_scale_if_wide(ax, [_number(row.get(k)) for row in history for k in keys])
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle="--", linewidth=1, label=f"best epoch ({best_epoch})")
        ax.set_title(_title(name))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if max(epochs) - min(epochs) < 2:  # one or two epochs: keep whole-number ticks around them
            ax.set_xlim(min(epochs) - 1, max(epochs) + 1)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize="small")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return save_png(fig, path)


def _history_panels(history: list[dict[str, float]]) -> list[tuple[str, list[str]]]:
    """``(quantity, keys)`` per panel: the loss first, the learning rate last, metrics in between."""
    panels: dict[str, list[str]] = {"loss": []}
    for row in history:
        for key, value in row.items():
            if key in NOT_CURVES or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            name = key.split("_", 1)[1] if key.startswith(("train_", "val_")) else key
            keys = panels.setdefault(name, [])
            if key not in keys:
                keys.append(key)
    for keys in panels.values():
        keys.sort(key=lambda k: not k.startswith("train_"))  # train first, then validation
    if any("lr" in row for row in history):
        panels["lr"] = ["lr"]
    return [(name, keys) for name, keys in panels.items() if keys]


def _title(name: str) -> str:
    top = re.fullmatch(r"top(\d+)_accuracy", name)
    return f"top-{top[1]} accuracy" if top else TITLES.get(name, name.replace("_", " "))


def _log_scale_if_wide(ax, values: list[float]) -> None:
    """A log y-axis when positive values span more than two decades (a loss falling fast, an lr decay)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
        ax.set_yscale("log")


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


# ------------------------------------------------------------------------------------ confusion
def plot_confusion(matrix: list[list[int]], class_names: list[str], path: Path, *, normalize: bool = True) -> Path:
    """The confusion matrix as a heat map written to ``path`` (rows = true class, columns = predicted).

    With ``normalize`` each row is divided by its total (the share of a true class predicted as each
    class; a row with no examples stays 0), else the cells hold counts. Cells carry their numbers up
    to ``CONFUSION_ANNOTATE_UP_TO`` classes; long class names are shortened and the column labels
    rotated. The figure grows with the number of classes. Returns ``path``; raises LayerLabError when
    the matrix is not square with one row per class name.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    n = len(class_names)
    if counts.ndim != 2 or counts.shape != (n, n) or n == 0:
        raise LayerLabError(f"a confusion matrix for {n} class names must be {n} x {n}; got shape {counts.shape}")
    totals = counts.sum(axis=1, keepdims=True)
    values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0) if normalize else counts
    vmax = 1.0 if normalize else max(float(counts.max()), 1.0)

    side = min(16.0, max(4.5, 2.5 + 0.5 * n))
    fig = new_figure(side + 1.2, side)  # the extra width holds the colour bar
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class" if normalize else "examples")
    names = [_shorten(str(name)) for name in class_names]
    fontsize = max(6.0, min(10.0, 140 / n))
    ax.set_xticks(range(n), names, rotation=45, ha="right", rotation_mode="anchor", fontsize=fontsize)
    ax.set_yticks(range(n), names, fontsize=fontsize)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = counts.sum()
    accuracy = f", accuracy {np.trace(counts) / total:.1%}" if total else ""
    ax.set_title(f"Confusion matrix ({'share of each true class' if normalize else 'counts'}{accuracy})")
    if n <= CONFUSION_ANNOTATE_UP_TO:
        for (i, j), value in np.ndenumerate(values):
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            ax.text(j, i, "0" if value == 0 else text, ha="center", va="center", fontsize=fontsize * 0.85,
                    color="white" if value > 0.5 * vmax else "black")
    return save_png(fig, path)


def _shorten(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


# ---------------------------------------------------------------------------------------- shared
def new_figure(width: float, height: float) -> Figure:
    """A figure on its own Agg canvas, sized in inches at ``DPI``; the PNG is exactly that size."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    return atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=DPI))
