"""The detection task: COCO AP on known boxes, and a torchvision detector trained a few steps on real scenes."""

from __future__ import annotations

import math

import pytest
import torch

from layerlab.data.targets import StructuredTargets
from layerlab.errors import LayerLabError
from layerlab.models import create_model
from layerlab.tasks.detection import DetectionTask, average_precision

NAMES = ["shirt", "bag"]
TARGETS = [
    {"boxes": torch.tensor([[2.0, 2.0, 20.0, 30.0], [30.0, 30.0, 60.0, 50.0]]), "labels": torch.tensor([0, 1])},
    {"boxes": torch.tensor([[10.0, 5.0, 40.0, 25.0]]), "labels": torch.tensor([1])},
]


def _as_detections(targets, shift: float = 0.0):
    return [{"boxes": t["boxes"] + shift, "labels": t["labels"], "scores": torch.full((len(t["labels"]),), 0.9)}
            for t in targets]


def test_perfect_detections_score_one_and_shifted_ones_less():
    perfect = average_precision(_as_detections(TARGETS), TARGETS, NAMES)
    assert perfect["map"] == pytest.approx(1.0) and perfect["map_50"] == pytest.approx(1.0)
    assert perfect["per_class"] == pytest.approx({"shirt": 1.0, "bag": 1.0})
    shifted = average_precision(_as_detections(TARGETS, shift=3.0), TARGETS, NAMES)
    assert shifted["map_50"] == pytest.approx(1.0)  # every box still overlaps its object by IoU > 0.5
    assert shifted["map"] < 0.8 and shifted["map_75"] < 1.0
    wrong_class = [{**d, "labels": 1 - d["labels"]} for d in _as_detections(TARGETS)]
    assert average_precision(wrong_class, TARGETS, NAMES)["map"] == pytest.approx(0.0)


def test_predict_keeps_the_confident_detections_and_names_their_class():
    task = DetectionTask(NAMES, score_threshold=0.5)
    found = [{"boxes": torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]]), "labels": torch.tensor([1, 0]),
              "scores": torch.tensor([0.9, 0.1])}]
    assert task.predict(found) == [{"detections": [{"box": [1.0, 2.0, 3.0, 4.0], "class": "bag", "score": 0.9}]}]


def test_boxes_are_drawn_and_given_in_the_images_own_pixels(tmp_path):
    from PIL import Image

    from layerlab.analyze.overlays import overlay

    Image.new("RGB", (200, 100)).save(tmp_path / "photo.png")
    row = {"detections": [{"box": [10.0, 10.0, 30.0, 20.0], "class": "bag", "score": 0.9}]}
    drawn = overlay(tmp_path / "photo.png", row, tmp_path / "out" / "photo.png", input_size=(50, 50), class_names=NAMES)
    assert drawn["detections"][0]["box"] == [40.0, 20.0, 120.0, 40.0]  # x scaled by 4, y by 2
    pixels = Image.open(drawn["overlay"])
    assert pixels.size == (200, 100) and pixels.getpixel((40, 30)) != (0, 0, 0)  # the box's left edge


def test_a_model_without_a_loss_dict_is_refused():
    with pytest.raises(LayerLabError, match="tv-detection"):
        DetectionTask(NAMES).loss(torch.zeros(2, 3), None)


def test_weights_are_refused_offline_with_a_clear_message():
    with pytest.raises(LayerLabError, match="LAYERLAB_OFFLINE"):
        create_model({"name": "tv-detection", "arch": "fasterrcnn_mobilenet_v3_large_320_fpn", "weights": "DEFAULT"},
                      input_shape=(3, 64, 64), num_outputs=2)


@pytest.mark.slow
def test_a_detector_trained_a_few_steps_lowers_its_loss_on_real_scenes():
    from layerlab.data import load_data
    from layerlab.data.config import DataConfig

    data = load_data(DataConfig.model_validate({"name": "scenes", "train_scenes": 16, "test_scenes": 4,
                                                "classes": [1, 8], "val_fraction": 0}), task="detection", seed=0)
    assert isinstance(data.train.y, StructuredTargets)
    torch.manual_seed(0)
    model = create_model({"name": "tv-detection", "arch": "fasterrcnn_mobilenet_v3_large_fpn", "proposals": 100},
                         input_shape=data.info.input_shape, num_outputs=data.info.num_classes)
    task = DetectionTask(data.info.class_names)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    losses, objectness = [], []
    for _ in range(10):  # the same batch
        parts = task.forward(model, data.train.x, data.train.y)
        loss = task.loss(parts, data.train.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        objectness.append(parts["loss_objectness"].item())
    assert all(math.isfinite(v) for v in losses)
    # The region proposals learn to find the garments. (The total need not fall this soon: as the proposals
    # improve, more of them reach the box head as objects, whose classification loss then grows.)
    assert objectness[-1] < 0.5 * objectness[0], objectness
    metrics, report = task.evaluate(model, data.test, batch_size=4, report=True)
    assert set(metrics) == {"loss", "map", "map_50", "map_75"} and 0.0 <= metrics["map_50"] <= 1.0
    assert set(report["per_class"]) <= set(NAMES) | {"Trouser", "Bag"}
