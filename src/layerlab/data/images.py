"""Reading image files (PNG, JPEG, ...) into one uint8 array, resized to a common size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from layerlab.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def image_files(folder: Path) -> list[Path]:
    """The image files under ``folder`` (recursively, hidden ones skipped), in sorted order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p)
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image file."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read this image ({exc})") from None
    return height, width


def read_images(paths: Sequence[Path], *, size: tuple[int, int], channels: int) -> np.ndarray:
    """Images as uint8 (N, channels, height, width); each converted (L or RGB) and resized if needed.

    ``size`` is (height, width); ``channels`` is 1 (grayscale) or 3 (RGB). Raises DataError naming
    the first file that cannot be read.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    height, width = size
    out = np.empty((len(paths), channels, height, width), dtype=np.uint8)
    mode = "L" if channels == 1 else "RGB"
    for i, path in enumerate(paths):  # decoding is per file anyway; this is not a training hot path
        try:
            with Image.open(path) as image:
                image = image.convert(mode)
                if image.size != (width, height):
                    image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.uint8)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise DataError(f"{path}: cannot read this image ({exc})") from None
        out[i] = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
    return out
