"""The coco source: an instances JSON and its images; each kind of bad annotation refused naming it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from layerlab.data import load_data
from layerlab.data.config import DataConfig
from layerlab.errors import DataError


def _files(tmp_path, **changes):
    for i in range(5):
        Image.fromarray(np.zeros((50, 100, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
    doc = {"images": [{"id": 10 + i, "file_name": f"{i}.jpg", "width": 100, "height": 50} for i in range(5)],
           "annotations": [{"id": 1, "image_id": 10, "category_id": 3, "bbox": [10, 5, 40, 20]},
                           {"id": 2, "image_id": 11, "category_id": 1, "bbox": [0, 0, 100, 50]},
                           {"id": 3, "image_id": 11, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1}],
           "categories": [{"id": 3, "name": "dog"}, {"id": 1, "name": "cat"}]}
    for key, value in changes.items():
        doc["annotations"][0][key] = value
    (tmp_path / "instances.json").write_text(json.dumps(doc))
    cfg = DataConfig.model_validate({"name": "coco", "path": str(tmp_path / "instances.json"), "size": 20,
                                     "test_fraction": 0.2, "val_fraction": 0})
    return load_data(cfg, task="detection", seed=0)


def test_categories_in_id_order_and_boxes_scaled(tmp_path):
    data = _files(tmp_path)
    assert data.info.class_names == ["cat", "dog"]
    every = [t for t in [*data.train.y, *data.test.y] if len(t["labels"])]
    assert sorted(tuple(t["labels"].tolist()) for t in every) == [(0,), (1,)]  # the crowd box left out
    dog = next(t for t in every if t["labels"].tolist() == [1])
    assert torch.allclose(dog["boxes"], torch.tensor([[2.0, 2.0, 10.0, 10.0]]))  # x scaled by 0.2, y by 0.4


@pytest.mark.parametrize(("change", "message"), [
    ({"image_id": 99}, "annotation 1 names image 99, which 'images' does not list"),
    ({"category_id": 7}, "annotation 1 has category id 7, which 'categories' does not list"),
    ({"bbox": [80, 5, 40, 20]}, r"annotation 1's box \[80, 5, 40, 20\] reaches outside its image 0.jpg \(100x50\)"),
])
def test_a_bad_annotation_is_refused_naming_it(tmp_path, change, message):
    with pytest.raises(DataError, match=message):
        _files(tmp_path, **change)


def test_a_missing_image_file_is_refused(tmp_path):
    _files(tmp_path)
    (tmp_path / "3.jpg").unlink()
    cfg = DataConfig.model_validate({"name": "coco", "path": str(tmp_path / "instances.json")})
    with pytest.raises(DataError, match="image 3.jpg is not in"):
        load_data(cfg, task="detection", seed=0)
