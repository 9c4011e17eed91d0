"""``yolo``: boxes in YOLO's txt files (object detection), as Ultralytics writes them.

    data: {name: yolo, path: images/, labels: labels/, classes_file: classes.txt}

Each image ``images/NAME.EXT`` may have ``labels/NAME.txt``: one line per object, ``class cx cy w h``
with the centre, width and height as fractions of the image (an image without a file has no objects).
The classes file names one class a line, in the order of the ids. A box reaching outside the image, a
class id the classes file does not name, a malformed line, or a label file whose image is missing is
refused naming the file and its line. Images are resized to ``size`` x ``size``; the boxes are kept as
pixel corners of the resized image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from layerlab.data.files import recipe_file, resolve_folder
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.images import image_files, read_images
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import YoloConfig
from layerlab.errors import DataError

EPS = 1e-6  # rounding in files written with six decimals


@SOURCES.register("yolo")
def load_yolo(cfg: YoloConfig, ctx: SourceContext) -> RawData:
    images_dir = resolve_folder(cfg.path, ctx.settings, needs="the yolo source needs the folder of images")
    labels_dir = resolve_folder(cfg.labels, ctx.settings, needs="data.labels: the folder of YOLO label files")
    classes_path = recipe_file(cfg.classes_file, ctx.settings, "yolo", "classes file (data.classes_file)")
    classes = [line.strip() for line in classes_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not classes:
        raise DataError(f"{classes_path}: names no classes (one class a line)")
    images = image_files(images_dir)
    if not images:
        raise DataError(f"data.path: {images_dir} holds no images")
    stems = {image.stem for image in images}
    orphans = sorted(p for p in labels_dir.glob("*.txt") if p.stem not in stems)
    if orphans:
        raise DataError(f"{orphans[0]}: a label file whose image is missing from {images_dir} ({len(orphans)} such files)")
    x = read_images(images, size=(cfg.size, cfg.size), channels=1 if cfg.grey else 3)
    y = np.empty(len(images), dtype=object)
    for i, image in enumerate(images):
        y[i] = read_labels(labels_dir / f"{image.stem}.txt", len(classes), cfg.size)
    return RawData(modality="image", x=x, y=y, meta={"file": np.array([str(p) for p in images])},
                   fit=lambda t: ImagePreprocessor.fit(t, scale=255.0, normalize=cfg.normalize, classes=classes))


def read_labels(path: Path, num_classes: int, side: int) -> dict[str, torch.Tensor]:
    """One image's ``{"boxes": (k, 4) pixel corners at ``side``, "labels": (k,)}``; none when the file is absent."""
    boxes, labels = [], []
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        parts = line.split()
        try:
            label, cx, cy, w, h = int(parts[0]), *(float(v) for v in parts[1:5])
        except (ValueError, IndexError):
            raise DataError(f"{where}: expected 'class cx cy w h', got {line.strip()!r}") from None
        if len(parts) != 5:
            raise DataError(f"{where}: expected 5 values (class cx cy w h), got {len(parts)}")
        if not 0 <= label < num_classes:
            raise DataError(f"{where}: class id {label}, but the classes file names {num_classes} (ids 0 to {num_classes - 1})")
        corners = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        if w <= 0 or h <= 0 or min(corners) < -EPS or max(corners) > 1 + EPS:
            raise DataError(f"{where}: the box (centre {cx}, {cy}, size {w} x {h}) reaches outside the image")
        boxes.append([min(max(c, 0.0), 1.0) * side for c in corners])
        labels.append(label)
    return {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels, dtype=torch.int64)}
