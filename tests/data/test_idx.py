"""IDX files (MNIST, Fashion-MNIST): decoding, damaged files, and the mnist source on tiny files."""

from __future__ import annotations

import numpy as np
import pytest

from layerlab.data import load_data
from layerlab.data.idx import read_idx
from layerlab.errors import DataError
from layerlab.recipe import DataConfig


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, write_idx, gz):
    images = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    assert np.array_equal(read_idx(write_idx(tmp_path / "images", images, gz=gz)), images)
    assert np.array_equal(read_idx(write_idx(tmp_path / "labels", labels, gz=gz)), labels)


def test_truncated_idx_names_the_file_and_the_sizes(tmp_path, write_idx):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 4, 4), np.uint8), gz=False)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: truncated: the header says 10 x 4 x 4 values \(160 bytes\) but 155"):
        read_idx(path)


def test_bad_magic_is_refused(tmp_path):
    path = tmp_path / "labels.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(DataError, match=r"labels.idx: not an IDX file \(bad magic number 12340801"):
        read_idx(path)


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DataError, match="empty: not an IDX file"):
        read_idx(tmp_path / "empty")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(DataError, match="short: truncated IDX header"):
        read_idx(tmp_path / "short")


def test_truncated_gzip_is_refused(tmp_path, write_idx):
    path = write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(200, dtype=np.uint8), gz=True)
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: a damaged or truncated gzip file"):
        read_idx(path)


def test_gzip_is_told_by_content_not_name(tmp_path, write_idx):
    path = write_idx(tmp_path / "labels-without-suffix", np.array([5, 6], np.uint8), gz=True)
    assert read_idx(path).tolist() == [5, 6]


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_source_reads_a_folder_given_as_path(mnist_dir, settings, gz):
    folder = mnist_dir(gz=gz)
    data = load_data(DataConfig(name="mnist", path=str(folder), val_fraction=0.25), task="classification",
                     seed=0, settings=settings)
    assert (len(data.train), len(data.val), len(data.test)) == (30, 10, 20)
    assert data.train.x.shape == (30, 1, 28, 28) and data.info.class_names == [str(d) for d in range(10)]


def test_mnist_source_accepts_one_of_the_files_as_path(mnist_dir, settings):
    folder = mnist_dir()
    data = load_data(DataConfig(name="mnist", path=str(folder / "t10k-labels-idx1-ubyte.gz")),
                     task="classification", seed=0, settings=settings)
    assert len(data.test) == 20


def test_mnist_source_found_through_the_search_path(mnist_dir, settings):
    mnist_dir(folder=settings.data_dirs[0] / "mnist")
    data = load_data(DataConfig(name="mnist"), task="classification", seed=0, settings=settings)
    assert len(data.test) == 20


def test_labels_that_do_not_match_the_images_are_refused(mnist_dir, write_idx, settings):
    folder = mnist_dir()
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8), gz=True)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: 19 labels for the 20 images"):
        load_data(DataConfig(name="mnist", path=str(folder)), task="classification", seed=0, settings=settings)


def test_a_truncated_file_in_a_set_is_named(mnist_dir, settings):
    folder = mnist_dir(gz=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train-images-idx3-ubyte: truncated"):
        load_data(DataConfig(name="mnist", path=str(folder)), task="classification", seed=0, settings=settings)


def test_a_path_missing_some_files_says_which(mnist_dir, settings):
    folder = mnist_dir()
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="MNIST was not found") as info:
        load_data(DataConfig(name="mnist", path=str(folder)), task="classification", seed=0, settings=settings)
    assert str(folder) in str(info.value) and "data.path is given" in str(info.value)
