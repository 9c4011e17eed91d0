"""FixMatch (Sohn et al., 2020): a confident prediction on a weak view is the target of a strong view.

Labelled examples, the weak views (the recipe's flips and crops) and the strong views (RandAugment-like
operations and Cutout, ``layerlab.data.strong_augment``; SpecAugment for spectrograms; word dropout for sentences) of the unlabelled
batch go through the model in one pass. Where the weak view's prediction is at least ``threshold``
confident, its class is the strong view's target; the loss averages over the whole unlabelled batch.
With ``dist_align`` the weak view's probabilities are first aligned to the labelled examples' class
shares (``semi.alignment``); the threshold, the pseudo-labels and the history then see the aligned ones.
With ``flexible`` (FlexMatch) each class has its own threshold, lower for the classes learnt least
(``semi.flexible``); the history's share above the threshold then counts the pseudo-labels used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from layerlab.semi.alignment import DistAlign
from layerlab.semi.base import SEMI, SemiBatch, SemiMethod, Views, confident, masked_cross_entropy
from layerlab.semi.config import FixMatchConfig
from layerlab.semi.flexible import FlexThresholds


@SEMI.register("fixmatch")
class FixMatch(SemiMethod):
    cfg: FixMatchConfig
    needs_strong = True

    def __init__(self, cfg: FixMatchConfig, views: Views, prior: Tensor | None = None, unlabeled: int = 0):
        super().__init__(cfg, views, prior, unlabeled)
        self.align: DistAlign | None = None
        self.flex: FlexThresholds | None = None
        if (cfg.dist_align or cfg.flexible) and prior is None:
            raise ValueError("train.semi.dist_align and train.semi.flexible need the labelled examples' class shares "
                             "(a prior); none was given")
        if cfg.dist_align:
            self.align = DistAlign(prior, cfg.dist_align_momentum)
        if cfg.flexible:
            self.flex = FlexThresholds(unlabeled, len(prior), warmup=cfg.flexible_warmup)

    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator],
               index: Tensor | None = None) -> SemiBatch:
        assert self.views.strong is not None  # semi_training refuses FixMatch without a strong view
        weak, strong = self.views.weak(u, generators[0]), self.views.strong(u, generators[1])
        logits = model(torch.cat([x, weak, strong]))  # one pass: batch norm sees all three
        labelled, on_weak, on_strong = logits[: len(x)], *logits[len(x):].chunk(2)
        if self.align is None:
            confidence, pseudo = confident(on_weak)
        else:
            confidence, pseudo = self.align(torch.softmax(on_weak.detach().float(), dim=1)).max(dim=1)
        if self.flex is None:
            used = None
            loss = masked_cross_entropy(on_strong, pseudo, confidence >= self.cfg.threshold)
        else:
            if index is None:
                raise ValueError("train.semi.flexible needs the unlabelled examples' numbers (index); none was given")
            used = self.flex(confidence, pseudo, index, self.cfg.threshold)
            loss = masked_cross_entropy(on_strong, pseudo, used)
        return SemiBatch(labelled, loss, confidence, pseudo, used)

    def state_dict(self) -> dict[str, Any]:
        state = {} if self.align is None else {"dist_align": self.align.state_dict()}
        if self.flex is not None:
            state["flexible"] = self.flex.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.flex is not None:
            if "flexible" not in state:
                raise ValueError("the checkpoint has no flexible thresholds (it was saved with train.semi.flexible "
                                 "off); resume with the recipe it was saved with")
            self.flex.load_state_dict(state["flexible"])
        if self.align is not None:
            if "dist_align" not in state:
                raise ValueError("the checkpoint has no distribution alignment state (it was saved with "
                                 "train.semi.dist_align off); resume with the recipe it was saved with")
            self.align.load_state_dict(state["dist_align"])
