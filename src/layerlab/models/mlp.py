"""``mlp``: a fully connected network on flattened input, for tables and small images."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator
from torch import nn

from layerlab.models.base import MODELS, ModelConfig
from layerlab.models.layers import Activation, activation


class MLPConfig(ModelConfig):
    name: Literal["mlp"] = Field("mlp", description="a fully connected network")
    hidden: list[int] = Field([256, 128], description="sizes of the hidden layers, input side first ([] = a linear model)")
    activation: Activation = Field("relu", description="after each hidden layer: relu, gelu, tanh, sigmoid or leaky_relu")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability after each hidden activation")
    batch_norm: bool = Field(False, description="batch normalisation between each hidden layer and its activation")

    @field_validator("hidden")
    @classmethod
    def _positive(cls, sizes: list[int]) -> list[int]:
        if any(size < 1 for size in sizes):
            raise ValueError(f"hidden sizes must be positive, got {sizes}")
        return sizes


@MODELS.register("mlp", config=MLPConfig, description="fully connected layers on flattened input", group="mlp")
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
