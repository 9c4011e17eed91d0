"""Plots of training diagnostics (``layerlab.train.diagnostics``): gradient flow and activations.

- ``plot_gradient_norms``: each layer's gradient norm over the optimiser steps (log scale), coloured
  from the input side (dark) to the output side (light);
- ``plot_gradient_flow``: the median gradient norm of each layer against its depth, for the first,
  middle and last third of training: vanishing gradients are a line falling towards the input;
- ``plot_flow_beside``: the median gradient norm by depth of several runs in one figure (a sigmoid MLP
  beside a ReLU one with batch norm);
- ``plot_activations``: dead-ReLU and saturation fractions of each activation layer over the steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps

from layerlab.analyze.plots import new_figure, save_png
from layerlab.errors import LayerLabError

TINY = 1e-12  # norms are drawn on a log scale; exact zeros are shown at this value
MAX_LEGEND = 12  # layers named in a legend


def _norm_matrix(rows: list[dict[str, Any]], layers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    if not rows or not layers:
        raise LayerLabError("there are no gradient norms to plot (the run recorded no diagnostics)")
    steps = np.array([float(r["step"]) for r in rows])
    norms = np.array([[float(r.get(layer, np.nan)) for layer in layers] for r in rows])  # (steps, layers)
    return steps, np.maximum(norms, TINY)


def plot_gradient_norms(rows: list[dict[str, Any]], layers: list[str], path: Path, *, title: str = "") -> Path:
    """Gradient norm per layer over the optimiser steps; ``rows`` from ``gradients.csv``."""
    steps, norms = _norm_matrix(rows, layers)
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    cmap = colormaps["viridis"]
    for j, layer in enumerate(layers):
        ax.plot(steps, norms[:, j], color=cmap(j / max(1, len(layers) - 1)), linewidth=1.2,
                label=layer if len(layers) <= MAX_LEGEND else None)
    ax.set_yscale("log")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("gradient L2 norm")
    ax.set_title(title or "Gradient norm per layer (dark: input side, light: output side)")
    ax.grid(alpha=0.3, which="both")
    if len(layers) <= MAX_LEGEND:
        ax.legend(fontsize="x-small", ncols=2)
    return save_png(fig, path)


def plot_gradient_flow(rows: list[dict[str, Any]], layers: list[str], path: Path, *, title: str = "") -> Path:
    """Median gradient norm of each layer (x: depth, input side first) in each third of training."""
    steps, norms = _norm_matrix(rows, layers)
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    depth = np.arange(len(layers))
    thirds = np.array_split(np.arange(len(steps)), 3)
    for part, label, colour in zip(thirds, ("first third", "middle third", "last third"),
                                   ("tab:blue", "tab:orange", "tab:green")):
        if len(part):
            ax.plot(depth, np.median(norms[part], axis=0), marker="o", markersize=3, color=colour,
                    label=f"{label} of training")
    ax.set_xticks(depth, [_short(layer) for layer in layers], rotation=60, ha="right", fontsize="x-small")
    _log_axes(ax, "layer (input side first)", "median gradient L2 norm", title or "Gradient flow: norm by depth")
    return save_png(fig, path)


def median_flow(rows: list[dict[str, Any]], layers: list[str]) -> np.ndarray:
    """The median gradient norm of each of ``layers`` over all recorded steps."""
    return np.median(_norm_matrix(rows, layers)[1], axis=0)


def plot_flow_beside(flows: dict[str, np.ndarray], path: Path, *, title: str = "") -> Path:
    """One line per run: its median gradient norm per weight layer (x: layer, 1 = input side)."""
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    for label, flow in flows.items():
        ax.plot(np.arange(1, len(flow) + 1), np.maximum(flow, TINY), marker="o", markersize=3, label=label)
    _log_axes(ax, "weight layer (1 = input side)", "median gradient L2 norm over training",
              title or "Gradient flow of this run beside others")
    return save_png(fig, path)


def _log_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")


def plot_activations(rows: list[dict[str, Any]], path: Path, *, title: str = "") -> Path:
    """Per activation layer over the steps: the dead fraction (ReLU-like) or the saturated one
    (sigmoid, tanh), and the share of zero outputs for ReLUs; ``rows`` from ``activations.csv``."""
    if not rows:
        raise LayerLabError("there are no activation statistics to plot (the model has no activation modules)")
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    kinds = {r["layer"]: r["kind"] for r in rows}
    fig = new_figure(10.0, 3.8)
    left, right = fig.subplots(1, 2)
    cmap = colormaps["viridis"]
    for j, layer in enumerate(layers):
        mine = [r for r in rows if r["layer"] == layer]
        steps = [float(r["step"]) for r in mine]
        colour = cmap(j / max(1, len(layers) - 1))
        label = f"{_short(layer)} ({kinds[layer]})" if len(layers) <= MAX_LEGEND else None
        if kinds[layer] in ("sigmoid", "tanh"):
            left.plot(steps, [float(r["saturated_fraction"]) for r in mine], color=colour, label=label)
            right.plot(steps, [float(r["std"]) for r in mine], color=colour, linestyle="--", label=label)
        else:
            left.plot(steps, [float(r["dead_fraction"]) for r in mine], color=colour, label=label)
            right.plot(steps, [float(r["zero_fraction"]) for r in mine], color=colour, label=label)
    left.set_title("dead (ReLU) / saturated (sigmoid, tanh)", fontsize=10)
    right.set_title("zero outputs (ReLU) / output std (dashed)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("optimiser step")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize="x-small")
    left.set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def _short(name: str, chars: int = 22) -> str:
    return name if len(name) <= chars else "…" + name[-(chars - 1):]
