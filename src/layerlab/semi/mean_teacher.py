"""Mean Teacher (Tarvainen & Valpola, 2017): the student's predictions on unlabelled inputs are pulled
towards those of a teacher whose weights are an exponential moving average of the student's.

The student sees one weak view of the unlabelled batch (with the labelled batch), the teacher another
(without gradients, in training mode as in the paper's code: batch norm normalises with the teacher's own
batch statistics and keeps its own running statistics, and dropout is on). This module once ran the
teacher in evaluation mode on the student's running statistics: on 4 digits a class its pseudo-labels
went wrong and the student collapsed on two seeds of four (BENCHMARKS.md, Mean Teacher).

The consistency loss is the squared difference of their class probabilities, averaged over classes and
examples, and usually ramps up over the first epochs. The teacher moves after every optimiser step, with
decay min(ema_decay, (step + 1) / (step + 10)) so that it follows the student closely at first.
The history's confidence and pseudo-labels are the teacher's.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from layerlab.semi.base import SEMI, SemiBatch, SemiMethod, Views
from layerlab.semi.config import MeanTeacherConfig


@SEMI.register("mean_teacher")
class MeanTeacher(SemiMethod):
    cfg: MeanTeacherConfig

    def __init__(self, cfg: MeanTeacherConfig, views: Views, prior: Tensor | None = None, unlabeled: int = 0):
        super().__init__(cfg, views, prior, unlabeled)
        self.teacher: nn.Module | None = None  # a copy of the model, made when training starts
        self._loaded: dict[str, Tensor] | None = None  # a checkpoint's teacher, for start

    def losses(self, model: nn.Module, x: Tensor, u: Tensor, generators: tuple[torch.Generator, torch.Generator],
               index: Tensor | None = None) -> SemiBatch:
        assert self.teacher is not None, "start(model) makes the teacher"
        logits = model(torch.cat([x, self.views.weak(u, generators[0])]))
        with torch.no_grad():
            self.teacher.train()
            target = torch.softmax(self.teacher(self.views.weak(u, generators[1])).float(), dim=1)
        student = torch.softmax(logits[len(x):].float(), dim=1)
        loss = (student - target).pow(2).mean()
        confidence, pseudo = target.max(dim=1)
        return SemiBatch(logits[: len(x)], loss, confidence, pseudo)

    def after_step(self, model: nn.Module, step: int) -> None:
        assert self.teacher is not None
        decay = min(self.cfg.ema_decay, (step + 1) / (step + 10))
        with torch.no_grad():
            for t, s in zip(self.teacher.parameters(), model.parameters(), strict=True):
                t.lerp_(s.detach(), 1 - decay)  # the buffers (batch norm's statistics) are the teacher's own

    def start(self, model: nn.Module) -> None:
        self.teacher = copy.deepcopy(model).requires_grad_(False)
        if self._loaded is not None:
            self.teacher.load_state_dict(self._loaded)

    def state_dict(self) -> dict[str, Any]:
        return {"teacher": self.teacher.state_dict() if self.teacher is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._loaded = state.get("teacher")
