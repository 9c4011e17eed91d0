"""The mask-folder source: images beside mask PNGs, and each kind of bad input refused naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from layerlab.data import load_data
from layerlab.data.config import DataConfig
from layerlab.errors import DataError


def _folders(tmp_path, n=6, size=(40, 30)):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        mask = np.zeros(size[::-1], dtype=np.uint8)
        mask[5:20, 10:25] = 1 + i % 2
        Image.fromarray((rng.random((*size[::-1], 3)) * 255).astype(np.uint8)).save(images / f"p{i}.jpg")
        Image.fromarray(mask).save(masks / f"p{i}_m.png")
    return images, masks


def _load(images, masks, **options):
    cfg = DataConfig.model_validate({"name": "mask-folder", "path": str(images), "masks": str(masks), "mask_suffix": "_m",
                                     "size": 20, "classes": ["bg", "a", "b"], "test_fraction": 0.34, **options})
    return load_data(cfg, task="segmentation", seed=0)


def test_images_and_masks_are_paired_and_resized_together(tmp_path):
    data = _load(*_folders(tmp_path))
    assert data.train.x.shape[1:] == (3, 20, 20) and data.train.y.shape[1:] == (20, 20)
    assert set(data.train.y.unique().tolist()) | set(data.test.y.unique().tolist()) == {0, 1, 2}
    assert data.info.class_names == ["bg", "a", "b"]


def test_a_mask_of_another_size_is_refused_naming_it(tmp_path):
    images, masks = _folders(tmp_path)
    Image.fromarray(np.zeros((10, 10), dtype=np.uint8)).save(masks / "p3_m.png")
    with pytest.raises(DataError, match=r"p3_m.png: mask of 10x10 pixels for the image p3.jpg of 40x30"):
        _load(images, masks)


def test_an_image_without_a_mask_and_a_mask_without_an_image_are_refused(tmp_path):
    images, masks = _folders(tmp_path)
    (masks / "p2_m.png").rename(masks / "other_m.png")
    with pytest.raises(DataError, match=r"p2.jpg: no mask .*p2_m.png \(1 of 6 images have none\)"):
        _load(images, masks)
    (masks / "other_m.png").rename(masks / "p2_m.png")
    Image.fromarray(np.zeros((30, 40), dtype=np.uint8)).save(masks / "ghost_m.png")
    with pytest.raises(DataError, match="ghost_m.png: a mask whose image is missing"):
        _load(images, masks)


def test_a_mask_value_beyond_the_classes_is_refused(tmp_path):
    images, masks = _folders(tmp_path)
    with pytest.raises(DataError, match="mask value 2 but data.classes names only 2 classes"):
        _load(images, masks, classes=["bg", "a"])
