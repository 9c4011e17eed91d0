"""Structured targets (one dict of tensors per example) go where a target tensor goes, and load_data
builds them for a task whose TargetSpec says so."""

from __future__ import annotations

import numpy as np
import torch

from layerlab.data import SOURCES, RawData, Split, StructuredTargets, TargetSpec, load_data
from layerlab.data.batching import batches
from layerlab.data.config import DataConfig
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.tasks import target_spec

BOXES = TargetSpec("structured", modalities=("image",))


def boxes_of(i: int) -> dict[str, torch.Tensor]:
    """Example i has i % 3 + 1 boxes, each (x0, y0, x1, y1), labelled i."""
    k = i % 3 + 1
    return {"boxes": torch.full((k, 4), float(i)), "labels": torch.full((k,), i)}


def test_structured_targets_index_move_and_batch_as_a_tensor_does():
    targets = StructuredTargets(boxes_of(i) for i in range(10))
    split = Split(torch.randn(10, 1, 4, 4), targets)
    assert len(split) == 10 and len(split.to("cpu").y) == 10
    assert split.to("cpu").y[3]["boxes"].shape == (1, 4)
    picked = targets[torch.tensor([7, 2])]
    assert isinstance(picked, StructuredTargets) and [int(t["labels"][0]) for t in picked] == [7, 2]
    order = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    seen = []
    for x, y in batches(split.x, split.y, batch_size=4, order=order):
        assert len(x) == len(y) and isinstance(y, StructuredTargets)
        assert [t["boxes"].shape[0] for t in y] == [int(i) % 3 + 1 for i in order[len(seen):len(seen) + len(y)]]
        seen += [int(t["labels"][0]) for t in y]
    assert seen == order.tolist()


def detections(cfg: DataConfig, ctx) -> RawData:
    """Images of 8x8 zeros with a box target each (a detection data set in miniature)."""
    assert ctx.target is BOXES
    y = np.empty(40, dtype=object)
    y[:] = [boxes_of(i) for i in range(40)]
    x = np.zeros((40, 1, 8, 8), dtype=np.uint8) + np.arange(40, dtype=np.uint8)[:, None, None, None]
    return RawData(modality="image", x=x, y=y, fit=lambda train: ImagePreprocessor.fit(train, scale=1.0, normalize=False, classes=None))


def test_load_data_keeps_structured_targets_with_their_examples():
    with SOURCES.registered("toy-detections", detections, config=DataConfig):
        data = load_data(DataConfig(name="toy-detections", val_fraction=0.25), task=BOXES, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (24, 8, 8)
    for split in (data.train, data.val, data.test):
        assert isinstance(split.y, StructuredTargets)
        pixel = split.x[:, 0, 0, 0].round().long().tolist()  # each image's value is its index ...
        assert pixel == [int(t["labels"][0]) for t in split.y]  # ... and so is its target's label


def test_tasks_declare_what_they_need_of_the_data():
    assert target_spec("classification").stratify and target_spec("classification").dtype == torch.int64
    assert target_spec("regression").dtype == torch.float32 and not target_spec("regression").stratify
    assert target_spec("forecast").modalities == ("series",)
    assert target_spec("vae").unsupervised and target_spec("vae").kind == "class"
    assert target_spec("seq2seq").kind == "tokens"
