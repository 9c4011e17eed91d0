"""``unet``: the U-Net of Ronneberger et al. (2015) for segmentation, small and readable.

    (B, C, H, W) -> down 1 ─────────────────────────────► up 1 -> 1x1 conv -> (B, classes, H, W)
                     └─ pool -> down 2 ───────────► up 2 ─┘
                                  └─ pool -> ... bottom ┘

Each level is two 3x3 conv -> batch norm -> ReLU with ``width``, ``2 * width``, ... channels; going up,
a 2x2 transposed convolution doubles the map and the level's skip connection is concatenated before its
two convolutions. Sides that do not divide by ``2 ** depth`` are padded on the way in and cropped on the
way out, so any image size works. With ``width: 16, depth: 3`` it has about 0.47M parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.models.base import MODELS
from layerlab.models.configs_image import UNetConfig
from layerlab.models.layers import channels_last, image_shape


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, *, width: int, depth: int, dropout: float = 0.0):
        super().__init__()
        widths = [width * 2**i for i in range(depth + 1)]  # top level to the bottom
        self.depth = depth
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])] +
                                  [_double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.dropout = nn.Dropout2d(dropout)
        self.upsample = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                       for i in reversed(range(depth))])
        self.up = nn.ModuleList([_double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        step = 2**self.depth
        x = F.pad(x, (0, -width % step, 0, -height % step))  # sides divisible by 2 ** depth
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))  # (B, width * 2**i, H / 2**i, W / 2**i)
            skips.append(x)
        x = self.dropout(skips.pop())
        for upsample, block in zip(self.upsample, self.up):
            x = block(torch.cat([upsample(x), skips.pop()], 1))
        return self.head(x)[..., :height, :width]  # (B, classes, H, W)


@MODELS.register("unet")
def build_unet(cfg: UNetConfig, input_shape: tuple[int, ...], num_outputs: int) -> UNet:
    channels, _, _ = image_shape("unet", input_shape)
    # channels-last weights: 1.4x the steps of the default layout for width 16, depth 4 on 64x64 (bf16, 1 thread)
    return channels_last(UNet(channels, num_outputs, width=cfg.width, depth=cfg.depth, dropout=cfg.dropout))
