"""Pseudo-labelling (Lee, 2013), with a confidence threshold as USB runs it.

Each unlabelled example, weakly augmented, goes through the model with the labelled batch; where the
model's prediction is at least ``threshold`` confident, that class is its target (no gradient through
the choice). Its weight usually ramps up, so that the first, poor predictions teach little.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from layerlab.semi.base import SEMI, SemiBatch, SemiConfig, SemiMethod, confident, masked_cross_entropy


class PseudoLabelConfig(SemiConfig):
    ramp_up_epochs: float = Field(5.0, ge=0, description="semi: the unlabelled loss's weight rises from 0 to semi.weight over this many epochs (exp(-5 (1 - t)^2), as Mean Teacher's ramp-up; 0: full weight from the start)")


@SEMI.register("pseudo_label", config=PseudoLabelConfig,
               description="pseudo-labels: the model's own confident predictions on unlabelled inputs as their targets")
class PseudoLabel(SemiMethod):
    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator]
               ) -> SemiBatch:
        weak = self.views.weak(u, generators[0])
        logits = model(torch.cat([x, weak]))  # one pass: batch norm sees both
        labelled, unlabelled = logits[: len(x)], logits[len(x):]
        confidence, pseudo = confident(unlabelled)
        loss = masked_cross_entropy(unlabelled, pseudo, confidence >= self.cfg.threshold)
        return SemiBatch(labelled, loss, confidence, pseudo)
