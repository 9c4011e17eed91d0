"""data.cache: mmap (issue 34): an image folder decoded once into a uint8 cache file, read batch by batch."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from layerlab import api
from layerlab.cli import main
from layerlab.data import load_data
from layerlab.data.image_cache import CacheFiles, ImageCache, use_mmap
from layerlab.data.mapped_pixels import MappedPixels
from layerlab.data.pixels import Pixels
from layerlab.errors import DataError
from layerlab.recipe import DataConfig
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights
from tests.data.conftest import write_png


def load(settings, root, **fields):
    return load_data(DataConfig(name="image-folder", path=str(root), **fields), task="classification", seed=0,
                     settings=settings)


def cache_arrays(settings) -> list[Path]:
    return sorted((settings.cache_dir / "images").glob("*.npy"))


def test_mapped_splits_batch_to_the_in_memory_values(image_folder, settings):
    root = image_folder(split=True)
    memory = load(settings, root, cache="memory", image_size=12)
    mapped = load(settings, root, cache="mmap", image_size=12)
    assert isinstance(mapped.train.x, MappedPixels) and type(memory.train.x) is Pixels
    assert len(cache_arrays(settings)) == 2  # train/ and test/, one file each
    assert mapped.preprocessor.mean == memory.preprocessor.mean and mapped.preprocessor.std == memory.preprocessor.std
    for name in ("train", "val", "test"):
        a, b = getattr(memory, name), getattr(mapped, name)
        assert torch.equal(a.y, b.y) and list(a.ids) == list(b.ids) and a.x.shape == b.x.shape
        order = torch.randperm(len(a), generator=torch.Generator().manual_seed(1))
        assert torch.equal(a.x[order], b.x[order]) and torch.equal(a.x[1:3], b.x[1:3])
        assert torch.equal(a.x[a.y == 1], b.x[b.y == 1]) and torch.equal(a.x + 1, b.x + 1)  # any other use too
    assert mapped.train.x.nbytes == len(mapped.train) * 3 * 12 * 12  # one byte a pixel


def test_the_cache_is_reused_and_decoded_again_when_the_folder_changes(image_folder, settings):
    root = image_folder()
    load(settings, root, cache="mmap")
    (array,) = cache_arrays(settings)
    first = array.stat()
    load(settings, root, cache="mmap")
    assert (array.stat().st_ino, array.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)  # not written again

    green = np.zeros((16, 16, 3), dtype=np.uint8)
    green[..., 1] = 255
    write_png(root / "red" / "00.png", green)  # a file rewritten, and one added
    write_png(root / "red" / "99.png", green)
    data = load(settings, root, cache="mmap", test_fraction=0.0, val_fraction=0.0, normalize=False)
    assert array.stat().st_ino != first.st_ino
    assert len(json.loads(array.with_suffix(".json").read_text())["files"]) == 25 == len(data.train)
    rows = data.train.x[torch.tensor([list(data.train.ids).index(f"red/{n}.png") for n in ("00", "99")])]
    assert torch.equal(rows, torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1).expand(2, 3, 16, 16))


def test_a_corrupt_cache_is_refused_naming_its_file(image_folder, settings):
    root = image_folder()
    load(settings, root, cache="mmap")
    (array,) = cache_arrays(settings)
    manifest, whole = array.with_suffix(".json"), array.read_bytes()
    for broken in (whole[:-10], b"not an array"):
        array.write_bytes(broken)
        with pytest.raises(DataError, match=rf"^{re.escape(str(array))}: this image cache is corrupt \(.+\); delete it"):
            load(settings, root, cache="mmap")
    array.write_bytes(whole)
    manifest.write_text("{not json")
    with pytest.raises(DataError, match=rf"^{re.escape(str(manifest))}: this image cache manifest is corrupt"):
        load(settings, root, cache="mmap")


def test_an_unreadable_image_is_named_and_no_cache_is_left(image_folder, settings):
    root = image_folder()
    (root / "red" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"red/broken.png: cannot read this image"):
        load(settings, root, cache="mmap")
    assert not list((settings.cache_dir / "images").iterdir())  # neither a partial array nor a manifest


def test_auto_maps_folders_over_half_the_memory(image_folder, settings):
    assert use_mmap("auto", 3 * 10**9, memory=4 * 10**9) and not use_mmap("auto", 10**9, memory=4 * 10**9)
    assert use_mmap("mmap", 1) and not use_mmap("memory", 10**15)
    assert type(load(settings, image_folder()).train.x) is Pixels  # the default (auto), a small folder
    assert not (settings.cache_dir / "images").exists()


def test_rows_are_read_without_making_the_file_resident(tmp_path):
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        pytest.skip("needs /proc/self/smaps (Linux)")
    paths = CacheFiles(tmp_path / "a.npy", tmp_path / "a.json")
    images = np.random.default_rng(0).integers(0, 256, (256, 3, 64, 64), dtype=np.uint8)  # 3 MiB
    np.save(paths.array, images)
    cache = ImageCache.open(paths, images.shape)
    order = np.random.default_rng(1).permutation(256)
    for lo in range(0, 256, 16):  # random rows, then runs of consecutive ones
        assert np.array_equal(cache.read(order[lo : lo + 16]), images[order[lo : lo + 16]])
        assert np.array_equal(cache.read(np.arange(lo, lo + 16)), images[lo : lo + 16])
    assert cache.read(np.array([], dtype=np.int64)).shape == (0, 3, 64, 64)
    assert _resident_kib(smaps, paths.array) == 0  # not mapped: none of its pages count as this process's
    with pytest.raises(IndexError, match="rows 255..256 of a cache of 256 images"):
        cache.read(np.array([255, 256]))


def _resident_kib(smaps: Path, path: Path) -> int:
    """Resident KiB of the mappings of ``path`` in this process."""
    total, inside = 0, False
    for line in smaps.read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


# ------------------------------------------------------------------------------ training through the cache
def folder_recipe(root: Path, cache: str) -> dict:
    return {
        "name": "folder",
        "data": {"name": "image-folder", "path": str(root), "cache": cache, "image_size": 16, "test_fraction": 0.25,
                 "augment": {"crop_padding": 2, "hflip": True}},
        "model": {"name": "cnn", "width": 8, "blocks": 2},
        "train": {"epochs": 3, "batch_size": 8, "lr": 0.01, "deterministic": True, "seed": 3, "report": False},
    }


def test_memory_and_mmap_train_identical_weights_and_a_cached_run_resumes_exactly(image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path / "cache"))
    root = image_folder(n=40)

    def interrupt(trainer, loss):
        if trainer.state.global_step == 10:
            trainer.interrupt()

    memory = api.run(folder_recipe(root, "memory"), out=tmp_path / "memory")
    mapped = api.run(folder_recipe(root, "mmap"), out=tmp_path / "mapped")
    assert list((tmp_path / "cache" / "images").glob("*.npy"))
    with pytest.raises(api.Interrupted):
        api.run(folder_recipe(root, "mmap"), out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=interrupt)])
    resumed = api.run(resume=tmp_path / "cut")
    a, b, c = (load_weights(run.run_dir / "model.safetensors") for run in (memory, mapped, resumed))
    assert all(torch.equal(a[k], b[k]) and torch.equal(b[k], c[k]) for k in a)
    assert mapped.summary["test"]["accuracy"] >= 0.9  # it learns: red from blue (chance 0.5)


def test_the_cli_refuses_a_corrupt_cache_in_one_line(image_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAYERLAB_CACHE", str(tmp_path / "cache"))
    root = image_folder()
    recipe = tmp_path / "folder.yaml"
    recipe.write_text(f"data:\n  name: image-folder\n  path: {root}\nmodel:\n  name: mlp\ntrain:\n  epochs: 1\n")
    assert main(["run", str(recipe), "data.cache=mmap", "train.report=false", "--out", str(tmp_path / "a")]) == 0
    (array,) = (tmp_path / "cache" / "images").glob("*.npy")
    array.write_bytes(array.read_bytes()[:200])
    capsys.readouterr()
    assert main(["run", str(recipe), "data.cache=mmap", "--out", str(tmp_path / "b")]) == DataError.exit_code  # a data error: 1
    err = capsys.readouterr().err.strip()
    assert f"{array}: this image cache is corrupt" in err and "Traceback" not in err and len(err.splitlines()) == 1
