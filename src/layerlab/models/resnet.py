"""``resnet18``, ``resnet34``, ``resnet50``: torchvision's ResNets, adapted to small images.

torchvision's ``ResNet`` (no pretrained weights) gives the blocks and stages; we change what assumes
224-pixel photos:

- the stem: a 3x3 stride-1 convolution and no max-pool for inputs under 64 pixels (``stem: small``),
  where the 7x7 stride-2 convolution and max-pool (``stem: imagenet``) would shrink a 28x28 image to
  7x7 before the first block;
- the first convolution takes the data's channels; ``width`` sets the first stage's channels
  (torchvision's 64), each later stage doubling them;
- the average pool is a plain mean (deterministic on CUDA), the last layer has ``num_outputs``.

The module keeps torchvision's names (``conv1``, ``layer1`` ... ``layer4``, ``fc``), so with
``stem: imagenet``, ``width: 64`` and 3 channels a torchvision checkpoint loads into it.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from layerlab.models.base import MODELS
from layerlab.models.configs_image import ResNetConfig
from layerlab.models.layers import GlobalAvgPool, channels_last, image_shape, torchvision_init_

SMALL_BELOW = 64  # pixels: inputs smaller than this get the small stem under ``stem: auto``


@MODELS.register("resnet18")
def build_resnet18(cfg: ResNetConfig, input_shape: tuple[int, ...], num_outputs: int) -> ResNet:
    """ResNet-18: basic blocks, stages of 2, 2, 2, 2."""
    return _resnet(BasicBlock, [2, 2, 2, 2], cfg, input_shape, num_outputs)


@MODELS.register("resnet34")
def build_resnet34(cfg: ResNetConfig, input_shape: tuple[int, ...], num_outputs: int) -> ResNet:
    """ResNet-34: basic blocks, stages of 3, 4, 6, 3."""
    return _resnet(BasicBlock, [3, 4, 6, 3], cfg, input_shape, num_outputs)


@MODELS.register("resnet50")
def build_resnet50(cfg: ResNetConfig, input_shape: tuple[int, ...], num_outputs: int) -> ResNet:
    """ResNet-50: bottleneck blocks (4x expansion), stages of 3, 4, 6, 3."""
    return _resnet(Bottleneck, [3, 4, 6, 3], cfg, input_shape, num_outputs)


def _resnet(
    block: type[BasicBlock | Bottleneck], stages: list[int], cfg: ResNetConfig, input_shape: tuple[int, ...], num_outputs: int
) -> ResNet:
    channels, height, width = image_shape(cfg.name, input_shape)
    net = ResNet(block, stages, num_classes=num_outputs)
    if cfg.width != 64:
        _rebuild_stages(net, block, stages, cfg.width)
        net.fc = nn.Linear(cfg.width * 8 * block.expansion, num_outputs)
    small = cfg.stem == "small" or (cfg.stem == "auto" and min(height, width) < SMALL_BELOW)
    if small:
        net.conv1 = nn.Conv2d(channels, cfg.width, kernel_size=3, stride=1, padding=1, bias=False)  # (B, width, H, W)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = nn.Conv2d(channels, cfg.width, kernel_size=7, stride=2, padding=3, bias=False)  # (B, width, H/2, W/2)
    net.bn1 = nn.BatchNorm2d(cfg.width)
    net.avgpool = GlobalAvgPool()  # (B, C, H', W') -> (B, C)
    torchvision_init_(net)  # the replaced layers get the same initialisation as the rest
    if cfg.zero_init_residual:
        for m in net.modules():
            if isinstance(m, (BasicBlock, Bottleneck)):
                nn.init.zeros_(m.bn2.weight if isinstance(m, BasicBlock) else m.bn3.weight)
    return channels_last(net)


def _rebuild_stages(net: ResNet, block: type[BasicBlock | Bottleneck], stages: list[int], width: int) -> None:
    """Replace ``layer1`` ... ``layer4`` with stages of ``width``, ``2 * width``, ... channels.

    torchvision's ``_make_layer`` builds each stage from ``net.inplanes`` (the channels coming in),
    so setting that first reuses its logic, downsampling shortcuts included.
    """
    net.inplanes = width
    for i, depth in enumerate(stages):
        stage = net._make_layer(block, width * 2**i, depth, stride=1 if i == 0 else 2)
        setattr(net, f"layer{i + 1}", stage)
