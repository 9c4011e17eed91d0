"""FixMatch (Sohn et al., 2020): a confident prediction on a weak view is the target of a strong view.

Labelled examples, the weak views (the recipe's flips and crops) and the strong views (RandAugment-like
operations and Cutout, ``layerlab.data.strong_augment``; SpecAugment for spectrograms) of the unlabelled
batch go through the model in one pass. Where the weak view's prediction is at least ``threshold``
confident, its class is the strong view's target; the loss averages over the whole unlabelled batch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layerlab.semi.base import SEMI, SemiBatch, SemiMethod, confident, masked_cross_entropy


@SEMI.register("fixmatch")
class FixMatch(SemiMethod):
    needs_strong = True

    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator]
               ) -> SemiBatch:
        assert self.views.strong is not None  # semi_training refuses FixMatch without a strong view
        weak, strong = self.views.weak(u, generators[0]), self.views.strong(u, generators[1])
        logits = model(torch.cat([x, weak, strong]))  # one pass: batch norm sees all three
        labelled, on_weak, on_strong = logits[: len(x)], *logits[len(x):].chunk(2)
        confidence, pseudo = confident(on_weak)
        loss = masked_cross_entropy(on_strong, pseudo, confidence >= self.cfg.threshold)
        return SemiBatch(labelled, loss, confidence, pseudo)
