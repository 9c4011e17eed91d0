"""``Trainer.train_step`` is a hand-written PyTorch step, and the trainer is what callbacks are told it is."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from layerlab.recipe import TrainConfig
from layerlab.train.callbacks import TrainerView
from layerlab.train.trainer import NonFiniteLoss, Trainer

CPU = torch.device("cpu")


class SquaredError:
    """The little of a task that the trainer's step calls."""

    name = "squared-error"

    def training_step(self, model, *, make_optimizer, precision):
        return None  # no step of its own: the trainer's

    def forward(self, model, x, y):
        return model(x)

    def loss(self, output, y):
        return (output - y).square().mean()


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def _trainer(model: nn.Module, **train) -> Trainer:
    cfg = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.0, precision="fp32", **train)
    return Trainer(model, SquaredError(), cfg, device=CPU)


def test_an_accumulated_clipped_l1_step_is_the_hand_written_one_bit_for_bit():
    model = _model()
    reference = copy.deepcopy(model)
    trainer = _trainer(model, l1=1e-3, grad_clip=0.05, accumulate=2)
    x, y = torch.randn(4, 6, 4), torch.randn(4, 6, 2)  # four batches of six: two steps of two batches

    losses = [trainer.train_step(x[i], y[i], scale=0.5, step=i % 2 == 1) for i in range(4)]

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    expected = []
    for i in range(4):
        loss = (reference(x[i]) - y[i]).square().mean()
        l1 = sum(p.abs().sum() for p in reference.parameters() if p.ndim >= 2)
        (loss * 0.5 + 1e-3 * 0.5 * l1).backward()
        expected.append(loss.detach())
        if i % 2 == 1:
            nn.utils.clip_grad_norm_(reference.parameters(), 0.05)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    assert torch.equal(torch.stack(losses), torch.stack(expected))
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert trainer.state.global_step == 2 and trainer.at_step_boundary
    assert all(p.grad is None for p in model.parameters())  # zeroed after the step


def test_a_step_inside_an_accumulation_group_keeps_its_gradients_and_takes_no_step():
    model = _model()
    before = copy.deepcopy(model.state_dict())
    trainer = _trainer(model, accumulate=2)
    trainer.train_step(torch.randn(6, 4), torch.randn(6, 2), scale=0.5, step=False)
    assert not trainer.at_step_boundary and trainer.state.global_step == 0
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert all(p.grad is not None for p in model.parameters())


def test_a_non_finite_loss_is_refused_before_its_backward():
    model = _model()
    trainer = _trainer(model)
    with pytest.raises(NonFiniteLoss, match=r"the training loss became nan at epoch 1, batch 1"):
        trainer.train_step(torch.randn(6, 4), torch.full((6, 2), float("nan")))
    assert all(p.grad is None for p in model.parameters())


def test_the_trainer_has_everything_callbacks_are_told_it_has():
    trainer = _trainer(_model())
    members = [name for name in vars(TrainerView) if not name.startswith("_")]
    assert {"model", "state", "stop", "save_checkpoint"} <= set(members)
    for name in members:
        assert hasattr(trainer, name), f"Trainer lacks TrainerView.{name}"
        if callable(getattr(TrainerView, name)):
            assert callable(getattr(trainer, name)), name
    assert trainer.gradient_scale() == 1.0  # no fp16 loss scaling
