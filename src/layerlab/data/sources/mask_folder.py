"""``mask-folder``: images in one folder, their class maps as PNGs in another (semantic segmentation).

    data: {name: mask-folder, path: photos/, masks: masks/, classes: [background, road, car]}

Each image ``photos/NAME.EXT`` has its mask ``masks/NAME.png`` (or ``masks/NAME<mask_suffix>.png``): one
grey-level PNG whose pixel values are class indices (0 the first class). A mask must have its image's
size; an image without a mask, a mask without an image, or a value beyond the classes is refused naming
the file. Both are resized to ``size`` (the mask by nearest neighbour, so classes stay whole).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from layerlab.data.files import resolve_folder
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.images import image_files, read_images
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import MaskFolderConfig
from layerlab.errors import DataError


@SOURCES.register("mask-folder")
def load_mask_folder(cfg: MaskFolderConfig, ctx: SourceContext) -> RawData:
    images_dir = resolve_folder(cfg.path, ctx.settings, needs="the mask-folder source needs the folder of images")
    masks_dir = resolve_folder(cfg.masks, ctx.settings, needs="data.masks: the folder of mask PNGs")
    images = image_files(images_dir)
    if not images:
        raise DataError(f"data.path: {images_dir} holds no images")
    masks = _paired(images, masks_dir, cfg.mask_suffix)
    size = (cfg.size, cfg.size)
    x = read_images(images, size=size, channels=1 if cfg.grey else 3)
    y = np.stack([_resized(read_mask(path, image), size) for path, image in zip(masks, images)])
    classes = cfg.classes or [f"class{k}" for k in range(int(y.max()) + 1)]
    if int(y.max()) >= len(classes):
        worst = masks[int(np.argmax(y.reshape(len(y), -1).max(1)))]
        raise DataError(f"{worst}: mask value {int(y.max())} but data.classes names only {len(classes)} classes")
    return RawData(modality="image", x=x, y=y.astype(np.int64), meta={"file": np.array([str(p) for p in images])},
                   fit=lambda t: ImagePreprocessor.fit(t, scale=255.0, normalize=cfg.normalize, classes=classes))


def _paired(images: list[Path], masks_dir: Path, suffix: str) -> list[Path]:
    masks = [masks_dir / f"{image.stem}{suffix}.png" for image in images]
    missing = [image for image, mask in zip(images, masks) if not mask.is_file()]
    if missing:
        raise DataError(f"{missing[0]}: no mask {masks_dir / (missing[0].stem + suffix + '.png')} "
                        f"({len(missing)} of {len(images)} images have none)")
    named = {m.name for m in masks}
    orphans = sorted(p for p in masks_dir.glob("*.png") if p.name not in named)
    if orphans:
        raise DataError(f"{orphans[0]}: a mask whose image is missing from the image folder "
                        f"({len(orphans)} such masks)")
    return masks


def _resized(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if mask.max(initial=0) > 255:
        return mask  # left to the class check, which names the file
    return np.asarray(Image.fromarray(mask.astype(np.uint8)).resize(size[::-1], Image.Resampling.NEAREST), dtype=np.int64)


def read_mask(path: Path, image: Path) -> np.ndarray:
    """The mask (H, W) of class indices; DataError when unreadable, not one channel, or not the image's size."""
    try:
        with Image.open(path) as mask, Image.open(image) as picture:
            if mask.mode not in ("L", "P", "I", "I;16", "1"):
                raise DataError(f"{path}: a mask is one channel of class indices, not a {mask.mode} image")
            if mask.size != picture.size:
                raise DataError(f"{path}: mask of {mask.size[0]}x{mask.size[1]} pixels for the image {image.name} "
                                f"of {picture.size[0]}x{picture.size[1]}")
            return np.asarray(mask, dtype=np.int64)
    except OSError as exc:
        raise DataError(f"{path}: cannot read this mask ({exc})") from None
