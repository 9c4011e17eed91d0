"""The learning-rate finder (Smith 2015; fastai's ``lr_find``): train briefly while the rate grows
exponentially, watch the loss, and suggest the rate where it falls fastest.

    result = lr_find("fashion-cnn", ["data.limit=5000"])
    result.suggestion, result.plot        # a rate, and lr_find.png with the curve and the suggestion

The model, data and optimiser are the recipe's (its first fine-tuning stage, when it has stages, so
a frozen backbone stays frozen); nothing is written but the plot. The loss is smoothed with an
exponential moving average (bias-corrected); the search stops early once it exceeds four times its
lowest value. The suggestion is the rate of the steepest descent of the smoothed loss, looked for
before the lowest point: a rate at which the model still learns quickly and stably.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerlab.errors import LayerLabError

SMOOTHING = 0.9  # of the moving average of the loss: a memory of about ten steps
DIVERGED = 4.0  # stop once the smoothed loss passes this many times its lowest value


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]  # smoothed
    suggestion: float
    plot: Path | None = None
    raw_losses: list[float] = field(default_factory=list)


def lr_find(recipe: Any = None, overrides: Any = (), *, start: float = 1e-7, end: float = 10.0, steps: int = 100,
            out: str | Path | None = "lr_find.png") -> LRFindResult:
    """Run the LR range test for a recipe (path, built-in name, dict or Recipe) and its overrides.

    ``steps`` optimiser steps take the rate from ``start`` to ``end`` geometrically (fewer if the loss
    diverges). ``out`` is the PNG to write (None: no plot). Raises RecipeError for a bad recipe and
    LayerLabError when the range is empty or too few steps ran to suggest a rate.
    """
    from layerlab.recipe import load_recipe
    from layerlab.recipes import DEFAULT
    from layerlab.runs import assemble
    from layerlab.train.device import resolve_device
    from layerlab.train.stages import Stages

    if not (0 < start < end) or steps < 5:
        raise LayerLabError(f"lr-find: needs 0 < start < end and at least 5 steps (got {start:g}, {end:g}, {steps})")
    cfg = load_recipe(DEFAULT if recipe is None else recipe, overrides)
    device = resolve_device(cfg.train.device)
    built = assemble(cfg)  # the recipe's data, task and model, as a run of it would start
    model = built.model.to(device)
    optimizer = Stages(model, cfg.train).enter(0)
    model.train()
    lrs, raw, smooth = _range_test(built.task, model, optimizer, built.data.train.to(device), cfg.train,
                                   rates=(start * ((end / start) ** (1 / (steps - 1))) ** i for i in range(steps)))
    result = LRFindResult(lrs, smooth, suggest(lrs, smooth), raw_losses=raw)
    if out is not None:
        result.plot = plot_lr_find(result, Path(out))
    return result


def _range_test(task: Any, model: Any, optimizer: Any, train: Any, cfg: Any,
                rates: Iterator[float]) -> tuple[list[float], list[float], list[float]]:
    """One optimiser step at each of ``rates`` in turn, over as many epochs as that takes, until the loss
    diverges; returns the rates, the losses and the smoothed losses."""
    from layerlab.data.batching import batches, epoch_order
    from layerlab.models.inference import autocast

    lrs, raw, smooth = [], [], []
    average, best, epoch = 0.0, math.inf, 0
    device = train.x.device
    while True:
        order = epoch_order(len(train), seed=cfg.seed, epoch=epoch, device=device)
        for x, y in batches(train.x, train.y, batch_size=cfg.batch_size, order=order):
            lr = next(rates, None)
            if lr is None:
                return lrs, raw, smooth
            for group in optimizer.param_groups:
                group["lr"] = lr * group.get("lr_scale", 1.0)
            with autocast(device, cfg.precision):
                loss = task.loss(task.forward(model, x, y), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = loss.item()
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (len(lrs) + 1))
            lrs.append(lr)
            raw.append(value)
            smooth.append(smoothed)
            best = min(best, smoothed)
            if not math.isfinite(value) or smoothed > DIVERGED * best:
                return lrs, raw, smooth
        epoch += 1


def suggest(lrs: list[float], losses: list[float]) -> float:
    """The rate of steepest descent of ``losses`` against log ``lrs``, before the lowest loss."""
    if len(lrs) < 5:
        raise LayerLabError(f"lr-find: only {len(lrs)} steps ran before the loss diverged; lower --start")
    lowest = min(range(len(losses)), key=losses.__getitem__)
    logs = [math.log10(lr) for lr in lrs]
    # slope over a few steps, to be less jumpy than neighbour differences
    span = max(1, len(lrs) // 20)
    candidates = range(0, max(1, lowest - span))
    slopes = [(losses[i + span] - losses[i]) / (logs[i + span] - logs[i]) for i in candidates]
    if not slopes:
        return lrs[lowest] / 10
    steepest = min(range(len(slopes)), key=slopes.__getitem__)
    return lrs[steepest + span // 2]


def plot_lr_find(result: LRFindResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(result.lrs, result.raw_losses, color="0.8", linewidth=0.8, label="loss")
    ax.plot(result.lrs, result.losses, color="C0", label="smoothed")
    ax.axvline(result.suggestion, color="C3", linestyle="--", label=f"suggested {result.suggestion:.2g}")
    ax.set_xscale("log")
    top = min(max(result.losses), 2 * result.losses[0]) if result.losses else 1
    ax.set_ylim(min(result.losses) * 0.9, top * 1.05)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
