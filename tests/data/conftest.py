"""Small real-format data files written by the tests: IDX sets, CIFAR batches, PNG folders, CSV tables."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from layerlab.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Offline settings that look only in a fresh folder (and the system folders)."""
    (tmp_path / "search").mkdir()
    return Settings(data_dirs=(tmp_path / "search",), cache_dir=tmp_path / "cache", offline=True)


def idx_bytes(array: np.ndarray) -> bytes:
    """An array in the IDX format (unsigned bytes)."""
    assert array.dtype == np.uint8
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture
def write_idx():
    def write(path: Path, array: np.ndarray, *, gz: bool) -> Path:
        data = idx_bytes(array)
        path.write_bytes(gzip.compress(data) if gz else data)
        return path

    return write


@pytest.fixture
def mnist_dir(tmp_path, write_idx):
    """A folder with a tiny MNIST-format set: 40 train and 20 test images of 28x28, gzipped or not."""

    def make(gz: bool = True, n_train: int = 40, n_test: int = 20, folder: Path | None = None) -> Path:
        folder = folder or tmp_path / "tiny-mnist"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(0)
        suffix = ".gz" if gz else ""
        for prefix, n in (("train", n_train), ("t10k", n_test)):
            write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz=gz)
            write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", (np.arange(n) % 10).astype(np.uint8), gz=gz)
        return folder

    return make


CIFAR_NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]


@pytest.fixture
def cifar_dir(tmp_path):
    """A ``cifar-10-batches-py`` folder in the real format: pickled dicts with bytes keys, 20 images per batch."""

    def make(parent: Path | None = None, per_batch: int = 20, protocol: int = 2) -> Path:
        folder = (parent or tmp_path) / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                     b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                     b"filenames": [f"{i}.png".encode() for i in range(per_batch)]}
            (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        meta = {b"label_names": CIFAR_NAMES, b"num_cases_per_batch": per_batch, b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
        return folder

    return make


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def image_folder(tmp_path):
    """Two classes of PNGs told apart by colour: 'blue' (blue images) and 'red' (red ones), 12 each.

    With ``split=True`` they are under train/ and test/; sizes vary (16x16 and 20x12) unless ``same_size``.
    """

    def make(split: bool = False, same_size: bool = False, n: int = 12) -> Path:
        root = tmp_path / "photos"
        rng = np.random.default_rng(2)
        for c, name in enumerate(["blue", "red"]):
            for i in range(n):
                h, w = (16, 16) if same_size or i % 2 == 0 else (20, 12)
                pixels = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
                pixels[..., 2 if c == 0 else 0] = 200 + i
                part = ("test" if i < n // 4 else "train") if split else ""
                write_png(root / part / name / f"{i:02d}.png", pixels)
        return root

    return make
