"""What every model family shares: its config base class and the registry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from layerlab.config import Section
from layerlab.registry import Registry

Activation = Literal["relu", "gelu", "tanh", "sigmoid", "leaky_relu"]
Init = Literal["default", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal"]

MODELS: Registry = Registry("model")


class ModelConfig(Section):
    """Base of a model family's options; a family's constructor arguments are exactly its fields."""

    name: str = Field(description="the model family or variant")
    init: Init = Field("default", description="weight initialisation: default (the family's own), xavier_uniform/normal, kaiming_uniform/normal, orthogonal")
    from_run: str | None = Field(None, description="start from the weights of this earlier run directory, all but the head (same family and sizes); inputs are prepared as that run prepared them (its image statistics, its tokenizer)")

    def architecture_only(self) -> ModelConfig:
        """The same model without loading any weights (pretrained, from a run): for weights that are
        loaded next from a run directory, or for showing the architecture. Families that load weights override it."""
        return self.model_copy(update={"from_run": None})


class TokenEmbeddingConfig(ModelConfig):
    """Options of a family that embeds tokens (``layers.TokenEmbedding``): textcnn, the recurrent nets, transformer."""

    embed_init: float | None = Field(None, gt=0, description="token input: initial token vectors uniform in [-a, a] (Kim used 0.25); None: torch's N(0, 1)")
    word_dropout: float = Field(0.0, ge=0, lt=1, description="token input: in training, the probability that a whole token's embedding is zeroed (the rest scaled up)")
