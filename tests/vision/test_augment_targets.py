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


def test_a_zoom_scales_maps_boxes_and_masks_about_the_centre():
    from layerlab.data.zoom import zoom_images, zoom_targets

    maps = torch.zeros(2, 32, 32, dtype=torch.long)
    maps[:, 12:20, 12:20] = 3  # an 8-pixel square at the centre
    _, item = _scene([12, 12, 20, 20], size=32)
    factors = torch.tensor([2.0, 0.5])
    zoomed = zoom_targets(maps, factors, (32, 32))
    assert zoomed.dtype == torch.long
    assert torch.equal(zoomed[0] == 3, _square(32, 8, 24)) and torch.equal(zoomed[1] == 3, _square(32, 14, 18))
    assert set(zoomed.unique().tolist()) == {0, 3}
    for factor, (lo, hi) in ((2.0, (8, 24)), (0.5, (14, 18))):
        (moved,) = zoom_targets(StructuredTargets([item]), torch.tensor([factor]), (32, 32))
        assert moved["boxes"].tolist() == [[lo, lo, hi, hi]] and moved["labels"].tolist() == [2]
        assert torch.equal(moved["masks"][0].bool(), _square(32, lo, hi))
    image = maps[:1, None].float()  # the image shows the same square: bilinear inside, nearest for the map
    assert torch.equal(zoom_images(image, factors[:1])[0, 0, 10:22, 10:22], torch.full((12, 12), 3.0))


def _square(size: int, lo: int, hi: int) -> torch.Tensor:
    square = torch.zeros(size, size, dtype=torch.bool)
    square[lo:hi, lo:hi] = True
    return square


def test_zoomed_pairs_keep_maps_on_their_images_and_boxes_on_their_masks():
    zoom = AugmentConfig(crop_padding=3, hflip=True, zoom=0.4)
    blocks = torch.randint(0, 4, (16, 4, 4)).repeat_interleave(8, 1).repeat_interleave(8, 2)  # (16, 32, 32)
    images = blocks.float()[:, None]
    x, y = BatchAugment(zoom, on_pixels=True).pair(images, blocks, generator(3))
    assert torch.equal(x, BatchAugment(zoom)(images, generator(3)))  # the plain call's images
    same = torch.isclose(x[:, 0], y.float(), atol=1e-5).float().mean()
    assert same > 0.8, same  # bilinear images differ from nearest maps only at the blocks' edges
    assert torch.isclose(x[:, 0], blocks.float(), atol=1e-5).float().mean() < 0.6  # the maps left behind: far fewer
    scenes = [_scene(b) for b in ([2, 3, 9, 12], [10, 0, 24, 6], [5, 5, 20, 20], [0, 17, 4, 24])]
    targets = StructuredTargets(s[1] for s in scenes)
    outcomes = set()
    for seed in range(10):
        _, moved = BatchAugment(AugmentConfig(zoom=0.9), on_pixels=True).pair(images[:4, :, :24, :24], targets,
                                                                              generator(seed))
        for item in moved:
            assert len(item["labels"]) == len(item["masks"]) == len(item["boxes"])
            for box, mask in zip(item["boxes"].tolist(), item["masks"]):
                rows, cols = mask.nonzero(as_tuple=True)  # nearest-pixel masks: within a pixel of the exact box
                tight = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1] if len(rows) else box
                assert max(abs(a - float(b)) for a, b in zip(box, tight)) <= 1.0
        outcomes.add(len(moved[3]["boxes"]))  # the corner object leaves the picture when enlarged enough
    assert outcomes == {0, 1}


def test_zoom_off_leaves_the_batches_as_they_were():
    images = torch.rand(8, 1, 12, 12)
    plain = AugmentConfig(crop_padding=2, hflip=True, noise=0.1)
    assert torch.equal(BatchAugment(plain)(images, generator(5)),
                       BatchAugment(AugmentConfig(crop_padding=2, hflip=True, noise=0.1, zoom=0.0))(images, generator(5)))
    assert not torch.equal(BatchAugment(plain)(images, generator(5)),
                           BatchAugment(AugmentConfig(crop_padding=2, hflip=True, noise=0.1, zoom=0.2))(images, generator(5)))
    with pytest.raises(ValueError, match="zoom"):
        AugmentConfig(zoom=1.0)


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason="needs Debian's dataset-fashion-mnist")
def test_a_unet_trained_with_crops_flips_and_zoom_learns_and_a_detector_takes_the_moved_boxes(tmp_path):
    from layerlab.api import run

    # the trainer moves the class maps with the pixels: were they left behind, the maps would no longer fit
    result = run("scenes-segmentation", ["data.train_scenes=300", "data.test_scenes=100", "data.classes=[1,8]",
                                         "train.epochs=3", "model.width=8", "model.depth=2", "train.batch_size=16",
                                         "train.lr=0.01", "data.augment.hflip=true", "data.augment.vflip=true",
                                         "data.augment.crop_padding=6", "data.augment.zoom=0.2"], runs_root=tmp_path)
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
