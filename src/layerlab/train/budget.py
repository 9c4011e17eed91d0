"""``train.budget: auto``: batch size, learning rate, warm-up and schedule chosen for ``train.max_seconds``.

A recipe tuned for one budget (the shakespeare GPT's batch 64 for 15 minutes) wastes a short one: at 65 s
it takes 252 steps, too few to learn. With ``budget: auto`` and ``max_seconds`` set, the run measures its
own speed first and sizes itself to the budget by one rule:

1. Probe: a few training steps of a copy of the model at the recipe's batch size B0 and at B0/8 (on the
   real data, device and precision; the first step of each untimed), fitted as seconds per step
   s(B) = a + b * B. The probe's time is taken off the budget.
2. Batch size: the largest of B0, B0/2, B0/4, ... (not below ``MIN_BATCH``) whose steps in the budget,
   0.9 * seconds / s(B), reach ``TARGET_STEPS`` (a language model: ``LM_TARGET_STEPS``); if none does, the
   smallest. A language model wants more steps: the shakespeare GPT at 300 s reached a held-out loss of 1.704
   at batch 8 (11,322 steps) against 1.731 at batch 32 (3,338 steps), a quiet Xeon, BENCHMARKS.md issue 34.
3. Learning rate: the recipe's ``lr``, kept at the smaller batch. (The square-root rule, ``lr * sqrt(B / B0)``,
   was measured worse for short budgets: the shakespeare GPT at 60 s and batch 8 reached a held-out loss of
   2.05 with it and 1.90-1.91 with the recipe's rate; BENCHMARKS.md, issue 34.)
4. Warm-up: ``WARMUP`` of the planned steps (not with onecycle, which has its own rise).
5. Schedule: over the clock (``schedule_clock: time``), so it ends when the budget does; a constant,
   step or plateau schedule becomes cosine; ``epochs`` is raised so that the budget, not the epochs,
   ends the run.
6. Optimiser kernels: ``optimizer_impl: default`` becomes ``foreach`` (one kernel per group of tensors;
   torch's CPU default loops over the tensors, which small batches feel: the GPT at batch 8 took 13 %
   more tokens a second). Results match within rounding.
7. Context (language models): when even the smallest batch falls short of ``TARGET_STEPS``, the context
   (``data.max_length``) is halved, not below ``MIN_CONTEXT``, and the run is assembled and probed again
   (``shorter_context``; the runs layer does it, the time spent counted against the budget).

The recipe's batch size, warm-up, schedule, kernels and context are then the budget's: set ``budget: off`` to keep
your own. ``plan`` is the pure rule (unit-tested); ``budgeted`` probes and applies it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from layerlab.recipe import Recipe, TrainConfig
from layerlab.train.trainer import Trainer

if TYPE_CHECKING:
    from layerlab.data import Split
    from layerlab.tasks import Task

TARGET_STEPS = 2000  # optimiser steps a budget should buy (nanoGPT's 65 s CPU run: 2,000 steps)
LM_TARGET_STEPS = 8000  # a language model's (rule 2; the context is still halved only below TARGET_STEPS)
MIN_BATCH = 8
MIN_CONTEXT = 64  # tokens: a language model's context is not halved below this (nanoGPT's CPU run: 64)
WARMUP = 0.05  # of the planned steps
PROBE_STEPS = 3  # timed steps per probed batch size


@dataclass(frozen=True)
class Plan:
    batch_size: int
    steps: int  # optimiser steps expected in the budget
    warmup_epochs: float
    epochs: int


def plan(cfg: TrainConfig, *, seconds: float, per_step: tuple[float, float], examples: int,
         target_steps: int = TARGET_STEPS) -> Plan:
    """The rule of the module docstring, for ``seconds`` of training and steps of ``a + b * B`` seconds."""
    a, b = per_step
    candidates = [cfg.batch_size]
    while candidates[-1] // 2 >= MIN_BATCH:
        candidates.append(candidates[-1] // 2)

    def steps(batch: int) -> int:
        return int(0.9 * seconds / max(a + b * batch, 1e-9))

    batch = next((c for c in candidates if steps(c) >= target_steps), candidates[-1])
    per_epoch = max(1, math.ceil(examples / batch))
    warmup = 0.0 if cfg.schedule == "onecycle" else WARMUP * steps(batch) / per_epoch
    epochs = max(cfg.epochs, math.ceil(4 * steps(batch) / per_epoch) + 1)  # 4x the estimate: the clock ends it
    return Plan(batch, steps(batch), round(warmup, 4), epochs)


def shorter_context(cfg: Recipe, report: dict[str, Any]) -> int | None:
    """Rule 7: the halved context for a language model whose plan falls short of ``TARGET_STEPS``, else None."""
    length = getattr(cfg.data, "max_length", None)
    if not report or cfg.task.name != "language_model" or cfg.model.get("from_run") or length is None:
        return None
    if report["steps"] >= TARGET_STEPS or length // 2 < MIN_CONTEXT:
        return None
    return length // 2


def apply(cfg: TrainConfig, chosen: Plan, *, seconds: float) -> TrainConfig:
    """``cfg`` with the plan's batch size, rate, warm-up, epochs and a schedule over ``seconds``."""
    schedule = cfg.schedule if cfg.schedule in ("cosine", "onecycle") else "cosine"
    return cfg.model_copy(update={
        "batch_size": chosen.batch_size, "warmup_epochs": chosen.warmup_epochs,
        "epochs": chosen.epochs, "schedule": schedule, "schedule_clock": "time", "max_seconds": seconds,
        "optimizer_impl": "foreach" if cfg.optimizer_impl == "default" else cfg.optimizer_impl})


def sized_recipe(cfg: Recipe, model: torch.nn.Module, task: Task, train: Split, device: torch.device, *,
                 spent: float = 0.0) -> tuple[Recipe, dict]:
    """The recipe with its train section sized to its budget (``budget`` then off, so that the saved
    recipe is what ran and a resume runs it again), and what was measured and chosen. ``spent``: seconds
    of the budget already used (an earlier probe)."""
    target = LM_TARGET_STEPS if cfg.task.name == "language_model" else TARGET_STEPS
    sized, report = budgeted(cfg.train, lambda c: Trainer(copy.deepcopy(model), task, c, device=device), train,
                             spent=spent, target_steps=target)
    if not report:
        return cfg, report
    return cfg.model_copy(update={"train": sized.model_copy(update={"budget": "off"})}), report


def budgeted(cfg: TrainConfig, trainer_of: Callable[[TrainConfig], Trainer], train: Split, *,
             spent: float = 0.0, target_steps: int = TARGET_STEPS) -> tuple[TrainConfig, dict[str, Any]]:
    """``cfg`` sized to its budget by probing (``trainer_of(cfg)``: a Trainer on a copy of the model), and
    what was measured and chosen. Unchanged (and {}) unless ``budget: auto`` with ``max_seconds``."""
    if cfg.budget != "auto" or not cfg.max_seconds:
        return cfg, {}
    started, rng = time.perf_counter(), torch.get_rng_state()
    sizes = sorted({cfg.batch_size, max(1, cfg.batch_size // 8)})
    probing = cfg.model_copy(update={"max_seconds": None})
    times = [_seconds_per_step(trainer_of(probing.model_copy(update={"batch_size": size})), train, size) for size in sizes]
    torch.set_rng_state(rng)  # the probe leaves the run's random stream as it found it
    b = (times[-1] - times[0]) / (sizes[-1] - sizes[0]) if len(sizes) > 1 else times[0] / sizes[0]
    per_step = (max(times[0] - max(b, 0.0) * sizes[0], 0.0), max(b, 0.0))
    probe = time.perf_counter() - started + spent
    seconds = max(cfg.max_seconds - probe, 0.1 * cfg.max_seconds)
    chosen = plan(cfg, seconds=seconds, per_step=per_step, examples=len(train), target_steps=target_steps)
    report = {"probe_seconds": round(probe, 3), "seconds_per_step": [round(t, 5) for t in times],
              "probed_batch_sizes": sizes, **chosen.__dict__}
    return apply(cfg, chosen, seconds=seconds), report


def _seconds_per_step(trainer: Trainer, train: Split, size: int) -> float:
    x, y = train.x[:size].to(trainer.device), train.y[:size].to(trainer.device)
    trainer.model.train()
    trainer.train_step(x, y)  # untimed: first-call costs (allocation, kernel choice)
    start = time.perf_counter()
    for _ in range(PROBE_STEPS):
        trainer.train_step(x, y)
    return (time.perf_counter() - start) / PROBE_STEPS

