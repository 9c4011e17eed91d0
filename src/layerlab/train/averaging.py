"""An exponential moving average of a model's weights (``train.ema``).

    average = WeightAverage(model, decay=0.999)
    ...optimizer.step(); average.update(model, step)   # after every optimiser step
    with average.applied(model):                       # evaluate with the averaged weights
        metrics = evaluate(model, val)

After step ``t`` (1, 2, ...) each floating-point entry of the state dict (parameters and buffers such as
batch-norm statistics) moves towards the model's by ``1 - d_t``, where ``d_t = min(decay, (t - 1) / t)``:
until the window of about ``1 / (1 - decay)`` steps has filled, the average is the plain mean of every
step's weights so far (Polyak averaging; the random start is never in it), and from then on an exponential
average with ``decay``. Integer buffers (batch counters) are copied. The average lives on the model's
device; its state is only the tensors (the step comes from the trainer), so a resumed run continues it
exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def ema_decay(decay: float, step: int) -> float:
    """The decay used at optimiser step ``step`` (counting from 1): the running mean's (t - 1) / t until
    that reaches ``decay``."""
    return min(decay, (step - 1) / step)


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"an average's decay lies strictly between 0 and 1, not {decay}")
        self.decay = decay
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average towards ``model``'s weights after optimiser step ``step``."""
        weight = 1.0 - ema_decay(self.decay, step)
        averaged, current = [], []
        for key, value in model.state_dict().items():
            if value.is_floating_point():
                averaged.append(self.weights[key])
                current.append(value.detach())
            else:
                self.weights[key].copy_(value)
        if averaged:
            torch._foreach_lerp_(averaged, current, weight)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Within the block ``model`` holds the averaged weights; its own come back afterwards."""
        own = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.weights)
        try:
            yield
        finally:
            model.load_state_dict(own)

    def copy_to(self, model: nn.Module) -> None:
        """Give ``model`` the averaged weights for good (at the end of training)."""
        model.load_state_dict(self.weights)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.weights

    def load_state_dict(self, weights: dict[str, torch.Tensor]) -> None:
        missing = self.weights.keys() - weights.keys()
        if missing:
            raise KeyError(f"the checkpoint's weight average lacks {sorted(missing)[:3]}")
        self.weights = {k: weights[k].to(v.device, v.dtype).clone() for k, v in self.weights.items()}
