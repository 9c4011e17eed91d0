"""``scenes``: real Fashion-MNIST images placed on a larger noisy canvas, with exact boxes, classes and masks.

Each scene is a ``canvas`` x ``canvas`` grey image with ``objects`` (1 to 3) garments, each one of the
data set's 28x28 images scaled by a random factor and put at a random place; objects may overlap (a
later one covers an earlier one, up to ``max_overlap`` of their boxes' IoU), on a background of
Gaussian noise. An object's mask is its pixels brighter than ``mask_threshold`` of full intensity,
less what later objects cover; its box is the tight box of that visible mask.

Training scenes are made only from the training images and test scenes only from the test images,
each from its own seeded stream (``scene_seed``), so the same recipe always makes the same scenes.
The targets depend on the task: a class map (H, W) per scene for ``segmentation`` (0 background,
k the k-th class), or ``{"boxes", "labels", "masks"}`` per scene for ``detection`` (boxes as pixel
corners x1, y1, x2, y2; labels 0-based class indices; masks (k, H, W) bool).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from layerlab.data.files import find_files
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import ScenesConfig
from layerlab.data.sources.mnist import (
    FASHION_CLASSES,
    FASHION_MNIST,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    _read_pair,
)

BACKGROUND = "background"


@SOURCES.register("scenes")
def load_scenes(cfg: ScenesConfig, ctx: SourceContext) -> RawData:
    paths = find_files(FASHION_MNIST, path=cfg.path, settings=ctx.settings, download=cfg.download)
    train_images, train_labels = _read_pair(paths[TRAIN_IMAGES], paths[TRAIN_LABELS], len(FASHION_CLASSES))
    test_images, test_labels = _read_pair(paths[TEST_IMAGES], paths[TEST_LABELS], len(FASHION_CLASSES))
    chosen = cfg.classes if cfg.classes is not None else list(range(len(FASHION_CLASSES)))
    dense = ctx.target.kind != "structured"
    x, y = make_scenes(*_only(train_images, train_labels, chosen), cfg, count=cfg.train_scenes, stream=0, dense=dense)
    test_x, test_y = make_scenes(*_only(test_images, test_labels, chosen), cfg, count=cfg.test_scenes, stream=1, dense=dense)
    names = [FASHION_CLASSES[c] for c in chosen]
    classes = [BACKGROUND, *names] if dense else names
    return RawData(
        modality="image", x=x, y=y, test_x=test_x, test_y=test_y,
        fit=lambda train: ImagePreprocessor.fit(train, scale=255.0, normalize=cfg.normalize, classes=classes),
    )


def _only(images: np.ndarray, labels: np.ndarray, chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The (N, 28, 28) images of the chosen classes, with labels renumbered to their place in ``chosen``."""
    keep = np.isin(labels, chosen)
    renumber = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
    renumber[chosen] = np.arange(len(chosen))
    return images[keep, 0], renumber[labels[keep]]


def make_scenes(images: np.ndarray, labels: np.ndarray, cfg: ScenesConfig, *, count: int, stream: int,
                dense: bool) -> tuple[np.ndarray, np.ndarray]:
    """``count`` scenes (count, 1, S, S) uint8 from ``images`` (N, 28, 28) uint8, and their targets: class maps
    (count, S, S) int64 when ``dense``, else an object array of ``{"boxes", "labels", "masks"}`` dicts."""
    side = cfg.canvas
    scenes = np.empty((count, 1, side, side), dtype=np.uint8)
    targets = np.empty((count, side, side), dtype=np.int64) if dense else np.empty(count, dtype=object)
    for i, (canvas, owner, objects, _) in enumerate(scene_layouts(images, labels, cfg, count=count, stream=stream)):
        scenes[i, 0] = canvas
        if dense:
            targets[i] = _class_map(owner, objects)
        else:
            targets[i] = _instances(owner, objects)
    return scenes, targets


def scene_layouts(images: np.ndarray, labels: np.ndarray, cfg: ScenesConfig, *, count: int,
                  stream: int) -> Iterator[tuple[np.ndarray, np.ndarray, list[int], list[int]]]:
    """``make_scenes``'s scenes one at a time: the pixels (S, S) uint8, which object owns each pixel ((S, S),
    -1 for none), each object's label, and the position in ``images`` it was cut from (for analyses that
    need to know which garment an object is, as benchmarks/scenes_ceiling.py)."""
    rng = np.random.default_rng([cfg.scene_seed, stream])
    for _ in range(count):
        yield _one_scene(images, labels, cfg, rng)


def _one_scene(images: np.ndarray, labels: np.ndarray, cfg: ScenesConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """The scene's pixels (S, S) uint8, which object owns each pixel ((S, S), -1 for none), each object's label
    and the position in ``images`` of its garment."""
    side = cfg.canvas
    pixels = rng.normal(0.0, cfg.noise * 255, (side, side))
    owner = np.full((side, side), -1, dtype=np.int64)
    placed: list[tuple[int, int, int, int]] = []
    objects: list[int] = []
    sources: list[int] = []
    for _ in range(int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))):
        index = int(rng.integers(len(images)))
        size = int(round(28 * rng.uniform(*cfg.scale)))
        box = _free_place(size, side, placed, cfg.max_overlap, rng)
        if box is None:  # no room left within the overlap allowed
            break
        patch = _resized(images[index], size)
        mask = patch > cfg.mask_threshold * 255
        x1, y1, x2, y2 = box
        region = pixels[y1:y2, x1:x2]
        region[mask] = patch[mask]
        owner[y1:y2, x1:x2][mask] = len(objects)
        placed.append(box)
        objects.append(int(labels[index]))
        sources.append(index)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), owner, objects, sources


def _free_place(size: int, side: int, placed: list[tuple[int, int, int, int]], max_overlap: float,
                rng: np.random.Generator, tries: int = 20) -> tuple[int, int, int, int] | None:
    for _ in range(tries):
        x1, y1 = (int(v) for v in rng.integers(0, side - size + 1, 2))
        box = (x1, y1, x1 + size, y1 + size)
        if all(_iou(box, other) <= max_overlap for other in placed):
            return box
    return None


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _resized(image: np.ndarray, size: int) -> np.ndarray:
    """A 28x28 uint8 image as (size, size) float pixels (bilinear)."""
    t = torch.from_numpy(image.astype(np.float32))[None, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)[0, 0].numpy()


def _class_map(owner: np.ndarray, objects: list[int]) -> np.ndarray:
    """(S, S) int64: 0 for the background, 1 + the class of the object that shows at each pixel."""
    lookup = np.array([0, *(label + 1 for label in objects)], dtype=np.int64)
    return lookup[owner + 1]


def _instances(owner: np.ndarray, objects: list[int]) -> dict[str, torch.Tensor]:
    """The visible objects' boxes (k, 4) float32 corners, labels (k,) int64 and masks (k, S, S) bool; an
    object covered whole by later ones is left out."""
    boxes, labels, masks = [], [], []
    for k, label in enumerate(objects):
        mask = owner == k
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        boxes.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
        labels.append(label)
        masks.append(mask)
    side = owner.shape[0]
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.int64),
        "masks": torch.from_numpy(np.stack(masks)) if masks else torch.zeros((0, side, side), dtype=torch.bool),
    }
