"""Crops and flips move class maps, boxes and masks with the pixels (``BatchAugment.pair``)."""

from __future__ import annotations

import pytest
import torch

from layerlab.data.batching import BatchAugment
from layerlab.data.config import AugmentConfig
from layerlab.data.targets import StructuredTargets
from tests.conftest import FASHION_DIR

MOVES = AugmentConfig(crop_padding=5, hflip=True, vflip=True)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_a_class_map_moves_exactly_with_its_image():
    maps = torch.randint(0, 4, (16, 12, 10))
    images = maps.float()[:, None].expand(16, 3, 12, 10).contiguous()  # every channel shows the class number
    for seed in range(5):
        x, y = BatchAugment(MOVES, on_pixels=True).pair(images, maps, generator(seed))
        assert torch.equal(x[:, 0], y.float())  # what slid in is 0 in both
        assert not torch.equal(y, maps)  # something moved


def test_the_images_are_those_the_plain_call_gives():
    images = torch.rand(8, 1, 12, 12)
    maps = torch.zeros(8, 12, 12, dtype=torch.long)
    noisy = AugmentConfig(crop_padding=3, hflip=True, vflip=True, noise=0.1)
    x, _ = BatchAugment(noisy, on_pixels=True).pair(images, maps, generator(7))
    assert torch.equal(x, BatchAugment(noisy)(images, generator(7)))


def test_without_targets_on_the_pixels_the_targets_stay():
    images, labels = torch.rand(8, 1, 12, 12), torch.arange(8)
    x, y = BatchAugment(MOVES).pair(images, labels, generator(1))
    assert y is labels and torch.equal(x, BatchAugment(MOVES)(images, generator(1)))


def _scene(box: list[int], size: int = 24) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    x1, y1, x2, y2 = box
    mask = torch.zeros(size, size, dtype=torch.uint8)
    mask[y1:y2, x1:x2] = 1
    return mask.float()[None], {"boxes": torch.tensor([box], dtype=torch.float32), "labels": torch.tensor([2]),
                                "masks": mask[None]}


def test_boxes_and_masks_stay_on_the_object():
    scenes = [_scene(b) for b in ([2, 3, 9, 12], [10, 0, 24, 6], [5, 5, 20, 20], [0, 17, 4, 24])]
    images = torch.stack([s[0] for s in scenes])
    targets = StructuredTargets(s[1] for s in scenes)
    for seed in range(10):
        x, y = BatchAugment(MOVES, on_pixels=True).pair(images, targets, generator(seed))
        for image, item in zip(x[:, 0], y):
            assert torch.equal(item["masks"].sum(0).float(), image) if len(item["boxes"]) else image.sum() == 0
            for (x1, y1, x2, y2), mask in zip(item["boxes"].tolist(), item["masks"]):
                rows, cols = mask.nonzero(as_tuple=True)  # the box is tight around what is left of the object
                assert (x1, y1, x2, y2) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
            assert item["labels"].tolist() == [2] * len(item["boxes"])


def test_a_box_pushed_out_of_the_picture_is_dropped_with_its_label_and_mask():
    image, item = _scene([0, 0, 3, 3], size=12)
    crop = BatchAugment(AugmentConfig(crop_padding=6), on_pixels=True)
    outcomes = set()
    for seed in range(40):
        x, y = crop.pair(image[None], StructuredTargets([item]), generator(seed))
        kept = len(y[0]["boxes"])
        assert len(y[0]["labels"]) == len(y[0]["masks"]) == kept
        assert (x.sum() > 0) == (kept == 1)
        outcomes.add(kept)
    assert outcomes == {0, 1}


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_a_unet_trained_with_crops_and_flips_learns_and_a_detector_takes_the_moved_boxes(tmp_path):
    from layerlab.api import run

    # the trainer moves the class maps with the pixels: were they left behind, the maps would no longer fit
    result = run("scenes-segmentation", ["data.train_scenes=300", "data.test_scenes=100", "data.classes=[1,8]",
                                         "train.epochs=3", "model.width=8", "model.depth=2", "train.batch_size=16",
                                         "train.lr=0.01", "data.augment.hflip=true", "data.augment.vflip=true",
                                         "data.augment.crop_padding=6"], runs_root=tmp_path)
    assert result.summary["test"]["miou"] > 0.6, result.summary["test"]  # all-background: about 0.3

    from layerlab.data import load_data
    from layerlab.data.config import DataConfig
    from layerlab.models import create_model
    from layerlab.tasks.detection import DetectionTask

    data = load_data(DataConfig.model_validate({"name": "scenes", "train_scenes": 8, "test_scenes": 2,
                                                "classes": [1, 8], "val_fraction": 0}), task="detection", seed=0)
    x, y = BatchAugment(MOVES, on_pixels=True).pair(data.train.x, data.train.y, generator(0))
    model = create_model({"name": "tv-detection", "arch": "fasterrcnn_mobilenet_v3_large_fpn", "proposals": 50},
                         input_shape=data.info.input_shape, num_outputs=data.info.num_classes)
    model.train()
    loss = DetectionTask(data.info.class_names).loss(DetectionTask(data.info.class_names).forward(model, x, y), y)
    assert torch.isfinite(loss)
