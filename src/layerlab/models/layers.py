"""Small pieces every model family shares: the activation resolver, input-shape checks, pooling, token embeddings,
trimming padded token batches."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from layerlab.errors import LayerLabError, did_you_mean
from layerlab.models.base import Activation  # noqa: F401  (the names _ACTIVATIONS covers; declared with the configs)

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module for a recipe name (``"relu"`` -> ``nn.ReLU()``).

    Raises ``LayerLabError`` for an unknown name, listing the known ones and the closest match.
    """
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        known = ", ".join(_ACTIVATIONS)
        raise LayerLabError(f"'{name}' is not a known activation{did_you_mean(name, _ACTIVATIONS)} (known: {known})") from None


def image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(channels, height, width)`` of an image input, or a ``LayerLabError`` saying what ``model`` needs."""
    if len(input_shape) != 3:
        shown = "x".join(map(str, input_shape)) or "a scalar"
        hint = "; for flat (tabular) features use the mlp model" if len(input_shape) == 1 else ""
        raise LayerLabError(
            f"model '{model}' needs image input of shape channels x height x width (e.g. 1x28x28 or 3x32x32), "
            f"but the data's input shape is {shown}{hint}"
        )
    channels, height, width = input_shape
    return channels, height, width


class GlobalAvgPool(nn.Module):
    """Mean over the spatial dimensions: (B, C, H, W) -> (B, C).

    Used instead of ``nn.AdaptiveAvgPool2d(1)``, whose backward pass has no deterministic CUDA kernel
    (it raises under ``torch.use_deterministic_algorithms(True)``).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(-2, -1))


def torchvision_init_(model: nn.Module) -> None:
    """torchvision's ResNet/VGG initialisation: He-normal (fan-out) convs with zero bias, norms at 1 and 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def channels_last(model: nn.Module) -> nn.Module:
    """``model`` with its 4-d (convolution) weights stored channels-last, in place; returns it.

    oneDNN (CPU) and cuDNN with tensor cores run convolutions about 1.3x faster on this layout (measured
    on 2 CPU cores for the default ``cnn``), and a convolution picks it from its weight alone, so inputs
    can stay as they are. ``state_dict()`` tensors are then not contiguous: save them with
    ``safetensors.torch.save_model`` or call ``.contiguous()`` before ``save_file``.
    """
    return model.to(memory_format=torch.channels_last)


class TokenEmbedding(nn.Embedding):
    """Token ids (B, T) -> vectors (B, T, E); id 0 is padding and its row stays zero.

    ``init``: the rows start uniform in [-init, init] (Kim 2014's random word vectors: 0.25) instead of
    torch's N(0, 1). ``word_dropout``: in training, each token's whole vector is zeroed with this
    probability and the others scaled up by 1 / (1 - p), so the model cannot lean on any one word.
    """

    def __init__(self, tokens: int, dim: int, *, init: float | None = None, word_dropout: float = 0.0):
        super().__init__(tokens, dim, padding_idx=0)
        self.word_dropout = word_dropout
        if init is not None:
            with torch.no_grad():
                self.weight.uniform_(-init, init)
                self.weight[0] = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = super().forward(x)  # (B, T, E)
        if self.training and self.word_dropout > 0:
            kept = torch.rand(e.shape[:2], device=e.device) >= self.word_dropout  # (B, T)
            e = e * (kept.unsqueeze(2) / (1 - self.word_dropout)).to(e.dtype)
        return e


def no_token_options(cfg: object) -> None:
    """Refuses the token-embedding options (``embed_init``, ``word_dropout``) of a model reading float features."""
    given = [key for key in ("embed_init", "word_dropout") if getattr(cfg, key, None)]
    if given:
        raise LayerLabError(f"model.{given[0]} shapes a token embedding, but this model reads float features "
                            "(the data has no tokenizer); leave it out")


_TRIMMING: ContextVar[bool] = ContextVar("trimming", default=True)


@contextmanager
def untrimmed() -> Iterator[None]:
    """Inside it ``trim_padding`` keeps every column: for what needs the model at the data's full width, such
    as integrated gradients, whose all-padding baseline must have the shape of the sentence it explains."""
    token = _TRIMMING.set(False)
    try:
        yield
    finally:
        _TRIMMING.reset(token)


def trim_padding(ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """(B, T) right-padded token ids without the trailing columns that are padding in every row (at least
    one column is kept), so a batch costs its longest sentence, not the data's max_length. Exact for a
    model that masks padding wherever it is a key, a pooled position or a target. Inside ``untrimmed()``
    the ids come back whole."""
    if not _TRIMMING.get():
        return ids
    used = (ids != pad_id).any(0).nonzero()  # (T', 1) indices of the columns with a real token
    return ids[:, : int(used.max()) + 1 if len(used) else 1]


def masked_mean(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, C): the mean over the steps that ``keep`` (B, T) marks; zeros for a row with none."""
    return (h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1)


def masked_max(h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, T, C) -> (B, C): the max over the steps that ``keep`` (B, T) marks; zeros for a row with none
    (an empty sentence), where a max over nothing would be -inf and turn the outputs into NaN."""
    pooled = h.masked_fill(~keep[..., None], float("-inf")).max(1).values  # (B, C)
    return pooled.masked_fill(~keep.any(1, keepdim=True), 0.0)
