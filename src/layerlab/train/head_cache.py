"""``train.cache_frozen``: in a stage that trains only the head, what the frozen layers feed it, computed once.

    cache = HeadCache(model, task, cfg, stages, augmented=False, own_step=False)
    cached = cache.for_stage(stage, train, val)   # a CachedHead, or None: this stage trains by the plain loop
    output = task.forward(cached.split.head, cached.train[batch], y)

The decision is taken once per stage (on entering it) and said in the log when caching was asked for and
would be worth it but is refused. How a model is cut at its head, and why that is exact, is in
``layerlab.train.head_inputs``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from layerlab.data import Split
from layerlab.tasks import Task
from layerlab.train.head_inputs import MAX_BYTES, PROBE_EXAMPLES, HeadSplit, head_split

if TYPE_CHECKING:
    from layerlab.recipe import TrainConfig
    from layerlab.train.stages import Stages

log = logging.getLogger(__name__)


@dataclass
class CachedHead:
    split: HeadSplit
    train: torch.Tensor  # (N, *F) the head's input for each training example
    val: torch.Tensor | None  # and for each validation example (None: validation runs the whole model)

    def validation(self, model: nn.Module, val: Split) -> tuple[nn.Module, Split]:
        """What to validate on: the head on the cached inputs where there are some, else the whole model."""
        if self.val is None:
            return model, val
        return self.split.module(), Split(self.val, val.y)


class HeadCache:
    def __init__(self, model: nn.Module, task: Task, cfg: TrainConfig, stages: Stages, *, augmented: bool,
                 own_step: bool):
        self.model, self.task, self.cfg, self.stages = model, task, cfg, stages
        self.augmented = augmented  # fresh inputs every epoch: nothing to cache
        self.own_step = own_step  # the task trains by its own step (a GAN's), not by forward and loss
        self.cached: CachedHead | None = None
        self.stage: int | None = None  # the stage the decision was taken for

    def for_stage(self, stage: int, train: Split, val: Split | None) -> CachedHead | None:
        """The head inputs of ``stage`` when it trains only the head and caching them is exact, else None;
        computed on the first call for a stage, then kept."""
        if self.stage == stage:
            return self.cached
        self.stage, self.cached = stage, None
        why = self.why_not(train)
        split = why if why is not None else head_split(
            self.model, self.stages.groups[-1], probe=train.x[:PROBE_EXAMPLES], precision=self.cfg.precision)
        if not isinstance(split, HeadSplit):
            if why is None:  # asked for and worth it, but refused: say why
                log.info("train.cache_frozen: stage %d trains the head alone, but runs the whole model every "
                         "epoch: %s", stage + 1, split)
            return None
        self.cached = self._compute(stage, split, train, val)
        return self.cached

    def _compute(self, stage: int, split: HeadSplit, train: Split, val: Split | None) -> CachedHead | None:
        cfg, example = self.cfg, split.example
        total = example.element_size() * example.numel() * (len(train) + (len(val) if val is not None else 0))
        if total > MAX_BYTES:
            log.info("train.cache_frozen: stage %d trains the head alone, but its inputs would take %.1f GiB "
                     "(more than %.0f): the whole model runs every epoch", stage + 1, total / 2**30, MAX_BYTES / 2**30)
            return None
        evaluable = type(self.task).evaluate is Task.evaluate  # a task's own evaluate gets the whole model
        # In training's batch size: it fits, and sorted by length it is little padding. Larger batches were
        # slower on a CPU: a frozen MiniLM's 10-fold run took 369 s with the cache in batches of 1,024, 291 s in 32.
        cached = CachedHead(
            split, split.inputs(train.x, batch_size=cfg.batch_size, precision=cfg.precision),
            split.inputs(val.x, batch_size=cfg.batch_size, precision=cfg.precision)
            if val is not None and evaluable else None)
        log.info("train.cache_frozen: stage %d trains the head alone; what the frozen layers feed it was computed "
                 "once (%s per example, %.0f MiB)", stage + 1, tuple(example.shape), total / 2**20)
        return cached

    def why_not(self, train: Split) -> str | None:
        """Why the current stage's head inputs are not cached (quietly), or None when they may be."""
        if not self.cfg.cache_frozen:
            return "train.cache_frozen is off"
        if not len(self.stages) or self.stages.plan[self.stage].trainable not in ("head", 0):
            return "more than the head trains"
        if self.augmented:
            return "the data is augmented"
        if self.own_step or not (type(self.task).forward is Task.forward or self.task.forward_on_inputs):
            return f"the {self.task.name} task runs its own training forward pass"
        if not len(train):
            return "no training examples"
        return None

    def clear(self) -> None:
        """Forget the inputs (at the end of a fit): a later fit decides anew."""
        self.cached, self.stage = None, None
