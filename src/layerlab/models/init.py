"""Weight initialisation by name: the recipe's ``model.init``.

A scheme is applied to the weights of every linear and convolution layer (transposed ones included);
their biases are set to zero and normalisation layers to weight 1, bias 0. ``default`` leaves the
model as its builder made it (PyTorch's, or torchvision's for ResNet and VGG). Random draws come from
torch's global generator: seed it (``torch.manual_seed``) before calling for a repeatable result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.nn.modules.conv import _ConvNd

from layerlab.errors import LayerLabError, did_you_mean
from layerlab.models.base import Init

_SCHEMES: dict[str, Callable[[torch.Tensor], object]] = {
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    # He et al. with the gain of ReLU (sqrt 2), scaled by fan-in: std = sqrt(2 / fan_in)
    "kaiming_uniform": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "kaiming_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "orthogonal": nn.init.orthogonal_,
}
_NORMS = (_NormBase, nn.LayerNorm, nn.GroupNorm)


def init_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise ``model`` in place with ``scheme`` (one of ``layerlab.models.base.Init``).

    Raises ``LayerLabError`` for an unknown scheme.
    """
    if scheme == "default":
        return
    if scheme not in _SCHEMES:
        known = ", ".join(get_args(Init))
        raise LayerLabError(f"'{scheme}' is not a known weight initialisation{did_you_mean(scheme, get_args(Init))} (known: {known})")
    fill = _SCHEMES[scheme]
    for module in model.modules():
        if isinstance(module, (nn.Linear, _ConvNd)):
            _fill(module.weight, fill)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, _NORMS) and getattr(module, "weight", None) is not None:
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _fill(weight: torch.Tensor, fill: Callable[[torch.Tensor], object]) -> None:
    if weight.is_contiguous():
        fill(weight)
        return
    # channels-last conv weights: orthogonal_ must view the weight as a matrix, so fill a plain copy
    plain = torch.empty(weight.shape, dtype=weight.dtype, device=weight.device)
    fill(plain)
    with torch.no_grad():
        weight.copy_(plain)
