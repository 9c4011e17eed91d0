"""``mlp``: a fully connected network on flattened input, for tables and small images."""

from __future__ import annotations

import math

from torch import nn

from layerlab.models.base import MODELS
from layerlab.models.configs_image import MLPConfig
from layerlab.models.layers import activation


@MODELS.register("mlp")
def build_mlp(cfg: MLPConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Sequential:
    """(B, *input_shape) -> flatten -> [Linear -> BatchNorm? -> activation -> Dropout?] x len(hidden) -> Linear."""
    layers: list[nn.Module] = [nn.Flatten()]  # (B, *input_shape) -> (B, F)
    features = math.prod(input_shape)
    for size in cfg.hidden:
        layers.append(nn.Linear(features, size, bias=not cfg.batch_norm))  # a norm's shift makes a bias redundant
        if cfg.batch_norm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(activation(cfg.activation))
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        features = size
    layers.append(nn.Linear(features, num_outputs))  # (B, num_outputs)
    return nn.Sequential(*layers)
