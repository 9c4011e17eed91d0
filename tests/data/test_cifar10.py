"""CIFAR-10's python batches: read safely from a folder or the archive; damaged and hostile pickles refused."""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from layerlab.data import load_data
from layerlab.data.safe_pickle import load_pickle
from layerlab.errors import DataError
from layerlab.recipe import DataConfig


def load(settings, path=None, **fields):
    cfg = DataConfig(name="cifar10", path=str(path) if path else None, **fields)
    return load_data(cfg, task="classification", seed=0, settings=settings)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_folder_loads(cifar_dir, settings, protocol):
    folder = cifar_dir(protocol=protocol)
    data = load(settings, folder, val_fraction=0.1)
    assert (len(data.train), len(data.val), len(data.test)) == (90, 10, 20)
    assert data.train.x.shape == (90, 3, 32, 32) and data.info.input_shape == (3, 32, 32)
    assert data.info.class_names[:2] == ["airplane", "automobile"]
    assert len(data.preprocessor.mean) == 3  # per-channel statistics


def test_pixels_keep_their_layout(cifar_dir, settings):
    folder = cifar_dir()
    batch = pickle.loads((folder / "test_batch").read_bytes())
    data = load(settings, folder, normalize=False)
    expected = batch[b"data"].reshape(-1, 3, 32, 32) / 255.0
    assert np.allclose(data.test.x.numpy(), expected, atol=1e-6)
    assert data.test.y.tolist() == batch[b"labels"]


def test_parent_folder_and_search_path_are_accepted(cifar_dir, settings):
    cifar_dir(parent=settings.data_dirs[0] / "cifar10")
    assert len(load(settings).test) == 20
    assert len(load(settings, settings.data_dirs[0] / "cifar10").test) == 20


def test_archive_is_extracted_into_the_cache(cifar_dir, settings, tmp_path):
    folder = cifar_dir()
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
        evil = tarfile.TarInfo("../escaped")  # a hostile member is never written
        tar.addfile(evil, io.BytesIO(b""))
    data = load(settings, archive)
    assert len(data.test) == 20
    assert (settings.dataset_cache / "cifar10" / "cifar-10-batches-py" / "data_batch_1").is_file()
    assert not (settings.dataset_cache / "escaped").exists() and not (tmp_path / "escaped").exists()
    # later runs find the extracted batches in the cache through the search path
    assert len(load(settings).test) == 20


def test_damaged_archive_is_refused(tmp_path, settings):
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="cifar-10-python.tar.gz: a damaged or truncated archive"):
        load(settings, archive)


def test_truncated_batch_is_refused_with_its_name(cifar_dir, settings):
    folder = cifar_dir()
    path = folder / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="data_batch_3: a damaged or truncated pickle"):
        load(settings, folder)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickle_calling_os_system_is_refused(cifar_dir, settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = cifar_dir()
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match=r"data_batch_1: refusing to load '(posix|os|nt)\.system'"):
        load(settings, folder)
    assert not (tmp_path / "pwned").exists()


def test_safe_unpickler_allows_only_numpy_and_plain_values(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps({"a": np.arange(3, dtype=np.float32), "b": [1, "two", b"3", 4.0]}))
    loaded = load_pickle(path)
    assert loaded["a"].tolist() == [0, 1, 2] and loaded["b"] == [1, "two", b"3", 4.0]
    path.write_bytes(pickle.dumps(tarfile.TarInfo("x")))
    with pytest.raises(DataError, match="refusing to load 'tarfile.TarInfo'"):
        load_pickle(path)


def test_wrong_content_is_refused(cifar_dir, settings):
    folder = cifar_dir()
    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}))
    with pytest.raises(DataError, match=r"data_batch_2: 'data' should be uint8 of shape \(N, 3072\)"):
        load(settings, folder)


def test_not_found_offline_lists_the_folders_and_ways_to_get_it(settings):
    with pytest.raises(DataError) as info:
        load(settings)
    message = str(info.value)
    assert "CIFAR-10 was not found: need cifar-10-python.tar.gz" in message
    assert str(settings.data_dirs[0] / "cifar10") in message and "LAYERLAB_OFFLINE" in message
    assert "cifar-10-batches-py/" in message and "https://www.cs.toronto.edu/~kriz" in message
