"""What every model family shares: its config base class and the registry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.config import Section
from layerlab.registry import Registry

Init = Literal["default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"]

MODELS: Registry = Registry("model")


class ModelConfig(Section):
    """Base of a model family's options; a family's constructor arguments are exactly its fields."""

    name: str = Field(description="the model family or variant")
    init: Init = Field("default", description="weight initialisation: default (the family's own), xavier_uniform/normal, kaiming_uniform/normal, orthogonal")
