"""Predicted boxes and masks drawn on the image they were predicted for (``layerlab predict``).

A model sees an image resized to its input size; ``overlay`` maps the prediction back to the file's own
pixels: boxes are scaled (and rewritten so, in the returned prediction), a class map is resized
(nearest) and tinted over the image, class 0 (the background) left clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212)]


def overlay(image_path: str | Path, prediction: dict[str, Any], out: Path, *, input_size: tuple[int, int],
            class_names: list[str]) -> dict[str, Any]:
    """Write ``out`` (PNG): the image with the prediction's ``detections`` boxes or ``mask`` drawn on it.
    Returns the prediction with its boxes in the image's own pixels and ``"overlay": str(out)``."""
    with Image.open(image_path) as opened:
        image = opened.convert("RGB")
    sx, sy = image.width / input_size[1], image.height / input_size[0]
    result = dict(prediction)
    if "mask" in prediction:
        image = _tinted(image, np.asarray(prediction["mask"], dtype=np.int64))
    if "detections" in prediction:
        result["detections"] = [{**d, "box": [round(d["box"][0] * sx, 1), round(d["box"][1] * sy, 1),
                                              round(d["box"][2] * sx, 1), round(d["box"][3] * sy, 1)]}
                                for d in prediction["detections"]]
        draw = ImageDraw.Draw(image)
        for d in result["detections"]:
            colour = PALETTE[class_names.index(d["class"]) % len(PALETTE)] if d["class"] in class_names else PALETTE[0]
            draw.rectangle(d["box"], outline=colour, width=2)
            draw.text((d["box"][0] + 2, d["box"][1] + 1), f"{d['class']} {d['score']:.2f}", fill=colour)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    result["overlay"] = str(out)
    return result


def _tinted(image: Image.Image, class_map: np.ndarray) -> Image.Image:
    mask = np.asarray(Image.fromarray(class_map.astype(np.uint8)).resize(image.size, Image.Resampling.NEAREST))
    pixels = np.asarray(image, dtype=np.float32).copy()
    for k in np.unique(mask):
        if k == 0:
            continue
        where = mask == k
        pixels[where] = 0.5 * pixels[where] + 0.5 * np.array(PALETTE[(k - 1) % len(PALETTE)], dtype=np.float32)
    return Image.fromarray(pixels.astype(np.uint8))
