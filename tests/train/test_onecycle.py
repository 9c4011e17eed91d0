"""``onecycle``'s actual values, pinned against a hand computation and torch's OneCycleLR (issue 28: what it claims must be true)."""

from __future__ import annotations

import math

import pytest
import torch

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


@pytest.mark.parametrize("epochs, per_epoch", [(10, 10), (3, 17), (1, 7)])
def test_onecycle_is_torchs_onecyclelr_with_these_arguments(epochs, per_epoch):
    # Precisely what onecycle is: torch's OneCycleLR over one step more than the run has (so its fall ends
    # just after the last step), the rise ending at 30 % of the run's steps, final_div_factor 400 (an end of
    # lr / (25 * 400) = lr / 1e4) and no momentum cycling.
    steps = epochs * per_epoch
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1.0, total_steps=steps + 1, pct_start=(0.3 * steps + 1) / (steps + 1), div_factor=25,
        final_div_factor=400, anneal_strategy="cos", cycle_momentum=False)
    theirs = []
    for _ in range(steps + 1):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if len(theirs) <= steps:
            torch_schedule.step()
    cfg = TrainConfig(schedule="onecycle", epochs=epochs)
    ours = [lr_factor(cfg, step, per_epoch) for step in range(steps + 1)]
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_torchs_defaults_end_lower_and_cycle_the_momentum():
    # The difference from OneCycleLR's defaults, measured: torch's last step is at lr / 2.5e5 and moves
    # SGD's momentum between 0.85 and 0.95; onecycle's last step (of 100) is at 6e-4 x lr, reaching lr / 1e4
    # one step later, and it leaves momentum alone.
    steps = EPOCHS * PER_EPOCH
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0, momentum=0.9)
    torch_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=steps)
    momenta = []
    for _ in range(steps - 1):
        momenta.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        torch_schedule.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1 / 2.5e5, rel=1e-9)
    assert min(momenta) == pytest.approx(0.85) and max(momenta) == pytest.approx(0.95)
    assert onecycle(steps - 1) == pytest.approx(6.034e-4, rel=1e-3) and onecycle(steps) == pytest.approx(1e-4)
