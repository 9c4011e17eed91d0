"""The yolo source: YOLO txt boxes read into pixel corners, and each kind of bad label refused naming its line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from layerlab.data import load_data
from layerlab.data.config import DataConfig
from layerlab.errors import DataError


def _folders(tmp_path, n=5):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for i in range(n):
        Image.fromarray(np.full((50, 100, 3), 40 * i, dtype=np.uint8)).save(images / f"im{i}.png")
        (labels / f"im{i}.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.25 0.2 0.1 0.2\n")
    (tmp_path / "classes.txt").write_text("cat\ndog\n")
    return images, labels


def _load(tmp_path, images, labels):
    cfg = DataConfig.model_validate({"name": "yolo", "path": str(images), "labels": str(labels), "size": 40,
                                     "classes_file": str(tmp_path / "classes.txt"), "test_fraction": 0.2,
                                     "val_fraction": 0})
    return load_data(cfg, task="detection", seed=0)


def test_normalised_centre_boxes_become_pixel_corners_of_the_resized_image(tmp_path):
    data = _load(tmp_path, *_folders(tmp_path))
    assert data.info.class_names == ["cat", "dog"] and len(data.train) == 4
    target = data.train.y[0]
    assert torch.allclose(target["boxes"], torch.tensor([[16.0, 12.0, 24.0, 28.0], [8.0, 4.0, 12.0, 12.0]]))
    assert target["labels"].tolist() == [0, 1]


@pytest.mark.parametrize(("line", "message"), [
    ("0 0.95 0.5 0.2 0.2", r"im2.txt, line 2: the box .* reaches outside the image"),
    ("7 0.5 0.5 0.2 0.2", r"im2.txt, line 2: class id 7, but the classes file names 2"),
    ("0 0.5 half 0.2 0.2", r"im2.txt, line 2: expected 'class cx cy w h'"),
])
def test_a_bad_label_line_is_refused_naming_the_file_and_line(tmp_path, line, message):
    images, labels = _folders(tmp_path)
    (labels / "im2.txt").write_text(f"0 0.5 0.5 0.2 0.4\n{line}\n")
    with pytest.raises(DataError, match=message):
        _load(tmp_path, images, labels)


def test_a_label_file_naming_a_missing_image_is_refused(tmp_path):
    images, labels = _folders(tmp_path)
    (labels / "gone.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError, match="gone.txt: a label file whose image is missing"):
        _load(tmp_path, images, labels)
