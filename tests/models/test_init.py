"""Weight initialisation: each scheme gives the weight statistics its paper says, repeatably."""

from __future__ import annotations

import math
from typing import get_args

import pytest
import torch
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.models import create_model, init_weights
from layerlab.models.base import Init

FAN_IN, FAN_OUT = 400, 300


def linear(scheme: str, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    init_weights(layer, scheme)
    return layer


def test_xavier_uniform_fills_up_to_its_bound():
    w = linear("xavier_uniform").weight
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert w.abs().max() <= bound
    assert w.abs().max() > 0.99 * bound
    assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_xavier_normal_std():
    assert linear("xavier_normal").weight.std().item() == pytest.approx(math.sqrt(2 / (FAN_IN + FAN_OUT)), rel=0.02)


@pytest.mark.parametrize("scheme", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_std_has_the_relu_gain_over_fan_in(scheme):
    w = linear(scheme).weight
    assert w.mean().item() == pytest.approx(0, abs=0.002)
    assert w.std().item() == pytest.approx(math.sqrt(2 / FAN_IN), rel=0.02)


def test_orthogonal_square_layer():
    torch.manual_seed(0)
    layer = nn.Linear(64, 64)
    init_weights(layer, "orthogonal")
    w = layer.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(64), atol=1e-5, rtol=0)


def test_orthogonal_on_channels_last_conv_weights():
    """The CNN keeps conv weights channels-last; orthogonal must still give orthonormal rows."""
    torch.manual_seed(0)
    model = create_model({"name": "cnn", "init": "orthogonal"}, input_shape=(1, 28, 28), num_outputs=10)
    conv = model.features.block1[3]  # 32 -> 32 channels, 3x3: a 32 x 288 matrix
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    w = conv.weight.detach().reshape(32, -1)
    torch.testing.assert_close(w @ w.T, torch.eye(32), atol=1e-5, rtol=0)


@pytest.mark.parametrize("scheme", [s for s in get_args(Init) if s != "default"])
def test_scheme_zeroes_biases_resets_norms_and_is_repeatable(scheme):
    def build(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return create_model({"name": "mlp", "hidden": [32], "batch_norm": True, "init": scheme}, input_shape=(12,), num_outputs=3)

    model = build(0)
    with torch.no_grad():  # disturb the norm, to see the scheme reset it
        model[2].weight.fill_(3)
    init_weights(model, scheme)
    assert torch.count_nonzero(model[-1].bias) == 0
    assert torch.all(model[2].weight == 1) and torch.all(model[2].bias == 0)
    same, other = build(0), build(1)
    assert all(torch.equal(a, b) for a, b in zip(build(0).parameters(), same.parameters()))
    assert not torch.equal(same[1].weight, other[1].weight)


def test_default_leaves_the_builders_weights():
    torch.manual_seed(0)
    layer = nn.Linear(5, 4)
    before = [p.clone() for p in layer.parameters()]
    init_weights(layer, "default")
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))


def test_create_model_applies_the_scheme_to_conv_weights():
    torch.manual_seed(0)
    model = create_model({"name": "cnn", "init": "kaiming_normal", "width": 64}, input_shape=(1, 28, 28), num_outputs=10)
    conv = model.features.block2[0]  # 64 -> 128 channels, 3x3: fan-in 576
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.02)


def test_unknown_scheme_is_refused_with_a_hint():
    with pytest.raises(LayerLabError, match="did you mean 'xavier_uniform'"):
        init_weights(nn.Linear(2, 2), "xavier_uniforn")
