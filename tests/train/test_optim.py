"""Learning-rate schedules as pure functions of the step, and optimiser parameter groups."""

from __future__ import annotations

import math

import pytest
import torch

from layerlab.recipe import TrainConfig
from layerlab.train.optim import build_optimizer, l1_penalty, lr_factor


def factors(schedule: str, epochs=10, spe=100, **kw) -> list[float]:
    cfg = TrainConfig(schedule=schedule, epochs=epochs, **kw)
    return [lr_factor(cfg, s, spe) for s in range(epochs * spe)]


def test_constant_and_warmup():
    f = factors("constant", warmup_epochs=1)
    assert f[0] == pytest.approx(0.01) and f[99] == pytest.approx(1.0) and f[500] == 1.0
    assert all(a <= b for a, b in zip(f[:100], f[1:100]))


def test_cosine_goes_from_one_to_zero():
    f = factors("cosine")
    assert f[0] == pytest.approx(1.0) and f[-1] < 1e-4 and f[500] == pytest.approx(0.5)


def test_step_cuts_every_step_size_epochs():
    f = factors("step", step_size=3, gamma=0.5)
    assert f[299] == 1.0 and f[300] == 0.5 and f[600] == 0.25 and f[900] == 0.125


def test_onecycle_rises_then_falls():
    f = factors("onecycle")
    peak = max(range(len(f)), key=f.__getitem__)
    assert f[0] == pytest.approx(1 / 25, rel=1e-3)
    assert abs(peak - 300) <= 1 and f[peak] == pytest.approx(1.0, abs=1e-4)
    assert f[-1] < 1e-3


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_builds_and_decays_only_weights(name):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    opt = build_optimizer(model, TrainConfig(optimizer=name, weight_decay=0.1))
    decays = {g["weight_decay"]: sum(p.numel() for p in g["params"]) for g in opt.param_groups}
    assert decays == {0.1: 12, 0.0: 3 + 3 + 3}


def test_l1_penalty_sums_weights_only():
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, -4.0]]))
        model.bias.fill_(100.0)
    assert l1_penalty(model).item() == pytest.approx(10.0)
    assert math.isfinite(l1_penalty(model).item())


def test_time_clock_runs_the_schedule_over_the_budget():
    cfg = TrainConfig(schedule="cosine", epochs=1000, max_seconds=100, schedule_clock="time")
    assert lr_factor(cfg, 0, 10, seconds=0) == pytest.approx(1.0)
    assert lr_factor(cfg, 10, 10, seconds=50) == pytest.approx(0.5)  # half the budget, a hundredth of the steps
    assert lr_factor(cfg, 10, 10, seconds=100) == pytest.approx(0.0, abs=1e-9)
    assert lr_factor(cfg.model_copy(update={"schedule_clock": "steps"}), 10, 10, seconds=50) > 0.99
    # whichever is further on: the steps, when they run out before the time
    short = TrainConfig(schedule="cosine", epochs=2, max_seconds=100, schedule_clock="time")
    assert lr_factor(short, 10, 10, seconds=1) == pytest.approx(0.5)


def test_time_clock_is_one_schedule_and_without_a_budget_counts_steps():
    with pytest.raises(ValueError, match="fine-tuning stages each run their own"):
        TrainConfig(schedule_clock="time", max_seconds=60, epochs=3, fine_tune=1)
    unbudgeted = TrainConfig(schedule="cosine", epochs=2, schedule_clock="time")
    assert lr_factor(unbudgeted, 10, 10, seconds=1e6) == pytest.approx(0.5)
