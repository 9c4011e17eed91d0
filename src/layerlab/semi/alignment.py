"""Distribution alignment (Berthelot et al., ReMixMatch, 2020; USB's ``DistAlignEMAHook``): the model's
class probabilities on unlabelled inputs, scaled towards the labelled examples' class frequencies.

    align = DistAlign(prior, momentum=0.999)   # prior: (classes,) the labelled examples' class shares
    probs = align(torch.softmax(weak_logits.float(), dim=1))   # before the threshold and the argmax

Each call first moves ``running``, the mean of the model's predicted probabilities over recent batches
(an exponential moving average; the first batch's mean to start), then multiplies every row by
prior / running and renormalises it. A class the model predicts more often than the labelled examples
hold it is damped, a neglected one lifted: the pseudo-labels cannot all drift to a few classes, which is
how confirmation bias shows where labels are few. ``running`` is the only state; it is kept in the
checkpoint so that a resumed run aligns as an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

EPS = 1e-6  # as USB: a class absent from the prior or the predictions divides by this, not by 0


class DistAlign:
    def __init__(self, prior: Tensor, momentum: float):
        if prior.dim() != 1 or not len(prior) or (prior < 0).any() or not prior.sum() > 0:
            raise ValueError(f"distribution alignment needs a class prior of non-negative shares, given {prior.tolist()}")
        if not 0 <= momentum < 1:
            raise ValueError(f"distribution alignment's momentum must be in [0, 1), given {momentum}")
        self.prior = (prior.float() / prior.sum()).cpu()  # (classes,)
        self.momentum = momentum
        self.running: Tensor | None = None  # (classes,) float32, the model's mean prediction; None before a batch

    def __call__(self, probs: Tensor) -> Tensor:
        """(M, classes) probabilities -> the same, aligned (rows sum to 1). Updates ``running`` first."""
        if probs.shape[1] != len(self.prior):
            raise ValueError(f"distribution alignment's prior has {len(self.prior)} classes, the model gives {probs.shape[1]}")
        probs = probs.detach().float()
        mean = probs.mean(dim=0)
        if self.running is None:
            self.running = mean
        else:
            self.running = self.running.to(probs.device) * self.momentum + mean * (1 - self.momentum)
        aligned = probs * ((self.prior.to(probs.device) + EPS) / (self.running + EPS))
        return aligned / aligned.sum(dim=1, keepdim=True)

    def state_dict(self) -> dict[str, Any]:
        return {"running": None if self.running is None else self.running.detach().clone().cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        running = state.get("running")
        self.running = None if running is None else running.detach().clone().float()
