"""Finding data sets through the search path, and downloading them with a SHA-256 check."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest

from layerlab.data import load_data
from layerlab.data.files import FileSet, RemoteFile, download, find_files, search_dirs
from layerlab.data.idx import read_idx
from layerlab.data.source import SourceContext
from layerlab.data.sources.mnist import DIGIT_CLASSES, MNIST, load_idx_set
from layerlab.errors import DataError
from layerlab.recipe import DataConfig
from layerlab.settings import Settings


@pytest.fixture
def server(tmp_path):
    """A tiny HTTP server on 127.0.0.1 serving ``tmp_path / "www"``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def online(settings: Settings) -> Settings:
    return Settings(data_dirs=settings.data_dirs, cache_dir=settings.cache_dir, offline=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_search_dirs_order(settings):
    dirs = search_dirs(MNIST, settings)
    base = settings.data_dirs[0]
    assert dirs[:3] == [base / "mnist", base / "MNIST/raw", base]
    assert dirs[3] == settings.dataset_cache / "mnist"
    assert dirs.index(settings.dataset_cache) < dirs.index(dirs[-1])


def test_not_found_offline_lists_every_folder_and_how_to_get_it(settings, monkeypatch):
    monkeypatch.setattr("layerlab.settings.SYSTEM_DATA_DIRS", (settings.data_dirs[0] / "system",))
    with pytest.raises(DataError) as info:
        load_data(DataConfig(name="mnist"), task="classification", seed=0, settings=settings)
    message = str(info.value)
    assert "MNIST was not found: need train-images-idx3-ubyte.gz" in message
    for directory in search_dirs(MNIST, settings):
        assert f"  {directory}\n" in message
    assert "LAYERLAB_OFFLINE is set" in message and "LAYERLAB_DATA" in message and "data.path" in message


def test_not_found_with_downloads_off_says_so_and_names_the_debian_package(settings, monkeypatch):
    monkeypatch.setattr("layerlab.settings.SYSTEM_DATA_DIRS", ())  # the machine's own copy is not looked at
    with pytest.raises(DataError) as info:
        load_data(DataConfig(name="fashion-mnist", download=False), task="classification", seed=0,
                  settings=online(settings))
    assert "data.download: false" in str(info.value) and "apt-get install dataset-fashion-mnist" in str(info.value)


def test_download_checks_the_sha256_and_renames_into_place(server, tmp_path):
    base, root = server
    (root / "f.bin").write_bytes(b"hello data")
    dest = tmp_path / "cache" / "f.bin"
    assert download(base + "f.bin", dest, sha256=sha256(b"hello data")) == dest
    assert dest.read_bytes() == b"hello data"
    assert list(dest.parent.iterdir()) == [dest]  # no temporary file left


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    base, root = server
    (root / "f.bin").write_bytes(b"tampered")
    dest = tmp_path / "cache" / "f.bin"
    with pytest.raises(DataError, match=r"f.bin: the downloaded file's SHA-256 is [0-9a-f]{64}, expected 00+"):
        download(base + "f.bin", dest, sha256="0" * 64)
    assert list(dest.parent.iterdir()) == []


def test_unreachable_address_is_a_data_error(server, tmp_path):
    base, _ = server
    with pytest.raises(DataError, match="missing.bin: cannot download"):
        download(base + "missing.bin", tmp_path / "cache" / "missing.bin", sha256=None)
    assert list((tmp_path / "cache").iterdir()) == []


def test_file_urls_work_too(tmp_path):
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 5000)
    dest = download(source.as_uri(), tmp_path / "out" / "src.bin", sha256=sha256(b"x" * 5000))
    assert dest.read_bytes() == b"x" * 5000


def test_a_data_set_is_downloaded_into_the_cache_once(server, settings, mnist_dir, tmp_path):
    base, root = server
    mnist_dir(folder=root)
    files = tuple(RemoteFile(f.name, ("http://127.0.0.1:9/down/" + f.name, base + f.name),  # a dead mirror first
                             sha256((root / f.name).read_bytes())) for f in MNIST.files)
    fileset = FileSet("tiny", "Tiny", files)
    cfg = DataConfig(name="mnist")
    raw = load_idx_set(fileset, DIGIT_CLASSES, cfg, SourceContext("classification", online(settings)))
    assert raw.x.shape == (40, 1, 28, 28) and raw.test_x.shape == (20, 1, 28, 28)
    cached = settings.dataset_cache / "tiny"
    assert sorted(p.name for p in cached.iterdir()) == sorted(f.name for f in files)
    for path in root.iterdir():
        path.unlink()  # the server has nothing now: a second load uses the cache
    found = find_files(fileset, path=None, settings=online(settings), download=True)
    assert found[files[0].name] == cached / files[0].name


def test_a_failed_download_reports_each_address(server, settings):
    base, root = server
    (root / "a.bin").write_bytes(b"changed")
    fileset = FileSet("set", "Some set", (RemoteFile("a.bin", (base + "a.bin",), "1" * 64),))
    with pytest.raises(DataError) as info:
        find_files(fileset, path=None, settings=online(settings), download=True)
    message = str(info.value)
    assert "Some set was not found" in message and "the download failed" in message and "SHA-256" in message
    assert not (settings.dataset_cache / "set" / "a.bin").exists()


def test_explicit_path_that_does_not_exist(settings):
    with pytest.raises(DataError, match="data.path: 'nowhere' does not exist; looked for it at"):
        find_files(MNIST, path="nowhere", settings=settings, download=False)


def test_known_hashes_are_sha256():
    from layerlab.data.sources.cifar10 import ARCHIVE
    from layerlab.data.sources.mnist import FASHION_MNIST

    for fileset in (MNIST, FASHION_MNIST, ARCHIVE):
        for remote in fileset.files:
            assert remote.urls and len(remote.sha256) == 64 and int(remote.sha256, 16) >= 0


def test_idx_arrays_survive_the_download(server, settings, write_idx):
    base, root = server
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(root / "x-idx3-ubyte.gz", array, gz=True)
    fileset = FileSet("x", "X", (RemoteFile(path.name, (base + path.name,), sha256(path.read_bytes())),))
    found = find_files(fileset, path=None, settings=online(settings), download=True)
    assert np.array_equal(read_idx(found[path.name]), array)
