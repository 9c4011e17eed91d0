"""Fashion-MNIST as Debian installs it (/usr/share/datasets/fashion-mnist); skipped when absent."""

from __future__ import annotations

import hashlib
import struct
import time

import pytest
import torch

from layerlab.data import load_data
from layerlab.data.idx import read_idx
from layerlab.data.sources.mnist import FASHION_MNIST
from layerlab.recipe import DataConfig


def test_fashion_mnist_loads_fast_with_its_own_test_split(fashion_dir):
    start = time.perf_counter()
    data = load_data(DataConfig(name="fashion-mnist"), task="classification", seed=0)
    seconds = time.perf_counter() - start
    assert (len(data.train), len(data.val), len(data.test)) == (54000, 6000, 10000)
    assert data.train.x.shape == (54000, 1, 28, 28) and data.test.x.shape == (10000, 1, 28, 28)
    assert data.info.class_names[:3] == ["T-shirt/top", "Trouser", "Pullover"]
    assert data.info.class_names[-1] == "Ankle boot" and data.info.num_classes == 10
    assert torch.bincount(data.test.y).tolist() == [1000] * 10  # the official test split, untouched
    assert torch.bincount(data.val.y).tolist() == [600] * 10  # stratified validation split
    assert abs(data.train.x.mean().item()) < 1e-4
    assert seconds < 5, f"loading Fashion-MNIST took {seconds:.1f} s"


def test_fashion_mnist_files_decode_as_published(fashion_dir):
    labels = read_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz")
    images = read_idx(fashion_dir / "t10k-images-idx3-ubyte.gz")
    assert labels.shape == (10000,) and images.shape == (10000, 28, 28)
    assert labels[:5].tolist() == [9, 2, 1, 1, 6]  # ankle boot, pullover, trouser, trouser, shirt


# Debian's copies are the published files re-gzipped without the name and time in the gzip header; the
# compressed data is the same. Putting the header back (times found once by matching the published MD5s)
# gives the published files byte for byte, so the SHA-256s pinned for downloads can be checked offline.
PUBLISHED = {  # name: (gzip header time, MD5 published by Zalando Research)
    "train-images-idx3-ubyte.gz": (1504176606, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train-labels-idx1-ubyte.gz": (1504176606, "25c81989df183df01b3e8a0aad5dffbe"),
    "t10k-images-idx3-ubyte.gz": (1504176627, "bef4ecab320f06d8554ea6380940ec79"),
    "t10k-labels-idx1-ubyte.gz": (1504176627, "bb300cfdad3c16e7a12a480ee83cd310"),
}


def test_pinned_sha256_match_the_published_files(fashion_dir):
    pinned = {remote.name: remote.sha256 for remote in FASHION_MNIST.files}
    for name, (mtime, md5) in PUBLISHED.items():
        debian = (fashion_dir / name).read_bytes()
        if debian[3] != 0:
            pytest.skip("these are not Debian's re-gzipped copies")
        header = b"\x1f\x8b\x08\x08" + struct.pack("<I", mtime) + b"\x00\x03" + name[:-3].encode() + b"\x00"
        published = header + debian[10:]
        assert hashlib.md5(published).hexdigest() == md5
        assert hashlib.sha256(published).hexdigest() == pinned[name]
