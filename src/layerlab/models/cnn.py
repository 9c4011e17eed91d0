"""``cnn``: a small, fast convolutional network for small images (digits, Fashion-MNIST, CIFAR-10).

    (B, C, H, W) -> block 1 -> max-pool -> block 2 -> ... -> block n -> global average pool -> head -> (B, outputs)

A block is ``convs_per_block`` times conv -> batch norm -> activation, with ``width``, ``2 * width``,
``4 * width`` ... channels. The 2x2 max-pool between blocks is skipped once the map is 2 pixels or
less, so the same network takes 8x8 digits and 32x32 photos. The defaults (32, 64, 128 channels, BN,
ReLU; 288k parameters, 58 MFLOPs per 28x28 image) reached 93.4% on Fashion-MNIST's test set after
5 epochs of AdamW with a one-cycle schedule, about 75 s per epoch on 2 CPU cores.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from layerlab.models.base import MODELS
from layerlab.models.configs_image import CNNConfig
from layerlab.models.layers import GlobalAvgPool, activation, channels_last, image_shape


@MODELS.register("cnn")
def build_cnn(cfg: CNNConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """The network of the module docstring, as ``features`` -> ``pool`` -> ``head``."""
    channels, height, width = image_shape("cnn", input_shape)
    features: OrderedDict[str, nn.Module] = OrderedDict()
    side = min(height, width)
    for i in range(1, cfg.blocks + 1):
        if i > 1 and side > 2:
            features[f"pool{i - 1}"] = nn.MaxPool2d(2)  # (B, C, H, W) -> (B, C, H/2, W/2)
            side //= 2
        out = cfg.width * 2 ** (i - 1)
        features[f"block{i}"] = _block(channels, out, cfg)  # (B, out, H', W')
        channels = out
    model = nn.Sequential(OrderedDict(
        features=nn.Sequential(features),
        pool=GlobalAvgPool(),  # (B, C) with C = width * 2**(blocks-1)
        head=_head(channels, num_outputs, cfg),  # (B, num_outputs)
    ))
    return channels_last(model)


def _block(in_channels: int, out_channels: int, cfg: CNNConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(cfg.convs_per_block):
        # batch norm's shift makes the convolution's bias redundant
        layers.append(nn.Conv2d(in_channels, out_channels, cfg.kernel_size, padding=cfg.kernel_size // 2, bias=not cfg.batch_norm))
        if cfg.batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(activation(cfg.activation))
        in_channels = out_channels
    return nn.Sequential(*layers)


def _head(in_features: int, num_outputs: int, cfg: CNNConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    if cfg.head_hidden:
        layers += _dropout(cfg.dropout) + [nn.Linear(in_features, cfg.head_hidden), activation(cfg.activation)]
        in_features = cfg.head_hidden
    layers += _dropout(cfg.dropout) + [nn.Linear(in_features, num_outputs)]
    return nn.Sequential(*layers)


def _dropout(p: float) -> list[nn.Module]:
    return [nn.Dropout(p)] if p > 0 else []
