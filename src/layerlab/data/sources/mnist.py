"""MNIST and Fashion-MNIST: 28x28 grayscale images in ten classes, 60,000 to train and 10,000 to test.

Both come as four IDX files (gzipped or not), found through ``files.find_files``: Debian's package
``dataset-fashion-mnist`` installs Fashion-MNIST's under ``/usr/share/datasets/fashion-mnist``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layerlab.data.config import DataConfig
from layerlab.data.files import FileSet, RemoteFile, find_files
from layerlab.data.idx import read_idx
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import DIGIT_CLASSES, FASHION_CLASSES
from layerlab.errors import DataError

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def _files(bases: tuple[str, ...], sha256: dict[str, str]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, tuple(base + name for base in bases), sha256[name]) for name in sha256)


# SHA-256 of the files as published (the data sets themselves publish only MD5s). Fashion-MNIST's are
# checked offline by tests/data/test_fashion_mnist.py against Debian's copies (which are re-gzipped, so
# their own hashes differ); MNIST's agree across many independent projects.
FASHION_MNIST = FileSet(
    dataset="fashion-mnist",
    title="Fashion-MNIST",
    files=_files(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the official address (S3, http only)
         "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        {TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
         TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
         TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
         TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
    ),
    folders=("FashionMNIST/raw", "fashion_mnist"),
    advice=("install Debian's package: apt-get install dataset-fashion-mnist",),
)

MNIST = FileSet(
    dataset="mnist",
    title="MNIST",
    files=_files(
        ("https://ossci-datasets.s3.amazonaws.com/mnist/",  # yann.lecun.com no longer serves the files
         "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        {TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
         TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
         TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
         TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
    ),
    folders=("MNIST/raw",),
)


@SOURCES.register("fashion-mnist")
def load_fashion_mnist(cfg: DataConfig, ctx: SourceContext) -> RawData:
    return load_idx_set(FASHION_MNIST, FASHION_CLASSES, cfg, ctx)


@SOURCES.register("mnist")
def load_mnist(cfg: DataConfig, ctx: SourceContext) -> RawData:
    return load_idx_set(MNIST, DIGIT_CLASSES, cfg, ctx)


def load_idx_set(fileset: FileSet, classes: list[str], cfg: DataConfig, ctx: SourceContext) -> RawData:
    """Read the four IDX files of an MNIST-like data set (its own train and test splits)."""
    paths = find_files(fileset, path=cfg.path, settings=ctx.settings, download=cfg.download)
    train_x, train_y = _read_pair(paths[TRAIN_IMAGES], paths[TRAIN_LABELS], len(classes))
    test_x, test_y = _read_pair(paths[TEST_IMAGES], paths[TEST_LABELS], len(classes))
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DataError(f"{paths[TEST_IMAGES]}: images of {test_x.shape[2:]} pixels, "
                        f"but the training images have {train_x.shape[2:]}")
    return RawData(
        modality="image",
        x=train_x,
        y=train_y,
        fit=lambda train: ImagePreprocessor.fit(train, scale=255.0, normalize=cfg.normalize, classes=classes),
        test_x=test_x,
        test_y=test_y,
    )


def _read_pair(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected unsigned-byte images (N, height, width), "
                        f"found {images.dtype} of shape {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected one label per image, found shape {labels.shape}")
    if len(labels) != len(images):
        raise DataError(f"{labels_path}: {len(labels):,} labels for the {len(images):,} images of {images_path.name}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"{labels_path}: labels must be 0 to {num_classes - 1}, found {labels.min()} to {labels.max()}")
    return images[:, None], labels.astype(np.int64)  # (N, 1, H, W)
