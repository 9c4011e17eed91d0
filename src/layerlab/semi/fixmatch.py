"""FixMatch (Sohn et al., 2020): a confident prediction on a weak view is the target of a strong view.

Labelled examples, the weak views (the recipe's flips and crops) and the strong views (RandAugment-like
operations and Cutout, ``layerlab.data.strong_augment``; SpecAugment for spectrograms) of the unlabelled
batch go through the model in one pass. Where the weak view's prediction is at least ``threshold``
confident, its class is the strong view's target; the loss averages over the whole unlabelled batch.
With ``dist_align`` the weak view's probabilities are first aligned to the labelled examples' class
shares (``semi.alignment``); the threshold, the pseudo-labels and the history then see the aligned ones.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from layerlab.semi.alignment import DistAlign
from layerlab.semi.base import SEMI, SemiBatch, SemiMethod, Views, confident, masked_cross_entropy
from layerlab.semi.config import FixMatchConfig


@SEMI.register("fixmatch")
class FixMatch(SemiMethod):
    cfg: FixMatchConfig
    needs_strong = True

    def __init__(self, cfg: FixMatchConfig, views: Views, prior: Tensor | None = None):
        super().__init__(cfg, views, prior)
        self.align: DistAlign | None = None
        if cfg.dist_align:
            if prior is None:
                raise ValueError("train.semi.dist_align needs the labelled examples' class shares (a prior); none was given")
            self.align = DistAlign(prior, cfg.dist_align_momentum)

    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator]
               ) -> SemiBatch:
        assert self.views.strong is not None  # semi_training refuses FixMatch without a strong view
        weak, strong = self.views.weak(u, generators[0]), self.views.strong(u, generators[1])
        logits = model(torch.cat([x, weak, strong]))  # one pass: batch norm sees all three
        labelled, on_weak, on_strong = logits[: len(x)], *logits[len(x):].chunk(2)
        if self.align is None:
            confidence, pseudo = confident(on_weak)
        else:
            confidence, pseudo = self.align(torch.softmax(on_weak.detach().float(), dim=1)).max(dim=1)
        loss = masked_cross_entropy(on_strong, pseudo, confidence >= self.cfg.threshold)
        return SemiBatch(labelled, loss, confidence, pseudo)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.align is None else {"dist_align": self.align.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.align is not None:
            if "dist_align" not in state:
                raise ValueError("the checkpoint has no distribution alignment state (it was saved with "
                                 "train.semi.dist_align off); resume with the recipe it was saved with")
            self.align.load_state_dict(state["dist_align"])
