"""Your own images: a folder with one subfolder per class.

    photos/cat/001.png  photos/dog/002.jpg ...             test split held out by load_data
    photos/train/cat/... photos/test/cat/...               the folder's own test split

Images are converted to RGB (or one channel with ``data.grayscale``) and resized to
``data.image_size`` squared, or by default to the size of the first image. With ``data.cache: mmap``
(or auto, for folders whose decoded images exceed half the memory) they are decoded once into a
memory-mapped file (``layerlab.data.image_cache``) and read from it batch by batch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layerlab.data.files import resolve_folder
from layerlab.data.image_cache import cached_images, fit_chunk, use_mmap
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.images import image_files, image_size, read_images
from layerlab.data.mapped_pixels import ImageRows
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import ImageFolderConfig
from layerlab.errors import DataError


@SOURCES.register("image-folder")
def load_image_folder(cfg: ImageFolderConfig, ctx: SourceContext) -> RawData:
    root = resolve_folder(cfg.path, ctx.settings, needs="image-folder needs the folder of images (one subfolder per class)")
    train_root, test_root = root, None
    if (root / "train").is_dir() and _class_dirs(root / "train"):
        train_root = root / "train"
        test_root = root / "test" if (root / "test").is_dir() else None

    fitted = ctx.fitted if isinstance(ctx.fitted, ImagePreprocessor) else None
    classes = fitted.classes if fitted is not None and fitted.classes else [d.name for d in _class_dirs(train_root)]
    if not classes:
        raise DataError(f"{train_root}: no subfolders with images; image-folder expects one subfolder per class")
    train_files, train_y = _labelled_files(train_root, classes)
    if fitted is not None:
        channels, height, width = fitted.shape
    else:
        channels = 1 if cfg.grayscale else 3
        height, width = (cfg.image_size, cfg.image_size) if cfg.image_size else image_size(train_files[0])

    test_files: list[Path] = []
    test_y = None
    if test_root is not None:
        test_files, test_y = _labelled_files(test_root, classes)
    mapped = use_mmap(cfg.cache, (len(train_files) + len(test_files)) * channels * height * width)

    def read(files: list[Path], folder: Path) -> np.ndarray | ImageRows:
        if mapped:
            return ImageRows(cached_images(files, folder=folder, shape=(channels, height, width), settings=ctx.settings))
        return read_images(files, size=(height, width), channels=channels)

    test_x = read(test_files, test_root) if test_root is not None else None
    chunk = fit_chunk((channels, height, width)) if mapped else None  # mapped: statistics in chunks of bounded size
    return RawData(
        modality="image",
        x=read(train_files, train_root),
        y=train_y,
        fit=lambda train: ImagePreprocessor.fit(train, scale=255.0, normalize=cfg.normalize, classes=classes, chunk=chunk),
        test_x=test_x,
        test_y=test_y,
        meta={"file": np.array([str(f.relative_to(root)) for f in train_files])},
        test_meta={"file": np.array([str(f.relative_to(root)) for f in test_files])},
    )


def _class_dirs(folder: Path) -> list[Path]:
    """Subfolders that hold images, sorted by name."""
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and image_files(d))


def _labelled_files(folder: Path, classes: list[str]) -> tuple[list[Path], np.ndarray]:
    """All image files under ``folder/<class>/`` with their class indices."""
    files: list[Path] = []
    labels: list[int] = []
    for class_dir in _class_dirs(folder):
        if class_dir.name not in classes:
            raise DataError(f"{class_dir}: '{class_dir.name}' is not one of the classes {', '.join(classes)}")
        found = image_files(class_dir)
        files += found
        labels += [classes.index(class_dir.name)] * len(found)
    if not files:
        raise DataError(f"{folder}: no images in class subfolders")
    return files, np.array(labels, dtype=np.int64)
