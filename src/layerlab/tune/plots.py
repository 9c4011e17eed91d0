"""Plots of a study, as PNG files: optimisation history, every trial's curve, parameter importance and
parallel coordinates.

Drawn with matplotlib's object API on an Agg canvas, like ``layerlab.analyze.plots`` (no pyplot, no
global state); parameter importance is Optuna's (fANOVA) on the complete trials.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.analyze.plots import new_figure, save_png

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)

COLORS = {"complete": "#1f77b4", "pruned": "#d62728", "fail": "#7f7f7f", "running": "#ff7f0e"}


def plot_study(trials: Sequence[optuna.trial.FrozenTrial], folder: Path, *, metric: str, direction: str,
               study: optuna.Study | None = None) -> list[Path]:
    """Write the plots a study has enough trials for into ``folder``; returns their paths."""
    from optuna.trial import TrialState

    folder.mkdir(parents=True, exist_ok=True)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    paths: list[Path] = []
    if any(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials):
        paths.append(plot_history(trials, folder / "history.png", metric=metric, direction=direction))
    if any(t.intermediate_values for t in trials):
        paths.append(plot_intermediate(trials, folder / "intermediate.png", metric=metric))
    if study is not None and len(complete) >= 2:
        path = plot_importance(study, folder / "importance.png", metric=metric)
        if path is not None:
            paths.append(path)
    if len(complete) >= 2:
        paths.append(plot_parallel(complete, folder / "parallel.png", metric=metric, direction=direction))
    return paths


def plot_history(trials: Sequence[optuna.trial.FrozenTrial], path: Path, *, metric: str, direction: str) -> Path:
    """Each trial's score against its number (pruned ones at their last epoch), and the best so far."""
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    best: float | None = None
    xs, bests = [], []
    for trial in sorted(trials, key=lambda t: t.number):
        state = trial.state.name.lower()
        score = trial.value if state == "complete" else _last(trial)
        if score is None or not math.isfinite(score):
            continue
        ax.scatter([trial.number], [score], s=22, color=COLORS.get(state, "k"),
                   marker="o" if state == "complete" else "x", zorder=3)
        if state == "complete":
            best = score if best is None else (max(best, score) if direction == "maximize" else min(best, score))
        if best is not None:
            xs.append(trial.number)
            bests.append(best)
    if xs:
        ax.step(xs, bests, where="post", color="#2ca02c", label=f"best so far ({bests[-1]:.4g})")
    for state, marker in (("complete", "o"), ("pruned", "x")):
        ax.scatter([], [], color=COLORS[state], marker=marker, label=state)
    ax.set(xlabel="trial", ylabel=metric, title="optimisation history")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def plot_intermediate(trials: Sequence[optuna.trial.FrozenTrial], path: Path, *, metric: str) -> Path:
    """Every trial's per-epoch metric: the curves the pruner judged."""
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    for trial in trials:
        steps = sorted(trial.intermediate_values.items())
        if steps:
            state = trial.state.name.lower()
            ax.plot([s for s, _ in steps], [v for _, v in steps], color=COLORS.get(state, "k"),
                    alpha=0.8 if state == "complete" else 0.5, linewidth=1.2 if state == "complete" else 0.8,
                    marker="." if len(steps) < 30 else None)
    for state in ("complete", "pruned"):
        ax.plot([], [], color=COLORS[state], label=state)
    ax.set(xlabel="epoch", ylabel=metric, title="per-epoch metric of each trial")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return save_png(fig, path)


def plot_importance(study: optuna.Study, path: Path, *, metric: str) -> Path | None:
    """fANOVA importance of the keys every complete trial has; None when Optuna cannot tell."""
    import optuna

    try:
        importances = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError, ZeroDivisionError) as exc:
        log.info("no parameter importance plot: %s", exc)
        return None
    if not importances:
        return None
    names = list(importances)[::-1]
    fig = new_figure(6.4, 1.2 + 0.4 * len(names))
    ax = fig.add_subplot()
    ax.barh(names, [importances[n] for n in names], color=COLORS["complete"])
    for i, name in enumerate(names):
        ax.text(importances[name], i, f" {importances[name]:.2f}", va="center", fontsize="small")
    ax.set(xlabel=f"importance for {metric} (fANOVA)", title="parameter importance", xlim=(0, 1.1))
    return save_png(fig, path)


def plot_parallel(trials: Sequence[optuna.trial.FrozenTrial], path: Path, *, metric: str, direction: str) -> Path:
    """One line per complete trial through an axis per searched key and the score, coloured by score."""
    from matplotlib import colormaps

    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    scores = [t.value for t in trials]
    low, high = min(scores), max(scores)
    cmap = colormaps["viridis" if direction == "maximize" else "viridis_r"]
    fig = new_figure(max(6.4, 1.6 * (len(keys) + 1)), 4.2)
    ax = fig.add_subplot()
    for trial in sorted(trials, key=lambda t: t.value if direction == "maximize" else -t.value):
        ys = [_position(trial, key) for key in keys] + [_scale(trial.value, low, high)]
        color = cmap(_scale(trial.value, low, high))
        xs = list(range(len(ys)))
        # a key the trial did not have (it sits under another choice) leaves a gap in its line
        segments: list[list[tuple[int, float]]] = [[]]
        for x, y in zip(xs, ys):
            if y is None:
                segments.append([])
            else:
                segments[-1].append((x, y))
        for segment in segments:
            if segment:
                ax.plot([p[0] for p in segment], [p[1] for p in segment], color=color, alpha=0.7, marker=".")
    for x, key in enumerate(keys):
        ax.axvline(x, color="k", linewidth=0.8)
        for y, text in _ticks(trials, key):
            ax.text(x, y, f" {text}", fontsize="x-small", va="center")
    x_score = len(keys)
    ax.axvline(x_score, color="k", linewidth=0.8)
    ax.text(x_score, 0, f" {low:.4g}", fontsize="x-small", va="center")
    ax.text(x_score, 1, f" {high:.4g}", fontsize="x-small", va="center")
    ax.set_xticks(range(len(keys) + 1), [*keys, metric], rotation=15, fontsize="small")
    ax.set_yticks([])
    ax.set(ylim=(-0.05, 1.05), title="parallel coordinates (complete trials)")
    return save_png(fig, path)


# ---------------------------------------------------------------------------------------- helpers
def _position(trial: optuna.trial.FrozenTrial, key: str) -> float | None:
    """Where a trial's value of ``key`` sits on its axis, in [0, 1]."""
    from optuna.distributions import CategoricalDistribution

    if key not in trial.params:
        return None
    dist = trial.distributions[key]
    value = trial.params[key]
    if isinstance(dist, CategoricalDistribution):
        return dist.choices.index(value) / max(1, len(dist.choices) - 1)
    if getattr(dist, "log", False):
        return _scale(math.log(value), math.log(dist.low), math.log(dist.high))
    return _scale(value, dist.low, dist.high)


def _ticks(trials: Sequence[optuna.trial.FrozenTrial], key: str) -> list[tuple[float, str]]:
    from optuna.distributions import CategoricalDistribution

    dist = next(t.distributions[key] for t in trials if key in t.distributions)
    if isinstance(dist, CategoricalDistribution):
        n = max(1, len(dist.choices) - 1)
        return [(i / n, str(c)) for i, c in enumerate(dist.choices)]
    return [(0.0, f"{dist.low:.3g}"), (1.0, f"{dist.high:.3g}")]


def _scale(value: float, low: float, high: float) -> float:
    return 0.5 if high <= low else (value - low) / (high - low)


def _last(trial: optuna.trial.FrozenTrial) -> float | None:
    steps = trial.intermediate_values
    return steps[max(steps)] if steps else None
