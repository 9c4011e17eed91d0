"""``data.pretext``: labels made from the images themselves, so that a model learns from images nobody labelled.

``rotation`` (Gidaris et al. 2018, "Unsupervised representation learning by predicting image rotations"): each
image is turned by 0, 90, 180 or 270 degrees, one seeded draw per image, and its class is the turn. A model that
tells the four apart has learnt where the tops and bottoms of objects are, which is what a classifier of the same
images needs; ``model.from_run`` then starts a labelled or semi-supervised run from its backbone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from layerlab.data.source import RawData
from layerlab.data.splits import rng
from layerlab.errors import DataError

if TYPE_CHECKING:
    from layerlab.data.config import DataConfig
    from layerlab.data.preprocessor import Preprocessor
    from layerlab.data.targets import TargetSpec

ROTATIONS = ("0 degrees", "90 degrees", "180 degrees", "270 degrees")  # the classes, anticlockwise turns


def with_pretext(raw: RawData, cfg: DataConfig, task: str, spec: TargetSpec, seed: int) -> RawData:
    """``raw`` with the labels of ``data.pretext`` in place of its own (which are dropped unread)."""
    if spec.kind != "class" or spec.unsupervised or spec.on_pixels:
        raise DataError(f"data.pretext: {cfg.pretext} makes class labels (the turn of each image), so it needs task "
                        f"classification, not {task}")
    if raw.modality != "image":
        raise DataError(f"data.pretext: rotation turns images, and {cfg.name} gives {raw.modality} data")
    if not isinstance(raw.x, np.ndarray):
        raise DataError(f"data.pretext: rotation turns the images in memory, and {cfg.name}'s are read from a "
                        "memory-mapped cache (data.cache: mmap, or auto for a folder larger than half the memory); "
                        "set data.cache: memory")
    height, width = raw.x.shape[2:]
    if height != width:
        raise DataError(f"data.pretext: rotation needs square images, so that a turned image keeps its shape; "
                        f"{cfg.name}'s are {height} x {width} (height x width)")
    x, y = rotated(raw.x, rng(seed, "pretext"))
    test_x, test_y = rotated(raw.test_x, rng(seed, "pretext-test")) if raw.has_test_split else (None, None)

    def fit(train: np.ndarray) -> Preprocessor:
        return replace(raw.fit(train), classes=list(ROTATIONS))

    return replace(raw, x=x, y=y, test_x=test_x, test_y=test_y, fit=fit)


def rotated(images: np.ndarray, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each of ``images`` (N, C, H, W) turned anticlockwise by a drawn number of quarter turns, and those numbers."""
    turns = generator.integers(0, len(ROTATIONS), len(images))
    out = np.empty_like(images)
    for k in range(len(ROTATIONS)):
        chosen = turns == k
        out[chosen] = np.rot90(images[chosen], k, axes=(2, 3))
    return out, turns.astype(np.int64)
