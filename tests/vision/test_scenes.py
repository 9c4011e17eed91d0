"""The scenes source: real Fashion-MNIST garments on a noisy canvas, with exact boxes, classes and masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.data.config import DataConfig
from layerlab.data.source import SourceContext
from layerlab.data.sources.scenes import ScenesConfig, load_scenes
from layerlab.data.targets import TargetSpec
from layerlab.errors import RecipeError
from layerlab.recipe import load_recipe
from layerlab.settings import load_settings
from tests.conftest import FASHION_DIR

pytestmark = pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")


def _raw(kind: str, **options):
    cfg = ScenesConfig(name="scenes", train_scenes=40, test_scenes=10, **options)
    return load_scenes(cfg, SourceContext("t", load_settings(), None, TargetSpec(kind)))


def test_boxes_are_tight_around_the_masks_and_the_class_map_agrees():
    detection, segmentation = _raw("structured"), _raw("class")
    assert detection.x.shape == (40, 1, 64, 64) and np.array_equal(detection.x, segmentation.x)
    for target, class_map in zip(detection.y, segmentation.y):
        assert 1 <= len(target["labels"]) <= 3
        rebuilt = np.zeros((64, 64), dtype=np.int64)
        for box, label, mask in zip(target["boxes"], target["labels"], target["masks"]):
            rows, cols = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            rebuilt[mask.numpy()] = int(label) + 1
        assert np.array_equal(rebuilt, class_map)
    # garments are brighter than the noisy background
    assert detection.x[:, 0][segmentation.y > 0].mean() > detection.x[:, 0][segmentation.y == 0].mean() + 50


def test_scenes_are_seeded_and_the_test_scenes_differ_from_the_training_ones():
    a, b, other = _raw("class"), _raw("class"), _raw("class", scene_seed=1)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, other.x)
    assert not np.array_equal(a.x[:10], a.test_x)


def test_a_subset_of_classes_is_renumbered():
    raw = _raw("class", classes=[8, 1])
    assert set(np.unique(raw.y)) <= {0, 1, 2}
    data = load_data(DataConfig.model_validate({"name": "scenes", "classes": [8, 1], "train_scenes": 20, "test_scenes": 5}),
                     task="segmentation", seed=0)
    assert data.info.class_names == ["background", "Bag", "Trouser"]
    assert data.train.y.shape[1:] == (64, 64)


@pytest.mark.parametrize(("override", "message"), [
    ("data.objects=[0,3]", "data.objects"),
    ("data.scale=[1,3]", "larger than the canvas"),
    ("data.classes=[3,3]", "distinct"),
])
def test_bad_scene_options_are_refused_naming_the_key(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("scenes-segmentation", [override])


def test_erasing_is_refused_for_targets_on_the_pixels():
    from layerlab.errors import DataError

    cfg = DataConfig.model_validate({"name": "scenes", "train_scenes": 10, "test_scenes": 2, "augment": {"erase": 0.5}})
    with pytest.raises(DataError, match="data.augment.erase: segmentation's targets lie on the pixels"):
        load_data(cfg, task="segmentation", seed=0)
    cfg = DataConfig.model_validate({"name": "scenes", "train_scenes": 10, "test_scenes": 2,
                                     "augment": {"hflip": True, "crop_padding": 4}})
    assert len(load_data(cfg, task="segmentation", seed=0).train) > 0  # these move the class maps too
