"""CenterNet (``models/centernet.py``): exact decoding, targets that round-trip boxes, learning on real scenes."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_model, save_model

from layerlab.errors import LayerLabError, RecipeError
from layerlab.models import create_model
from layerlab.models.centernet import decode, encode, focal_loss
from layerlab.tasks.detection import DetectionTask

STRIDE = 4


def _logit(p: float) -> float:
    return float(torch.logit(torch.tensor(p)))


def test_a_hand_made_heatmap_decodes_into_exactly_its_boxes():
    heat = torch.full((1, 2, 16, 16), -20.0)  # (B, C, h, w) logits: nothing anywhere ...
    size, offset = torch.zeros(1, 2, 16, 16), torch.zeros(1, 2, 16, 16)
    heat[0, 1, 3, 5] = _logit(0.9)  # ... but a class-1 centre in row 3, column 5
    size[0, :, 3, 5] = torch.tensor([6.0, 4.0])  # 24 x 16 pixels
    offset[0, :, 3, 5] = torch.tensor([0.5, 0.25])  # centre at x (5 + 0.5) * 4 = 22, y (3 + 0.25) * 4 = 13
    heat[0, 1, 3, 6] = _logit(0.85)  # its neighbour: not a local maximum, so no detection
    heat[0, 0, 10, 2] = _logit(0.8)  # a class-0 centre at the image's edge: its box is clipped to the image
    size[0, :, 10, 2] = torch.tensor([6.0, 2.0])
    heat[0, 0, 14, 14] = _logit(0.3)  # a peak below min_score
    found = decode(heat, size, offset, stride=STRIDE, image_size=(64, 64), detections=10, min_score=0.5)
    assert len(found) == 1
    assert torch.equal(found[0]["labels"], torch.tensor([1, 0]))
    assert torch.allclose(found[0]["scores"], torch.tensor([0.9, 0.8]))
    assert torch.allclose(found[0]["boxes"], torch.tensor([[10.0, 5.0, 34.0, 21.0], [0.0, 36.0, 20.0, 44.0]]))
    # top-k keeps the best: with one detection allowed, the class-1 box alone
    best = decode(heat, size, offset, stride=STRIDE, image_size=(64, 64), detections=1, min_score=0.0)[0]
    assert best["labels"].tolist() == [1] and torch.allclose(best["boxes"], torch.tensor([[10.0, 5.0, 34.0, 21.0]]))


TARGETS = [
    {"boxes": torch.tensor([[3.0, 5.0, 30.0, 41.5], [20.2, 18.0, 61.0, 50.0]]), "labels": torch.tensor([2, 0])},
    {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)},  # a scene without objects
    {"boxes": torch.tensor([[40.0, 1.0, 63.0, 27.0]]), "labels": torch.tensor([1])},
]


def test_encoded_targets_decode_back_into_the_same_boxes():
    goal = encode(TARGETS, num_classes=3, stride=STRIDE, grid=(16, 16), spread=0.54)
    assert goal["heatmap"].shape == (3, 3, 16, 16) and goal["heatmap"].max() == 1.0
    assert (goal["heatmap"] == 1).sum() == 3  # one exact peak per object, at its centre cell ...
    assert goal["heatmap"][1].sum() == 0  # ... none in the empty scene
    b, ys, xs = goal["cells"].unbind(1)
    assert b.tolist() == [0, 0, 2] and xs.tolist() == [4, 10, 12] and ys.tolist() == [5, 8, 3]
    assert ((goal["offset"] >= 0) & (goal["offset"] < 1)).all()
    # maps that say exactly what the targets say decode back into the targets' boxes and classes
    heat = torch.where(goal["heatmap"] == 1, 10.0, -10.0)
    size, offset = torch.zeros(3, 2, 16, 16), torch.zeros(3, 2, 16, 16)
    size[b, :, ys, xs], offset[b, :, ys, xs] = goal["size"], goal["offset"]
    found = decode(heat, size, offset, stride=STRIDE, image_size=(64, 64), detections=10, min_score=0.5)
    for detected, target in zip(found, TARGETS):
        order = detected["boxes"][:, 0].argsort()
        assert torch.allclose(detected["boxes"][order], target["boxes"][target["boxes"][:, 0].argsort()], atol=1e-5)
        assert sorted(detected["labels"].tolist()) == sorted(target["labels"].tolist())


def test_the_focal_loss_is_lowest_for_the_heatmap_it_aims_at():
    goal = encode(TARGETS, num_classes=3, stride=STRIDE, grid=(16, 16), spread=0.54)["heatmap"]
    right = torch.logit(goal.clamp(1e-4, 1 - 1e-4))
    assert focal_loss(right, goal) < 0.1 * focal_loss(torch.zeros_like(goal), goal)
    assert focal_loss(right, goal) < focal_loss(right.roll(3, dims=-1), goal)


def test_training_returns_finite_losses_that_reach_every_weight_and_evaluation_returns_detections(tmp_path):
    torch.manual_seed(0)
    model = create_model({"name": "centernet", "width": 8, "head_width": 8}, input_shape=(1, 64, 64), num_outputs=3)
    x = torch.randn(3, 1, 64, 64)
    losses = model.train()(x, TARGETS)
    assert set(losses) == {"loss_heatmap", "loss_size", "loss_offset"}
    DetectionTask(["a", "b", "c"]).loss(losses, TARGETS).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    found = model.eval()(x)
    assert len(found) == 3 and all(set(d) == {"boxes", "scores", "labels"} for d in found)
    assert all(len(d["boxes"]) <= 100 and ((d["labels"] >= 0) & (d["labels"] < 3)).all() for d in found)
    with pytest.raises(LayerLabError, match="needs the targets"):
        model.train()(x)
    # sides that do not divide by 2 x stride are padded inside; the boxes stay in the image
    odd = model.eval()(torch.randn(2, 1, 60, 52))
    assert all((d["boxes"] >= 0).all() and (d["boxes"][:, 0::2] <= 52).all() and (d["boxes"][:, 1::2] <= 60).all()
               for d in odd)
    assert any((d["boxes"][:, 0::2] > 48).any() for d in odd)  # some reach into the padded columns, clipped at 52
    # saved and loaded into a model of another seed: the same detections
    save_model(model, str(tmp_path / "model.safetensors"))
    torch.manual_seed(1)
    other = create_model({"name": "centernet", "width": 8, "head_width": 8}, input_shape=(1, 64, 64), num_outputs=3)
    load_model(other, str(tmp_path / "model.safetensors"))
    again = other.eval()(x)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(found, again) for k in a)
    # the weights are stored channels-last (about 1.2x the images/s on the CPU); the default layout computes the same maps
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    plain = other.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        for ours, theirs in zip(model.maps(x), plain.maps(x)):
            torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("option", "message"), [
    ({"width": 2}, "model.width"), ({"stride": 3}, "model.stride"), ({"min_score": 1.5}, "model.min_score"),
    ({"spread": 0}, "model.spread"), ({"detections": 0}, "model.detections"),
])
def test_bad_options_are_refused_with_their_key(option, message):
    with pytest.raises(RecipeError, match=message):
        create_model({"name": "centernet", **option}, input_shape=(1, 64, 64), num_outputs=3)


def test_a_stride_too_large_for_the_image_is_refused():
    with pytest.raises(LayerLabError, match="model.stride: 8 leaves less than 2x2 cells of a 12x12 image"):
        create_model({"name": "centernet", "stride": 8}, input_shape=(1, 12, 12), num_outputs=3)


def test_a_few_seconds_of_training_find_the_garments_of_real_scenes(fashion_dir):
    from layerlab.data import load_data
    from layerlab.data.config import DataConfig

    data = load_data(DataConfig.model_validate({"name": "scenes", "train_scenes": 256, "test_scenes": 64,
                                                "classes": [1, 8], "val_fraction": 0, "path": str(fashion_dir)}),
                     task="detection", seed=0)
    torch.manual_seed(0)
    model = create_model({"name": "centernet", "width": 16, "head_width": 16}, input_shape=data.info.input_shape,
                         num_outputs=data.info.num_classes)
    task = DetectionTask(data.info.class_names)
    before, _ = task.evaluate(model, data.test, batch_size=64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(10):  # epochs of 8 batches of 32
        for batch in torch.randperm(len(data.train.x), generator=generator).split(32):
            loss = task.loss(task.forward(model, data.train.x[batch], data.train.y[batch]), None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    after, _ = task.evaluate(model, data.test, batch_size=64)
    assert before["map_50"] < 0.1, before
    assert after["map_50"] > 0.5, (before, after)
