"""The LR finder on a toy problem: its suggestion lies where the loss falls, and it draws the plot."""

from __future__ import annotations

import math

import pytest

from layerlab.errors import LayerLabError
from layerlab.transfer import lr_find
from layerlab.transfer.lr_finder import suggest

TOY = {"data": {"name": "digits", "limit": 600}, "model": {"name": "mlp", "hidden": [32]},
       "train": {"batch_size": 32, "optimizer": "sgd", "momentum": 0.0}}


def test_suggestion_lies_where_the_loss_falls(tmp_path):
    result = lr_find(TOY, start=1e-5, end=100, steps=80, out=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 0
    lrs, losses = result.lrs, result.losses
    at = lrs.index(result.suggestion)
    lowest = losses.index(min(losses))
    assert at < lowest  # before the bottom of the curve
    assert losses[min(at + 5, lowest)] < losses[max(at - 5, 0)]  # the loss is falling there
    assert min(losses) < 0.9 * losses[0]  # a range test trains briefly: the loss falls, it does not converge
    assert 1e-3 <= result.suggestion <= 10  # plain SGD on standardised digits learns in this range


def test_suggest_on_a_known_curve():
    lrs = [10 ** (-4 + i * 0.1) for i in range(50)]
    # flat, a fall centred at 1e-2, then a blow-up
    losses = [2 - math.tanh((math.log10(lr) + 2) * 3) + (max(0, math.log10(lr)) * 5) for lr in lrs]
    assert 10**-2.3 <= suggest(lrs, losses) <= 10**-1.7
    with pytest.raises(LayerLabError, match="only 3 steps"):
        suggest(lrs[:3], losses[:3])
