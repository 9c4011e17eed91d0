"""The image-folder source: PNGs in one subfolder per class, resized and converted."""

from __future__ import annotations

import pytest
import torch

from layerlab.data import load_data
from layerlab.errors import DataError
from layerlab.recipe import DataConfig


def load(settings, root, seed=0, **fields):
    cfg = DataConfig(name="image-folder", path=str(root), **fields)
    return load_data(cfg, task="classification", seed=seed, settings=settings)


def test_classes_from_subfolders_and_a_seeded_test_split(image_folder, settings):
    data = load(settings, image_folder(), test_fraction=0.25, val_fraction=0.0, normalize=False)
    assert data.info.class_names == ["blue", "red"]
    assert (len(data.train), len(data.test)) == (18, 6)
    assert torch.bincount(data.test.y).tolist() == [3, 3]
    # sized like the first image (16x16), RGB; the blue class is blue, the red class red
    assert data.train.x.shape == (18, 3, 16, 16)
    blue = data.train.x[data.train.y == 0].mean(dim=(0, 2, 3))
    red = data.train.x[data.train.y == 1].mean(dim=(0, 2, 3))
    assert blue[2] > 0.7 > blue[0] and red[0] > 0.7 > red[2]


def test_train_and_test_subfolders_give_the_test_split(image_folder, settings):
    data = load(settings, image_folder(split=True), val_fraction=0.0)
    assert (len(data.train), len(data.test)) == (18, 6)


def test_grayscale_and_image_size(image_folder, settings):
    data = load(settings, image_folder(), image_size=10, grayscale=True)
    assert data.info.input_shape == (1, 10, 10) and data.preprocessor.shape == [1, 10, 10]


def test_same_seed_same_split(image_folder, settings):
    root = image_folder()
    a, b = load(settings, root, seed=4), load(settings, root, seed=4)
    assert torch.equal(a.test.x, b.test.x) and torch.equal(a.train.y, b.train.y)


def test_an_unreadable_image_is_named(image_folder, settings):
    root = image_folder()
    (root / "red" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken.png: cannot read this image"):
        load(settings, root)


def test_missing_path_and_empty_folder(tmp_path, settings):
    with pytest.raises(DataError, match="data.path: image-folder needs the folder"):
        load_data(DataConfig(name="image-folder"), task="classification", seed=0, settings=settings)
    with pytest.raises(DataError, match="does not exist"):
        load(settings, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no subfolders with images"):
        load(settings, tmp_path / "empty")


def test_evaluating_a_run_maps_classes_and_size_from_its_preprocessing(image_folder, settings, tmp_path):
    trained = load(settings, image_folder(), image_size=8)
    other = tmp_path / "more"
    (other / "red").mkdir(parents=True)
    for path in sorted((image_folder() / "red").iterdir())[:3]:
        (other / "red" / path.name).write_bytes(path.read_bytes())
    data = load_data(DataConfig(name="image-folder", path=str(other), test_fraction=0.0), task="classification",
                     seed=0, settings=settings, preprocessor=trained.preprocessor)
    assert data.train.x.shape[1:] == (3, 8, 8)
    assert set(torch.cat([data.train.y, data.val.y]).tolist()) == {1}  # 'red' keeps the run's index
    (other / "green").mkdir()
    (other / "green" / "a.png").write_bytes((other / "red" / "00.png").read_bytes())
    with pytest.raises(DataError, match="'green' is not one of the classes blue, red"):
        load_data(DataConfig(name="image-folder", path=str(other)), task="classification", seed=0,
                  settings=settings, preprocessor=trained.preprocessor)
