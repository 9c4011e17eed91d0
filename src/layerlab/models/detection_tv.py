"""``tv-detection``: torchvision's detectors (Faster R-CNN, RetinaNet, FCOS, SSDlite, Mask R-CNN).

    model: {name: tv-detection, arch: fasterrcnn_mobilenet_v3_large_fpn}               # from scratch, offline
    model: {name: tv-detection, arch: fasterrcnn_resnet50_fpn, weights: DEFAULT}       # COCO weights, online
    model: {name: tv-detection, arch: maskrcnn_resnet50_fpn, weights_path: coco.pth}   # a local file

The network is built with ``weights=None, weights_backbone=None`` (nothing is downloaded); ``weights``
or ``weights_path`` then loads a state dict into it, every tensor whose shape fits (the class-specific
heads, sized for COCO's 91 classes, stay fresh). The loss is inside the model: ``Detector(x, targets)``
in training mode returns torchvision's dict of losses, and in evaluation mode ``Detector(x)`` returns
one ``{"boxes", "labels", "scores"(, "masks")}`` dict per image. Labels are the data's 0-based class
indices on both sides; torchvision's class 0 (the background) is hidden inside the wrapper.

Images come standardised by the data's preprocessing, so torchvision's own normalisation is turned off
(mean 0, std 1) and its resizing keeps them at their size unless ``min_size`` says otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import TVDetectionConfig
from layerlab.models.layers import image_shape


class Detector(nn.Module):
    """A torchvision detector on standardised (B, C, H, W) images with 0-based labels."""

    def __init__(self, net: nn.Module, in_channels: int):
        super().__init__()
        self.net, self.repeat = net, 3 // in_channels

    @property
    def has_masks(self) -> bool:
        return hasattr(getattr(self.net, "roi_heads", None), "mask_predictor") and self.net.roi_heads.mask_predictor is not None

    def forward(self, x: Tensor, targets: list[dict[str, Tensor]] | None = None) -> Any:
        images = list(x.expand(-1, 3, -1, -1) if self.repeat > 1 else x)
        if self.training:
            if targets is None:
                raise LayerLabError("a detector in training mode needs the targets (its loss is inside it)")
            shifted = [{**t, "labels": t["labels"] + 1, **({"masks": t["masks"].to(torch.uint8)} if "masks" in t else {})}
                       for t in targets]
            if not self.has_masks:
                shifted = [{k: v for k, v in t.items() if k != "masks"} for t in shifted]
            return self.net(images, shifted)  # {"loss_classifier": ..., "loss_box_reg": ..., ...}
        found = self.net(images)
        return [{**d, "labels": d["labels"] - 1} for d in found]


@MODELS.register("tv-detection")
def build_tv_detection(cfg: TVDetectionConfig, input_shape: tuple[int, ...], num_outputs: int) -> Detector:
    from torchvision.models import detection

    channels, height, width = image_shape("tv-detection", input_shape)
    if channels not in (1, 3):
        raise LayerLabError(f"model 'tv-detection' takes grey or RGB images (1 or 3 channels), not {channels}")
    side = cfg.min_size or min(height, width)
    options: dict[str, Any] = {"image_mean": [0.0] * 3, "image_std": [1.0] * 3, "detections_per_img": cfg.detections}
    if not cfg.arch.startswith("ssd"):  # SSDlite always works at 320x320
        options.update(min_size=side, max_size=max(side, round(side * max(height, width) / min(height, width))))
    if cfg.proposals is not None and "rcnn" in cfg.arch:
        options.update({f"rpn_{when}_nms_top_n_{mode}": cfg.proposals for when in ("pre", "post") for mode in ("train", "test")})
    net = getattr(detection, cfg.arch)(weights=None, weights_backbone=None, num_classes=num_outputs + 1, **options)
    state = _starting_weights(cfg)
    if state is not None:
        _load_fitting(net, state, source=cfg.weights_path or f"{cfg.arch} {cfg.weights}")
    return Detector(net, channels)


def _starting_weights(cfg: TVDetectionConfig) -> dict[str, Tensor] | None:
    from layerlab.models.pretrained import _download, read_state_dict

    if cfg.weights_path is not None:
        return read_state_dict(cfg.weights_path)
    if cfg.weights is None:
        return None
    import torchvision.models as tvm

    members = tvm.get_model_weights(cfg.arch).__members__
    if cfg.weights not in members:
        raise LayerLabError(f"model.weights: '{cfg.weights}' is not a weights of {cfg.arch} (known: {', '.join(members)})")
    named = cfg.model_copy(update={"name": f"tv-detection {cfg.arch}"})
    return _download(members[cfg.weights], named)


def _load_fitting(net: nn.Module, state: dict[str, Tensor], *, source: str) -> None:
    """Copy every tensor of ``state`` whose name and shape fit ``net``; refuse a state that fits nothing."""
    own = net.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise LayerLabError(f"model.weights: {source}: none of its tensors fit this detector; is it one of the same arch?")
    net.load_state_dict(fitting, strict=False)
