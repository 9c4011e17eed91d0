"""``tv-segmentation``: torchvision's FCN, DeepLabV3 and LR-ASPP, trained from scratch.

They are built with ``weights=None`` and ``weights_backbone=None``: no download, so they work offline;
the backbone is random, like the rest. Grey images (one channel) are repeated to the three channels
these backbones take. The output is the model's ``"out"`` logits (B, classes, H, W), as a U-Net's.
"""

from __future__ import annotations

from torch import Tensor, nn

from layerlab.errors import LayerLabError
from layerlab.models.base import MODELS
from layerlab.models.configs_image import TVSegmentationConfig
from layerlab.models.layers import image_shape


class ThreeChannelSegmenter(nn.Module):
    """A torchvision segmentation model on (B, C, H, W) images, C of 1 or 3, returning its ``"out"`` logits."""

    def __init__(self, net: nn.Module, in_channels: int):
        super().__init__()
        self.net, self.repeat = net, 3 // in_channels

    def forward(self, x: Tensor) -> Tensor:
        if self.repeat > 1:
            x = x.expand(-1, 3, -1, -1)
        return self.net(x)["out"]


@MODELS.register("tv-segmentation")
def build_tv_segmentation(cfg: TVSegmentationConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    from torchvision.models import segmentation

    channels, _, _ = image_shape("tv-segmentation", input_shape)
    if channels not in (1, 3):
        raise LayerLabError(f"model 'tv-segmentation' takes grey or RGB images (1 or 3 channels), not {channels}")
    builder = getattr(segmentation, cfg.arch)
    options = {"aux_loss": False} if not cfg.arch.startswith("lraspp") else {}
    net = builder(weights=None, weights_backbone=None, num_classes=num_outputs, **options)
    return ThreeChannelSegmenter(net, channels)
