"""Grids of example images with captions, and heat maps laid over images.

Model inputs are standardised, so each image is stretched to [0, 1] on its own for display; one
channel is drawn in grey, three as RGB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from layerlab.analyze.plots import new_figure, save_png


def displayable(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """One image ``(C, H, W)`` as ``(H, W)`` (one channel) or ``(H, W, 3)``, stretched to [0, 1]."""
    image = x.detach().float().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    if image.ndim == 3 and image.shape[0] == 1:
        return image[0]
    if image.ndim == 3:
        return np.moveaxis(image[:3], 0, -1)
    return image


def plot_image_grid(images: torch.Tensor, captions: Sequence[str], path: Path, *, columns: int = 8,
                    title: str = "", inches: float = 1.5) -> Path:
    """``images`` (N, C, H, W) in a grid, each with its caption above it."""
    n = len(images)
    columns = max(1, min(columns, n))
    rows = max(1, math.ceil(n / columns))
    fig = new_figure(inches * columns, (inches + 0.35) * rows + (0.3 if title else 0))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, image, caption in zip(axes, images, captions):
        shown = displayable(image)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
        ax.set_title(caption, fontsize=7)
    if title:
        fig.suptitle(title)
    return save_png(fig, path)


def plot_overlays(image: torch.Tensor, maps: dict[str, np.ndarray], path: Path, *, title: str = "") -> Path:
    """An image and, next to it, each attribution map (``(H, W)``) laid over it as a heat map."""
    fig = new_figure(2.6 * (1 + len(maps)), 2.9)
    axes = np.atleast_1d(fig.subplots(1, 1 + len(maps))).ravel()
    shown = displayable(image)
    grey = shown if shown.ndim == 2 else shown.mean(-1)
    axes[0].imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
    axes[0].set_title("input", fontsize=9)
    for ax, (name, heat) in zip(axes[1:], maps.items()):
        ax.imshow(grey, cmap="gray", interpolation="nearest")
        peak = float(np.abs(heat).max()) or 1.0
        ax.imshow(heat / peak, cmap="jet" if heat.min() >= 0 else "coolwarm", alpha=0.5,
                  vmin=0 if heat.min() >= 0 else -1, vmax=1, interpolation="bilinear")
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return save_png(fig, path)
