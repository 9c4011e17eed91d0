"""``vgg11``, ``vgg16``: torchvision's VGG layer lists, adapted to small images.

The convolutions come from torchvision's configuration lists (``torchvision.models.vgg.cfgs``) and
``make_layers``; we change what assumes 224-pixel photos:

- the first convolution takes the data's channels, and ``width`` scales every layer's channels;
- a max-pool that would shrink the map below 1x1 is dropped, so 8x8, 28x28 and 32x32 inputs all work;
- ``head: small`` (the ``auto`` choice below 64 pixels) averages the map to 1x1 and classifies with
  one hidden layer of ``head_hidden``; ``head: imagenet`` is torchvision's 7x7 pool and two 4096-wide
  layers (its ``nn.AdaptiveAvgPool2d`` has no deterministic CUDA backward).

The module keeps torchvision's names (``features``, ``avgpool``, ``classifier``).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from layerlab.models.base import MODELS
from layerlab.models.configs_image import VGGConfig
from layerlab.models.layers import GlobalAvgPool, channels_last, image_shape, torchvision_init_

SMALL_BELOW = 64  # pixels: inputs smaller than this get the small head under ``head: auto``
LAYERS = {"vgg11": cfgs["A"], "vgg16": cfgs["D"]}  # channel counts, "M" for a 2x2 max-pool


@MODELS.register("vgg11")
def build_vgg11(cfg: VGGConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """VGG-11: 8 convolutions in 5 stages."""
    return _vgg(cfg, input_shape, num_outputs)


@MODELS.register("vgg16")
def build_vgg16(cfg: VGGConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """VGG-16: 13 convolutions in 5 stages."""
    return _vgg(cfg, input_shape, num_outputs)


def _vgg(cfg: VGGConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    channels, height, width = image_shape(cfg.name, input_shape)
    layers = _layer_list(LAYERS[cfg.name], cfg.width, min(height, width))
    features = make_layers(layers, batch_norm=cfg.batch_norm)  # expects 3 input channels
    first = features[0]
    features[0] = nn.Conv2d(channels, first.out_channels, kernel_size=3, padding=1)  # (B, C, H, W) -> (B, 64w, H, W)
    last_channels = [v for v in layers if v != "M"][-1]
    small = cfg.head == "small" or (cfg.head == "auto" and min(height, width) < SMALL_BELOW)
    if small:
        pool, sizes = GlobalAvgPool(), [last_channels, cfg.head_hidden]  # (B, C)
    else:
        pool, sizes = nn.AdaptiveAvgPool2d((7, 7)), [last_channels * 7 * 7, 4096, 4096]  # (B, C, 7, 7)
    model = nn.Sequential(OrderedDict(
        features=features,
        avgpool=pool,
        flatten=nn.Flatten(),
        classifier=_classifier(sizes, num_outputs, cfg.dropout),  # (B, num_outputs)
    ))
    _init(model)
    return channels_last(model)


def _layer_list(layers: list[int | str], width: float, side: int) -> list[int | str]:
    """torchvision's list with channels scaled by ``width`` and the pools that would leave < 1 pixel dropped."""
    out: list[int | str] = []
    for v in layers:
        if v == "M":
            if side // 2 < 1:
                continue
            side //= 2
            out.append("M")
        else:
            out.append(max(1, round(int(v) * width)))
    return out


def _classifier(sizes: list[int], num_outputs: int, dropout: float) -> nn.Sequential:
    """Linear -> ReLU -> Dropout for each hidden size, then the output layer."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU(inplace=True), nn.Dropout(dropout)]
    layers.append(nn.Linear(sizes[-1], num_outputs))
    return nn.Sequential(*layers)


def _init(model: nn.Module) -> None:
    """torchvision's VGG initialisation: He-normal convs, norms at 1 and 0, linear weights N(0, 0.01)."""
    torchvision_init_(model)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
