"""CIFAR-10: 32x32 colour images in ten classes, 50,000 to train and 10,000 to test.

Read from the "python version": a folder ``cifar-10-batches-py/`` of pickled batches (``data_batch_1``
to ``data_batch_5``, ``test_batch``, ``batches.meta``), or the archive ``cifar-10-python.tar.gz`` as
downloaded, which is extracted into the cache first. The pickles are read with ``SafeUnpickler``,
which refuses anything but numpy arrays and plain values.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from layerlab.data.config import DataConfig
from layerlab.data.files import FileSet, RemoteFile, find_files, locate, resolve_path, search_dirs
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.safe_pickle import load_pickle
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import CIFAR10_CLASSES as CLASS_NAMES
from layerlab.errors import DataError
from layerlab.settings import Settings

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
BATCH_FILES = (*TRAIN_BATCHES, "test_batch", "batches.meta")

BATCHES = FileSet("cifar10", "CIFAR-10", tuple(RemoteFile(name) for name in BATCH_FILES),
                  folders=(f"cifar10/{FOLDER}", FOLDER))
ARCHIVE = FileSet(
    "cifar10",
    "CIFAR-10",
    (RemoteFile("cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),),
    advice=(f"put the extracted folder {FOLDER}/ ({', '.join(BATCH_FILES)}) in one of those folders",),
)


@SOURCES.register("cifar10")
def load_cifar10(cfg: DataConfig, ctx: SourceContext) -> RawData:
    folder = find_batches(cfg, ctx.settings)
    train = [_read_batch(folder / name) for name in TRAIN_BATCHES]
    test_x, test_y = _read_batch(folder / "test_batch")
    classes = _read_class_names(folder / "batches.meta")
    return RawData(
        modality="image",
        x=np.concatenate([x for x, _ in train]),
        y=np.concatenate([y for _, y in train]),
        fit=lambda t: ImagePreprocessor.fit(t, scale=255.0, normalize=cfg.normalize, classes=classes),
        test_x=test_x,
        test_y=test_y,
    )


def find_batches(cfg: DataConfig, settings: Settings) -> Path:
    """The folder holding the batch files: found, or extracted from a found or downloaded archive."""
    if cfg.path is not None:
        given = resolve_path(cfg.path, settings)
        if given.is_file():
            return extract(given, settings)
        found = locate(BATCHES.files, [given, given / FOLDER]) or locate(ARCHIVE.files, [given])
        if found is None:
            raise DataError(f"data.path: {given} holds neither the CIFAR-10 batches ({', '.join(BATCH_FILES)}, "
                            f"possibly in {FOLDER}/) nor {ARCHIVE.files[0].name}")
        path = next(iter(found.values()))
        return path.parent if path.name in BATCH_FILES else extract(path, settings)
    found = locate(BATCHES.files, search_dirs(BATCHES, settings))
    if found is not None:
        return found["data_batch_1"].parent
    archive = find_files(ARCHIVE, path=None, settings=settings, download=cfg.download)
    return extract(archive[ARCHIVE.files[0].name], settings)


def extract(archive: Path, settings: Settings) -> Path:
    """Extract the batch files of ``cifar-10-python.tar.gz`` into the cache (once); returns their folder."""
    target = settings.dataset_cache / "cifar10" / FOLDER
    if locate(BATCHES.files, [target]) is not None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        with tarfile.open(archive) as tar:
            for member in tar:
                # Only the known files, written by us: no paths from the archive are trusted.
                path = PurePosixPath(member.name)
                if member.isfile() and path.parent.name == FOLDER and path.name in BATCH_FILES:
                    source = tar.extractfile(member)
                    if source is not None:
                        (scratch / path.name).write_bytes(source.read())
        missing = [name for name in BATCH_FILES if not (scratch / name).is_file()]
        if missing:
            raise DataError(f"{archive}: not the CIFAR-10 python archive (no {FOLDER}/{', '.join(missing)} in it)")
        shutil.rmtree(target, ignore_errors=True)
        scratch.rename(target)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{archive}: a damaged or truncated archive ({exc}); delete it and get it again") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one pickled batch."""
    batch = load_pickle(path)
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a pickled dict with 'data' and 'labels', found a {type(batch).__name__}")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if data is None or labels is None:
        raise DataError(f"{path}: no 'data' or no 'labels' in this batch")
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: 'data' should be uint8 of shape (N, 3072), found {data.dtype} of shape {data.shape}")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: expected {len(data)} integer labels, found {labels.dtype} of shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{path}: labels must be 0 to 9, found {labels.min()} to {labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_class_names(path: Path) -> list[str]:
    names = _get(load_pickle(path), "label_names")  # None unless a dict holds them (an array has no truth value)
    if not isinstance(names, list) or len(names) != len(CLASS_NAMES):
        raise DataError(f"{path}: expected 'label_names' with ten class names")
    return [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def _get(d: object, key: str) -> object:
    """``d[key]`` for Python 2 pickles (bytes keys) and Python 3 ones (str keys), or None."""
    if not isinstance(d, dict):
        return None
    return d.get(key.encode(), d.get(key))
