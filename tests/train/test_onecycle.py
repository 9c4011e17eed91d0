"""``onecycle``'s actual values, pinned against a hand computation (issue 28: what it claims must be true)."""

from __future__ import annotations

import math

import pytest

from layerlab.recipe import TrainConfig
from layerlab.train.optim import lr_factor

EPOCHS, PER_EPOCH = 10, 10  # 100 optimiser steps; the rise ends at step 30


def onecycle(step: int, **kw) -> float:
    return lr_factor(TrainConfig(schedule="onecycle", epochs=EPOCHS, **kw), step, PER_EPOCH)


def by_hand(step: int) -> float:
    """Cosine from 1/25 up to 1 over the first 30 % of the steps, then cosine from 1 down to 1e-4."""
    progress = step / (EPOCHS * PER_EPOCH)
    if progress < 0.3:
        start, end, t = 1 / 25, 1.0, progress / 0.3
    else:
        start, end, t = 1.0, 1e-4, (progress - 0.3) / 0.7
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * t))


def test_onecycle_starts_at_a_25th_peaks_at_30_percent_and_ends_at_a_10000th():
    assert onecycle(0) == pytest.approx(1 / 25, rel=1e-12)  # lr / 25 (torch's div_factor)
    assert onecycle(15) == pytest.approx(1 - 0.96 * 0.5, rel=1e-12)  # half-way up the cosine: 0.52
    assert onecycle(30) == pytest.approx(1.0, rel=1e-12)  # the peak, train.lr itself
    assert onecycle(99) == pytest.approx(1e-4 + (1 - 1e-4) * 0.5 * (1 + math.cos(math.pi * 69 / 70)), rel=1e-12)
    # Its end, lr / 1e4: torch's OneCycleLR would end at lr / (25 * 1e4) = lr / 2.5e5, 25 times lower.
    assert onecycle(100) == pytest.approx(1e-4, rel=1e-12) and onecycle(100) != pytest.approx(1 / 2.5e5)
    assert [onecycle(s) for s in range(101)] == pytest.approx([by_hand(s) for s in range(101)], rel=1e-12)


def test_onecycle_ignores_warmup():
    assert [onecycle(s, warmup_epochs=2) for s in range(100)] == [onecycle(s) for s in range(100)]
