"""Optimisers and learning-rate schedules from the recipe.

The learning rate is a pure function of the optimiser step (and, for reduce-on-plateau, of a factor
kept in the trainer's state), so a resumed run needs no scheduler object restored.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from layerlab.recipe import TrainConfig

OPTIMIZERS: dict[str, Callable[[list[dict], TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda groups, c: torch.optim.SGD(groups, lr=c.lr, momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0, **_impl(c)),
    "adam": lambda groups, c: torch.optim.Adam(groups, lr=c.lr, betas=c.betas, **_impl(c)),
    "adamw": lambda groups, c: torch.optim.AdamW(groups, lr=c.lr, betas=c.betas, **_impl(c)),
    "rmsprop": lambda groups, c: torch.optim.RMSprop(groups, lr=c.lr, momentum=c.momentum, **_impl(c)),
    "adagrad": lambda groups, c: torch.optim.Adagrad(groups, lr=c.lr, **_impl(c)),
}


def _impl(cfg: TrainConfig) -> dict[str, bool]:
    """train.optimizer_impl as the optimiser's keyword (none for default: torch's own choice, as before)."""
    return {} if cfg.optimizer_impl == "default" else {cfg.optimizer_impl: True}


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weights (matrices, kernels) get weight decay; biases and normalisation scales do not."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def scaled_parameter_groups(layers: list[tuple[list[nn.Parameter], float]], weight_decay: float) -> list[dict]:
    """Groups for layers with their own rate multiplier (discriminative rates): each (parameters, lr_scale)
    split as ``parameter_groups`` does; ``set_lr`` gives a group the schedule's rate times its lr_scale."""
    groups = []
    for params, scale in layers:
        decay = [p for p in params if p.requires_grad and p.ndim >= 2]
        no_decay = [p for p in params if p.requires_grad and p.ndim < 2]
        groups += [{"params": ps, "weight_decay": wd, "lr_scale": scale}
                   for ps, wd in ((decay, weight_decay), (no_decay, 0.0)) if ps]
    return groups


def build_optimizer(model: nn.Module, cfg: TrainConfig, groups: list[dict] | None = None) -> torch.optim.Optimizer:
    """The recipe's optimiser over ``groups`` (default: every trainable parameter, as ``parameter_groups``)."""
    optimizer = OPTIMIZERS[cfg.optimizer](groups if groups is not None else parameter_groups(model, cfg.weight_decay), cfg)
    if cfg.optimizer_impl == "fused":
        optimizer.register_load_state_dict_post_hook(_state_in_parameter_layout)
    return optimizer


def _state_in_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """After loading a checkpoint: each state tensor in its parameter's memory layout. The fused kernels
    step the memory as laid out, so a contiguous moment beside a channels-last weight would not resume exactly."""
    for param, state in optimizer.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute values of the weights that weight decay also covers (ndim >= 2)."""
    return sum(p.abs().sum() for p in model.parameters() if p.requires_grad and p.ndim >= 2)


def lr_factor(cfg: TrainConfig, step: int, steps_per_epoch: int, seconds: float = 0.0) -> float:
    """Multiplier of ``cfg.lr`` at optimiser step ``step`` (0-based), before any plateau cuts.

    With ``schedule_clock: time`` the schedule's progress is also ``seconds`` of training over
    ``max_seconds``, whichever is further on, so a run under a time budget ends its decay in time."""
    total = max(1, cfg.epochs * steps_per_epoch)
    progress = min(step / total, 1.0)
    if cfg.schedule_clock == "time" and cfg.max_seconds:
        progress = max(progress, min(seconds / cfg.max_seconds, 1.0))
    if cfg.schedule == "onecycle":
        # A cosine rise from lr/25 to lr over the first 30 % of the steps, then a cosine fall towards lr/1e4
        # (reached at progress 1, just after the last step; warm-up does not apply). Exactly torch's
        # OneCycleLR(max_lr=lr, total_steps=steps + 1, pct_start=(0.3 * steps + 1) / (steps + 1),
        # div_factor=25, final_div_factor=400, cycle_momentum=False) (tests/train/test_onecycle.py); torch's
        # defaults fall to lr/(25 * 1e4) and cycle the momentum, which this schedule leaves as set. Kept as
        # it is: every built-in recipe's results depend on it.
        up = 0.3
        if progress < up:
            return _cos_between(1 / 25, 1.0, progress / up)
        return _cos_between(1.0, 1 / 1e4, (progress - up) / (1 - up))
    if cfg.schedule == "cosine":
        factor = 0.5 * (1 + math.cos(math.pi * progress))
    elif cfg.schedule == "step":
        factor = cfg.gamma ** ((step // max(1, steps_per_epoch)) // cfg.step_size)
    else:  # constant, plateau
        factor = 1.0
    warmup_steps = cfg.warmup_epochs * steps_per_epoch
    if warmup_steps > 0 and step < warmup_steps:
        factor *= (step + 1) / warmup_steps
    return factor


def _cos_between(start: float, end: float, t: float) -> float:
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * min(max(t, 0.0), 1.0)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
