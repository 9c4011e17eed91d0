"""``coco``: boxes from a COCO ``instances_*.json`` beside its image folder (object detection).

    data: {name: coco, path: instances_val2017.json, images: val2017/}

The file's ``images`` (id, file_name, width, height), ``annotations`` (image_id, category_id, bbox as
x, y, width, height in pixels; ``iscrowd`` ones left out, as COCO's evaluation does) and ``categories``
(id, name) are read; classes are the categories in the order of their ids. Masks (polygons, RLE) are
not read yet. An annotation naming an image or a category the file does not list, a box reaching
outside its image, or an image file missing from the folder is refused naming the file and the object.
Images are resized to ``size`` x ``size`` and the boxes scaled with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.data.files import recipe_file, resolve_folder
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.images import read_images
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import CocoConfig
from layerlab.errors import DataError


@SOURCES.register("coco")
def load_coco(cfg: CocoConfig, ctx: SourceContext) -> RawData:
    path = recipe_file(cfg.path, ctx.settings, "coco", "COCO instances JSON file")
    folder = resolve_folder(cfg.images, ctx.settings, needs="data.images: the image folder") if cfg.images else path.parent
    doc = _read_json(path)
    categories = sorted(doc["categories"], key=lambda c: c["id"])
    class_of = {c["id"]: k for k, c in enumerate(categories)}
    images = {im["id"]: im for im in doc["images"]}
    found: dict[Any, list[tuple[list[float], int]]] = {image_id: [] for image_id in images}
    for ann in doc["annotations"]:
        found[_image_of(ann, images, path)].append((_box(ann, images, path), _class(ann, class_of, path)))
    files = [folder / images[i]["file_name"] for i in images]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise DataError(f"{path}: image {missing[0].name} is not in {folder} ({len(missing)} of {len(files)} missing)")
    x = read_images(files, size=(cfg.size, cfg.size), channels=3)
    y = np.empty(len(files), dtype=object)
    for k, image_id in enumerate(images):
        im = images[image_id]
        scale = torch.tensor([cfg.size / im["width"], cfg.size / im["height"]] * 2)
        boxes = torch.tensor([b for b, _ in found[image_id]], dtype=torch.float32).reshape(-1, 4) * scale
        y[k] = {"boxes": boxes, "labels": torch.tensor([c for _, c in found[image_id]], dtype=torch.int64)}
    names = [c["name"] for c in categories]
    return RawData(modality="image", x=x, y=y, meta={"file": np.array([str(f) for f in files])},
                   fit=lambda t: ImagePreprocessor.fit(t, scale=255.0, normalize=cfg.normalize, classes=names))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable JSON file ({exc})") from None
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(doc.get(key) if isinstance(doc, dict) else None, list)]
    if missing:
        raise DataError(f"{path}: not a COCO instances file (no list '{missing[0]}')")
    doc["annotations"] = [a for a in doc["annotations"] if not a.get("iscrowd")]
    return doc


def _image_of(ann: dict[str, Any], images: dict[Any, Any], path: Path) -> Any:
    if ann.get("image_id") not in images:
        raise DataError(f"{path}: annotation {ann.get('id')} names image {ann.get('image_id')}, which 'images' does not list")
    return ann["image_id"]


def _class(ann: dict[str, Any], class_of: dict[Any, int], path: Path) -> int:
    if ann.get("category_id") not in class_of:
        raise DataError(f"{path}: annotation {ann.get('id')} has category id {ann.get('category_id')}, which "
                        f"'categories' does not list (known: {', '.join(map(str, class_of))})")
    return class_of[ann["category_id"]]


def _box(ann: dict[str, Any], images: dict[Any, Any], path: Path) -> list[float]:
    """The annotation's box as corners x1, y1, x2, y2, checked to lie within its image."""
    x, y, w, h = (float(v) for v in ann["bbox"])
    im = images[ann["image_id"]]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > im["width"] + 0.5 or y + h > im["height"] + 0.5:
        raise DataError(f"{path}: annotation {ann.get('id')}'s box {ann['bbox']} reaches outside its image "
                        f"{im['file_name']} ({im['width']}x{im['height']})")
    return [x, y, min(x + w, im["width"]), min(y + h, im["height"])]
