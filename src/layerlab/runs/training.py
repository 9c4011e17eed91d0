"""``run``: train a recipe and write its run directory (see ``layerlab.rundir``).

    result = run("digits-cnn", ["train.epochs=3"])
    result.summary["test"]["accuracy"], result.run_dir
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from layerlab.data.batching import BatchAugment
from layerlab.errors import LayerLabError, RecipeError, TrainingError
from layerlab.recipe import Recipe, load_recipe
from layerlab.rundir import RunDir
from layerlab.runs.assemble import Assembled, assemble
from layerlab.runs.monitor import resolve_monitor
from layerlab.runs.outputs import model_meta, write_outputs
from layerlab.track.tracking import open_tracking
from layerlab.train.budget import shorter_context, sized_recipe
from layerlab.train.callbacks import Callback, EarlyStopping, KeepBest, PeriodicCheckpoint
from layerlab.train.device import resolve_device, set_deterministic
from layerlab.train.diagnostics import Diagnostics, diagnostics_every
from layerlab.train.distributed import Distributed
from layerlab.train.gradient_time import time_gradient_callback
from layerlab.train.progress import ProgressBar
from layerlab.train.samples import SampleGrid
from layerlab.train.semi_training import with_semi
from layerlab.train.state_io import atomic_write_text
from layerlab.train.trainer import Trainer, TrainState

RecipeSource = str | Path | Mapping[str, Any] | Recipe | None


class Interrupted(LayerLabError):
    exit_code = 130


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    model: torch.nn.Module | None = None

    def _repr_html_(self) -> str:  # in a notebook: metrics, curves, confusion matrix (layerlab.notebook)
        from layerlab.notebook import run_html

        return run_html(self.run_dir)


def run(
    recipe: RecipeSource = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    resume: str | Path | None = None,
    console: Console | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train a recipe and write its run directory; returns the directory and the summary.

    ``recipe`` is a YAML path, a built-in recipe's name, a dict, a Recipe or None (the default
    recipe); ``overrides`` are ``"train.epochs=3"`` strings or a ``{key: value}`` mapping. With
    ``resume=RUN_DIR`` the run continues from that directory's last checkpoint (its own recipe, plus
    ``overrides``). ``console`` shows progress when given. Raises RecipeError before any work for a
    bad recipe, Interrupted after Ctrl-C (a checkpoint is kept), TrainingError for a non-finite loss.
    """
    ranks = Distributed.from_env()  # started by torchrun: this process is one rank of several
    rundir, cfg = _open(recipe, overrides, out=out, runs_root=runs_root, resume=resume, create=ranks.is_main)
    started = time.perf_counter()
    device = ranks.place(_prepare(cfg))
    ranks = ranks.start(cfg.train.distributed, device)
    try:
        result = _train(cfg, rundir, ranks, device, started, resumed=resume is not None, console=console,
                        callbacks=callbacks)
    except (Interrupted, TrainingError):  # Ctrl-C, divergence: every rank ends at the same step, the same way
        ranks.stop(clean=True)
        raise
    except BaseException:
        ranks.stop(clean=False)  # a rank that fails alone leaves at once; torchrun stops the others
        raise
    ranks.stop(clean=True)
    return result


def _sized(cfg: Recipe, built: Assembled, ranks: Distributed, device: torch.device,
           console: Console | None) -> tuple[Recipe, Assembled]:
    """The recipe sized to its budget (``train.budget: auto``), and what it trains (assembled again when the
    budget shortened a language model's context); refused with several ranks, whose probes would time
    differently and choose differently."""
    if ranks.world_size > 1 and cfg.train.budget == "auto" and cfg.train.max_seconds:
        raise RecipeError(["train.budget: auto sizes a run by timing one process; a data-parallel run needs "
                           "train.budget: off (and its own train.batch_size and train.lr)"])
    started = time.perf_counter()
    sized, budget = sized_recipe(cfg, built.model, built.task, built.data.train, device)
    while (context := shorter_context(cfg, budget)) is not None:  # rule 7: a language model's context halved
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"max_length": context})})
        built = assemble(cfg)
        sized, budget = sized_recipe(cfg, built.model, built.task, built.data.train, device,
                                     spent=time.perf_counter() - started)
        budget["context"] = context
    if budget and console is not None:
        console.print(f"budget: {budget}", highlight=False)
    return sized, built


def _train(cfg: Recipe, rundir: RunDir, ranks: Distributed, device: torch.device, started: float, *, resumed: bool,
           console: Console | None, callbacks: Sequence[Callback]) -> RunResult:
    """Train into ``rundir`` (``run``'s body); on ranks other than 0 nothing is written and the summary is empty."""
    rundir = RunDir(ranks.share(rundir.path))  # a new run's directory is rank 0's
    built = assemble(cfg, resumed=rundir.path if resumed else None)
    if not resumed:
        cfg, built = _sized(cfg, built, ranks, device, console)  # train.budget: auto
    if not resumed and ranks.is_main:
        atomic_write_text(rundir.recipe, cfg.to_yaml())
        rundir.write_json(rundir.model_meta, model_meta(cfg, built.data, built.task))
    monitor, mode = resolve_monitor(cfg, built.task, has_val=len(built.data.val) > 0)
    keep_best = KeepBest(monitor, mode, rundir.best_weights, cfg.train.min_delta)
    if not ranks.is_main:
        return _train_other_rank(cfg, rundir, built, keep_best, ranks, device, resumed)
    tracking = open_tracking(cfg, rundir)  # MLflow, TensorBoard (track:), and the run index at the end
    cbs = training_callbacks(cfg, rundir, built, keep_best, console=console,
                             extra=[*callbacks, SampleGrid(rundir.path / "samples"), *tracking.callbacks])
    task, cbs = with_semi(cfg, built, cbs)  # train.semi: the unlabelled batches' loss and history
    augment = BatchAugment(cfg.data.augment, on_pixels=built.task.target.on_pixels)
    trainer = Trainer(built.model, task, cfg.train, device=device, augment=augment,
                      callbacks=cbs, checkpoint_path=rundir.checkpoint, monitor=monitor, distributed=ranks)
    if console is not None:
        console.print(_headline(cfg, built, device, ranks), highlight=False)
    try:
        state = trainer.fit(built.data.train, built.data.val, resume=rundir.checkpoint if resumed else None)
        model, summary = write_outputs(rundir, cfg, built, state, keep_best, device, started)
        if ranks.launched:
            summary["distributed"] = ranks.summary()
            rundir.write_json(rundir.summary, summary)
        tracking.finish(summary)
    except BaseException as error:  # the trackers hear of it (MLflow: FAILED), then it goes on up
        tracking.fail(error)
        raise
    _raise_for(state, rundir)
    return RunResult(rundir.path, summary, state.history, model)


def _train_other_rank(cfg: Recipe, rundir: RunDir, built: Assembled, keep_best: KeepBest, ranks: Distributed,
                      device: torch.device, resumed: bool) -> RunResult:
    """A rank other than 0: the same steps, with only the callbacks that decide when to stop or checkpoint
    (they see the same validation metrics as rank 0); it writes nothing."""
    cbs: list[Callback] = []
    if cfg.train.early_stopping:
        cbs.append(EarlyStopping(keep_best.monitor.metric, keep_best.monitor.mode, cfg.train.early_stopping,
                                 cfg.train.min_delta))
    if cfg.train.checkpoint_every:
        cbs.append(PeriodicCheckpoint(cfg.train.checkpoint_every))
    trainer = Trainer(built.model, built.task, cfg.train, device=device, augment=BatchAugment(cfg.data.augment),
                      callbacks=cbs, checkpoint_path=rundir.checkpoint, monitor=keep_best.monitor.metric,
                      distributed=ranks)
    state = trainer.fit(built.data.train, built.data.val, resume=rundir.checkpoint if resumed else None)
    _raise_for(state, rundir)
    return RunResult(rundir.path, {}, state.history, None)


def training_callbacks(cfg: Recipe, rundir: RunDir, built: Assembled, keep_best: KeepBest, *,
                       console: Console | None, extra: Sequence[Callback]) -> list[Callback]:
    """The trainer's callbacks, in the order they run: the best epoch, early stopping, checkpoints,
    progress, ``extra`` (the caller's, the sample grid of generative tasks, the trackers), diagnostics."""
    cbs: list[Callback] = [keep_best]
    if cfg.train.early_stopping:
        cbs.append(EarlyStopping(keep_best.monitor.metric, keep_best.monitor.mode, cfg.train.early_stopping,
                                 cfg.train.min_delta))
    if cfg.train.checkpoint_every:
        cbs.append(PeriodicCheckpoint(cfg.train.checkpoint_every))
    if console is not None:
        cbs.append(ProgressBar(console, len(built.data.train)))
    cbs.extend(extra)
    every = diagnostics_every(cfg.train.diagnostics_every, examples=len(built.data.train),
                              batch_size=cfg.train.batch_size, accumulate=cfg.train.accumulate,
                              epochs=cfg.train.epochs)
    if every:
        cbs.append(Diagnostics(rundir.path / "diagnostics", every=every))
        # recurrent models: how the gradient reaches back through time
        time_gradients = time_gradient_callback(built.model, built.data.train, rundir.path / "diagnostics", built.task)
        if time_gradients is not None:
            cbs.append(time_gradients)
    return cbs


def _open(recipe: RecipeSource, overrides: Sequence[str] | Mapping[str, Any], *, out: str | Path | None,
          runs_root: str | Path, resume: str | Path | None, create: bool = True) -> tuple[RunDir, Recipe]:
    """The run directory and the validated recipe: a resumed run's own, or a new one's (not made unless
    ``create``: the ranks other than 0 of a distributed run learn rank 0's)."""
    if resume is not None:
        rundir = RunDir.open(resume, need=("recipe", "model_meta", "checkpoint"))
        return rundir, load_recipe(rundir.recipe, overrides)
    from layerlab.recipes import DEFAULT

    cfg = load_recipe(DEFAULT if recipe is None else recipe, overrides)
    if not create:
        return RunDir(Path(runs_root)), cfg
    rundir = RunDir.new_at(out) if out is not None else RunDir.create(Path(runs_root), cfg.name)
    return rundir, cfg


def _prepare(cfg: Recipe) -> torch.device:
    device = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    set_deterministic(cfg.train.deterministic)
    return device


def _headline(cfg: Recipe, built: Assembled, device: torch.device, ranks: Distributed) -> str:
    data = built.data
    where = f"{ranks.world_size} processes ({ranks.backend}), {device.type}" if ranks.launched else str(device)
    return (f"[bold]{cfg.name}[/]: {cfg.model['name']} on {cfg.data.name} "
            f"({len(data.train):,} train / {len(data.val):,} val / {len(data.test):,} test), "
            f"{sum(p.numel() for p in built.model.parameters()):,} parameters, {where}")


def _raise_for(state: TrainState, rundir: RunDir) -> None:
    if state.status == "interrupted":
        raise Interrupted(f"interrupted; the checkpoint is saved. Continue with: layerlab run --resume {rundir.path}")
    if state.status == "nan":
        raise TrainingError(f"{state.stop_reason}. Training stopped; the last good weights are in {rundir.weights}. "
                            "Try a lower train.lr, train.grad_clip, or train.precision=fp32.")
