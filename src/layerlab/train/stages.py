"""Fine-tuning in stages: what trains in which epochs, and at which rates.

A recipe's ``train.stages`` (or the ``train.fine_tune`` shortcut) is a list of stages, each with its
epochs, what trains (``head``, the head and the last N layer groups, or ``all``), its learning rate
and the decay of that rate per layer group below the head (discriminative rates), and whether batch
norms keep their statistics. ``Stages`` applies them for the trainer:

    stages = Stages(model, cfg)              # cfg: the recipe's train section
    optimizer = stages.enter(0)              # freeze as stage 0 says; its optimiser
    stages.index_at(epoch)                   # the stage an epoch belongs to
    stages.lr_factor(i, global_step, steps_per_epoch)

Each stage starts a fresh optimiser over the parameters that train in it, and the schedule
(``train.schedule``, ``warmup_epochs``) runs anew over each stage's epochs; a parameter group's rate is
the schedule's rate times its ``lr_scale`` (the stage's ``lr / train.lr`` times ``lr_decay ** k`` for the
k-th group below the head). Which stage is active is a function of the epoch, and the checkpoint says
which one its optimiser belongs to, so a run resumed across a stage switch equals an uninterrupted one.
Without stages there is one stage of everything at ``train.lr``, exactly the plain trainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from layerlab.train.groups import LayerGroup, freeze, layer_groups, trainable_groups
from layerlab.train.optim import build_optimizer, lr_factor, scaled_parameter_groups

if TYPE_CHECKING:
    from layerlab.recipe import StageConfig, TrainConfig

FINE_TUNE_LR_DIVISOR = 2  # fastai's fine_tune: the unfrozen stage runs at half the rate ...
FINE_TUNE_FIRST_GROUP = 0.01  # ... falling to 1/100 of that at the first layer group


def stage_plan(cfg: TrainConfig) -> list[StageConfig]:
    """The stages of a train section: ``stages`` as given, or the two that ``fine_tune`` stands for."""
    from layerlab.recipe import StageConfig

    if cfg.stages:
        return list(cfg.stages)
    if cfg.fine_tune:
        return [StageConfig(epochs=cfg.fine_tune, trainable="head", lr=cfg.lr),
                StageConfig(epochs=cfg.epochs - cfg.fine_tune, trainable="all", lr=cfg.lr / FINE_TUNE_LR_DIVISOR,
                            first_group_lr=FINE_TUNE_FIRST_GROUP)]
    return []


class Stages:
    def __init__(self, model: nn.Module, cfg: TrainConfig):
        self.model, self.cfg = model, cfg
        self.plan = stage_plan(cfg)
        self.groups: list[LayerGroup] = layer_groups(model) if self.plan else []
        self.starts = [sum(s.epochs for s in self.plan[:i]) for i in range(len(self.plan))]
        self._hooks: list = []
        self._stage_cfgs = [cfg.model_copy(update={"epochs": s.epochs}) for s in self.plan]  # each its own schedule

    def __len__(self) -> int:
        return len(self.plan)

    def index_at(self, epoch: int) -> int:
        """The stage that epoch ``epoch`` (0-based) trains in (the last one after the plan's end)."""
        return max([i for i, start in enumerate(self.starts) if start <= epoch], default=0)

    def enter(self, index: int) -> torch.optim.Optimizer:
        """Freeze the model as stage ``index`` says and return a fresh optimiser for what trains."""
        if not self.plan:
            return build_optimizer(self.model, self.cfg)
        for hook in self._hooks:
            hook.remove()
        stage = self.plan[index]
        self._hooks = freeze(self.model, self.groups, stage.trainable, freeze_bn=stage.freeze_bn)
        return build_optimizer(self.model, self.cfg, scaled_parameter_groups(self.rates(index), self.cfg.weight_decay))

    def rates(self, index: int) -> list[tuple[list[nn.Parameter], float]]:
        """(parameters, lr_scale) of each training group of stage ``index``, from the head down."""
        stage = self.plan[index]
        training = trainable_groups(self.groups, stage.trainable)[::-1]  # the head first
        decay = stage.lr_decay
        if stage.first_group_lr is not None and len(training) > 1:
            decay = stage.first_group_lr ** (1 / (len(training) - 1))
        base = (stage.lr if stage.lr is not None else self.cfg.lr) / self.cfg.lr
        return [(g.params, base * decay**k) for k, g in enumerate(training)]

    def lr_factor(self, index: int, step: int, steps_per_epoch: int, seconds: float = 0.0) -> float:
        """The schedule's multiplier at optimiser step ``step`` (``seconds`` into training), run anew over
        each stage's epochs."""
        if not self.plan:
            return lr_factor(self.cfg, step, steps_per_epoch, seconds)
        return lr_factor(self._stage_cfgs[index], step - self.starts[index] * steps_per_epoch, steps_per_epoch, seconds)
