"""``centernet``: a small anchor-free detector, after "Objects as Points" (Zhou, Wang and Krähenbühl, 2019).

    model: {name: centernet, width: 32, stride: 4}

Each object is the peak of a heatmap at its box's centre. The network maps an image to a grid of cells,
``stride`` pixels each, and predicts in every cell:

    heatmap (C, h, w)   how likely the cell holds the centre of an object of class c (a logit)
    size    (2, h, w)   the box's width and height, in cells
    offset  (2, h, w)   where in the cell the centre lies, in [0, 1) of a cell

    image (B, ch, H, W) ─ conv s2 ─ conv s2 ... ─ deepest (H/2stride) ─ 2x up ─┐
                                          └─ level at H/stride ─ 1x1 ───────────+─ 3x3 ─ heads

Training (``model(x, targets)``) returns the losses: a focal loss between the heatmap and gaussians
splatted at the true centres (penalty-reduced near them, as in CornerNet/CenterNet), and L1 losses on
size and offset read only at the true centre cells. Evaluation (``model(x)``) keeps the heatmap's local
maxima (a 3x3 max-pool instead of NMS), the top ``detections`` of them, and turns each into a box:
torchvision-style ``{"boxes" (k, 4) x1 y1 x2 y2 pixels, "scores", "labels" 0-based}`` per image, as the
detection task (``tasks/detection.py``) expects of every detector.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import CenterNetConfig
from layerlab.models.layers import channels_last, image_shape

PRIOR = 0.1  # the heatmap starts near this probability everywhere, so the first focal losses stay small


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _head(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, cout, 1))


class CenterNet(nn.Module):
    """Images (B, ch, H, W) -> a dict of losses (training, with targets) or detections per image (evaluation)."""

    def __init__(self, in_channels: int, num_classes: int, cfg: CenterNetConfig):
        super().__init__()
        self.num_classes, self.stride, self.cfg = num_classes, cfg.stride, cfg
        levels = int(math.log2(cfg.stride)) + 1  # downsamplings: one below the output map, for context
        widths = [cfg.width * 2**i for i in range(levels)]
        self.down = nn.ModuleList([nn.Sequential(_conv(cin, cout, stride=2), _conv(cout, cout))
                                   for cin, cout in zip([in_channels, *widths[:-1]], widths)])
        out = widths[-2]
        self.lateral = nn.Conv2d(out, widths[-1], 1)  # the output level's skip, added to the upsampled deepest
        self.fuse = _conv(widths[-1], out)
        self.heatmap = _head(out, cfg.head_width, num_classes)
        self.box = _head(out, cfg.head_width, 4)  # size (2) and offset (2)
        nn.init.constant_(self.heatmap[-1].bias, math.log(PRIOR / (1 - PRIOR)))

    def maps(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Heatmap logits (B, C, h, w), sizes (B, 2, h, w) and offsets (B, 2, h, w): h = H / stride, w = W / stride,
        after padding H and W at the bottom and right up to multiples of 2 x stride (the padding holds no centre)."""
        step = 2 * self.stride  # pad so that every level halves exactly
        x = F.pad(x, (0, -x.shape[-1] % step, 0, -x.shape[-2] % step))
        features = []
        for block in self.down:
            x = block(x)
            features.append(x)
        # the deepest level, twice upsampled, meets the output level: (B, widths[-1], h, w)
        x = F.interpolate(features[-1], scale_factor=2.0, mode="nearest") + self.lateral(features[-2])
        x = self.fuse(x)
        box = self.box(x)
        return self.heatmap(x), box[:, :2], box[:, 2:]

    def forward(self, x: Tensor, targets: list[dict[str, Tensor]] | None = None):
        if self.training and targets is None:
            raise LayerLabError("a detector in training mode needs the targets (its loss is inside it)")
        heat, size, offset = self.maps(x)
        if self.training:
            return self.losses(heat, size, offset, targets)
        return decode(heat, size, offset, stride=self.stride, image_size=x.shape[-2:],
                      detections=self.cfg.detections, min_score=self.cfg.min_score)

    def losses(self, heat: Tensor, size: Tensor, offset: Tensor, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        goal = encode(targets, num_classes=self.num_classes, stride=self.stride, grid=heat.shape[-2:],
                      spread=self.cfg.spread)
        count = max(len(goal["cells"]), 1)
        b, ys, xs = goal["cells"].unbind(1)
        return {
            "loss_heatmap": focal_loss(heat.float(), goal["heatmap"]) / count,
            "loss_size": self.cfg.size_weight * F.l1_loss(size[b, :, ys, xs].float(), goal["size"], reduction="sum") / count,
            "loss_offset": self.cfg.offset_weight * F.l1_loss(offset[b, :, ys, xs].float(), goal["offset"], reduction="sum") / count,
        }


def focal_loss(logits: Tensor, goal: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss (alpha 2, beta 4), summed: cells where ``goal`` is 1 are centres;
    elsewhere the loss of a high prediction shrinks by (1 - goal)^4 near a centre."""
    p = torch.sigmoid(logits)
    centre = goal.eq(1).float()
    positive = F.logsigmoid(logits) * (1 - p) ** 2 * centre
    negative = F.logsigmoid(-logits) * p**2 * (1 - goal) ** 4 * (1 - centre)
    return -(positive + negative).sum()


@torch.no_grad()
def encode(targets: list[dict[str, Tensor]], *, num_classes: int, stride: int, grid: tuple[int, int],
           spread: float) -> dict[str, Tensor]:
    """The training targets of a batch of boxes: ``heatmap`` (B, C, h, w) with a gaussian peaking at exactly 1
    in each object's centre cell; for the N objects, their ``cells`` (N, 3) as (image, row, column), ``size``
    (N, 2) width and height in cells and ``offset`` (N, 2) of the centre inside its cell."""
    h, w = grid
    device = targets[0]["boxes"].device if targets else torch.device("cpu")
    boxes = torch.cat([t["boxes"].float().reshape(-1, 4) for t in targets]).to(device) / stride
    labels = torch.cat([t["labels"].reshape(-1) for t in targets]).to(device).long()
    image = torch.cat([torch.full((len(t["labels"]),), i, dtype=torch.long) for i, t in enumerate(targets)]).to(device)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2  # (N, 2) x, y in cells
    cell = centre.floor().long()
    cell[:, 0].clamp_(0, w - 1)
    cell[:, 1].clamp_(0, h - 1)
    sides = boxes[:, 2:] - boxes[:, :2]  # (N, 2) width, height in cells
    sigma = (spread * sides / 6).clamp(min=0.1)
    cols = torch.arange(w, device=device).float()
    rows = torch.arange(h, device=device).float()
    gx = torch.exp(-((cols[None] - cell[:, :1]) ** 2) / (2 * sigma[:, :1] ** 2))  # (N, w)
    gy = torch.exp(-((rows[None] - cell[:, 1:]) ** 2) / (2 * sigma[:, 1:] ** 2))  # (N, h)
    blobs = gy[:, :, None] * gx[:, None, :]  # (N, h, w), exactly 1 at the centre cell
    heatmap = torch.zeros(len(targets) * num_classes, h * w, device=device)
    channel = (image * num_classes + labels)[:, None].expand(-1, h * w)  # (N, h*w): the object's image and class
    heatmap.scatter_reduce_(0, channel, blobs.flatten(1), "amax")  # where gaussians overlap, the larger
    return {"heatmap": heatmap.view(len(targets), num_classes, h, w),
            "cells": torch.stack([image, cell[:, 1], cell[:, 0]], 1), "size": sides, "offset": centre - cell}


@torch.no_grad()
def decode(heat: Tensor, size: Tensor, offset: Tensor, *, stride: int, image_size: tuple[int, int],
           detections: int, min_score: float) -> list[dict[str, Tensor]]:
    """Detections from the maps: each local maximum of the heatmap (3x3) among the top ``detections`` that
    scores at least ``min_score`` becomes a box centred at its cell plus offset, of the predicted size."""
    batch, classes, h, w = heat.shape
    scores = torch.sigmoid(heat.float())
    peaks = scores * (F.max_pool2d(scores, 3, stride=1, padding=1) == scores)
    top, index = peaks.flatten(1).topk(min(detections, classes * h * w))  # (B, k)
    labels, cell = index // (h * w), index % (h * w)
    ys, xs = cell // w, cell % w
    size = size.float().flatten(2).gather(2, cell[:, None].expand(-1, 2, -1))  # (B, 2, k) width, height in cells
    offset = offset.float().flatten(2).gather(2, cell[:, None].expand(-1, 2, -1))
    cx, cy = (xs + offset[:, 0]) * stride, (ys + offset[:, 1]) * stride
    half_w, half_h = size[:, 0].clamp(min=0) * stride / 2, size[:, 1].clamp(min=0) * stride / 2
    height, width = image_size
    boxes = torch.stack([(cx - half_w).clamp(0, width), (cy - half_h).clamp(0, height),
                         (cx + half_w).clamp(0, width), (cy + half_h).clamp(0, height)], -1)  # (B, k, 4)
    found = []
    for i in range(batch):
        keep = top[i] >= min_score
        found.append({"boxes": boxes[i][keep], "scores": top[i][keep], "labels": labels[i][keep]})
    return found


@MODELS.register("centernet")
def build_centernet(cfg: CenterNetConfig, input_shape: tuple[int, ...], num_outputs: int) -> CenterNet:
    channels, height, width = image_shape("centernet", input_shape)
    if min(height, width) < 2 * cfg.stride:
        raise LayerLabError(f"model.stride: {cfg.stride} leaves less than 2x2 cells of a {height}x{width} image; "
                            f"use a smaller stride (2 or 4)")
    # channels-last weights: 1.19x the images/s of the default layout for scenes-detection's model (width 48, 64x64,
    # batch 32) and 1.22x for pennfudan-detection's (width 32, 256x256, batch 8), fp32, 2 threads (BENCHMARKS.md)
    return channels_last(CenterNet(channels, num_outputs, cfg))
