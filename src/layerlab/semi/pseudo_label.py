"""Pseudo-labelling (Lee, 2013), with a confidence threshold as USB runs it.

Each unlabelled example, weakly augmented, goes through the model with the labelled batch; where the
model's prediction is at least ``threshold`` confident, that class is its target (no gradient through
the choice). Its weight usually ramps up, so that the first, poor predictions teach little.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from layerlab.semi.base import SEMI, SemiBatch, SemiMethod, confident, masked_cross_entropy


@SEMI.register("pseudo_label")
class PseudoLabel(SemiMethod):
    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator],
               index: Tensor | None = None) -> SemiBatch:
        weak = self.views.weak(u, generators[0])
        logits = model(torch.cat([x, weak]))  # one pass: batch norm sees both
        labelled, unlabelled = logits[: len(x)], logits[len(x):]
        confidence, pseudo = confident(unlabelled)
        loss = masked_cross_entropy(unlabelled, pseudo, confidence >= self.cfg.threshold)
        return SemiBatch(labelled, loss, confidence, pseudo)
