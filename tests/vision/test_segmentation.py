"""The segmentation task: its metrics on known maps, its refusals, and a U-Net that learns on real scenes."""

from __future__ import annotations

import math

import pytest
import torch

from layerlab.api import run
from layerlab.errors import LayerLabError
from layerlab.tasks.segmentation import SegmentationConfig, SegmentationTask
from tests.conftest import FASHION_DIR

NAMES = ["background", "a", "b"]


def _logits(class_map: torch.Tensor, k: int = 3) -> torch.Tensor:
    return torch.nn.functional.one_hot(class_map, k).permute(0, 3, 1, 2).float() * 10


def test_perfect_maps_score_one_and_known_errors_score_by_hand():
    task = SegmentationTask(NAMES)
    truth = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [2, 2, 0, 0]]])
    perfect = task.metrics(_logits(truth), truth)
    assert perfect["miou"] == perfect["dice"] == perfect["pixel_accuracy"] == 1.0
    guess = truth.clone()
    guess[0, 0, 2] = 0  # one pixel of class 1 called background
    scores = task.report(_logits(guess), truth)
    # class 1: 3 right of 4, nothing else called 1 -> IoU 3/4; background: 8 of 9 -> IoU 8/9; class 2: 1
    assert scores["per_class"]["a"]["iou"] == pytest.approx(3 / 4)
    assert scores["per_class"]["background"]["iou"] == pytest.approx(8 / 9)
    assert scores["miou"] == pytest.approx((3 / 4 + 8 / 9 + 1) / 3)
    assert scores["fg_miou"] == pytest.approx((3 / 4 + 1) / 2)
    assert scores["per_class"]["a"]["dice"] == pytest.approx(2 * 3 / (4 + 3))
    assert scores["pixel_accuracy"] == pytest.approx(15 / 16)


def test_ignored_pixels_count_nowhere_and_absent_classes_are_left_out_of_the_mean():
    task = SegmentationTask(NAMES, ignore_index=255)
    truth = torch.tensor([[[0, 1], [255, 255]]])
    guess = torch.tensor([[[0, 1], [2, 2]]])
    scores = task.report(_logits(guess), truth)
    assert scores["miou"] == 1.0 and scores["pixels"] == 2
    assert math.isnan(scores["per_class"]["b"]["iou"])


@pytest.mark.parametrize("loss", ["cross_entropy", "dice", "cross_entropy+dice"])
def test_each_loss_is_lower_for_the_right_map(loss):
    task = SegmentationTask(NAMES, loss=loss, class_weights=[0.5, 1.0, 1.0])
    truth = torch.randint(0, 3, (2, 8, 8), generator=torch.Generator().manual_seed(0))
    assert task.loss(_logits(truth), truth) < task.loss(_logits((truth + 1) % 3), truth)


def test_targets_that_are_not_class_maps_are_refused():
    with pytest.raises(LayerLabError, match=r"class maps \(N, H, W\)"):
        SegmentationTask.from_config(SegmentationConfig(name="segmentation"), num_classes=3, class_names=NAMES,
                                     train_targets=torch.zeros(5, dtype=torch.int64))
    with pytest.raises(LayerLabError, match="3 classes"):
        SegmentationTask(NAMES, class_weights=[1.0, 2.0])


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_a_tiny_unet_learns_to_segment_real_scenes(tmp_path):
    # two garments (trousers, bags) on 64x64 scenes: an all-background map scores mIoU about 0.3
    result = run("scenes-segmentation", ["data.train_scenes=300", "data.test_scenes=100", "data.classes=[1,8]",
                                         "train.epochs=3", "model.width=8", "model.depth=2", "train.batch_size=16",
                                         "train.lr=0.01"], runs_root=tmp_path)
    test = result.summary["test"]
    assert test["miou"] > 0.65, test
    assert test["fg_miou"] > 0.5, test
    assert (result.run_dir / "report.html").is_file()

    # predict on an image file: the class map as JSON and the map drawn on the image
    from PIL import Image

    from layerlab.api import predict
    from layerlab.data import load_data
    from layerlab.recipe import load_recipe

    data = load_data(load_recipe(result.run_dir / "recipe.yaml").data, task="segmentation", seed=0)
    scene = ((data.test.x[0, 0] * data.preprocessor.std[0] + data.preprocessor.mean[0]) * 255).clamp(0, 255)
    path = tmp_path / "scene.png"
    Image.fromarray(scene.byte().numpy()).save(path)
    [row] = predict(result.run_dir, [path])
    predicted = torch.tensor(row["mask"])
    assert predicted.shape == (64, 64)
    assert (predicted == data.test.y[0]).float().mean() > 0.85
    assert Image.open(row["overlay"]).size == (64, 64)
