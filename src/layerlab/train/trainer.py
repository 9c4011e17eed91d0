"""The trainer: a short, readable loop with named callbacks.

    trainer = Trainer(model, task, cfg, device=device, checkpoint_path=run / "checkpoints/last.ckpt")
    state = trainer.fit(train, val)

Each step is forward, loss, backward, (clip), optimiser step, in plain sight in ``_train_epoch``.
Batches come from in-memory tensors on the training device, ordered by a permutation that is a pure
function of (seed, epoch), and augmented with a generator seeded from (seed, epoch, step); with the
model, optimiser and RNG states in the checkpoint, a resumed run continues exactly where it stopped.
A stage that trains only the head trains it on what the frozen layers give, computed once
(``layerlab.train.head_inputs``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.data import Split
from layerlab.data.batching import (
    BatchAugment,
    batches,
    epoch_order,
    length_grouped,
    num_batches,
    token_lengths,
)
from layerlab.errors import LayerLabError
from layerlab.models.inference import autocast, native_bf16, predict_outputs  # noqa: F401 (re-exported)
from layerlab.recipe import TrainConfig
from layerlab.tasks import Task
from layerlab.train.averaging import WeightAverage
from layerlab.train.callbacks import Callback, Monitor, Timer
from layerlab.train.checkpoint import load_state, save_state
from layerlab.train.device import rng_state, set_rng_state, step_generator
from layerlab.train.head_inputs import MAX_BYTES, PROBE_EXAMPLES, HeadSplit, head_split
from layerlab.train.optim import build_optimizer, l1_penalty, set_lr
from layerlab.train.stages import Stages

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step_in_epoch: int = 0  # batches done in the current epoch
    global_step: int = 0  # optimiser steps done
    seconds: float = 0.0  # training time, summed over resumes
    lr_scale: float = 1.0  # reduce-on-plateau's factor
    plateau_best: float | None = None
    plateau_bad: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""  # why training ended early ("" when it ran all epochs)
    status: str = "running"  # running, finished, stopped, interrupted, nan


class NonFiniteLoss(Exception):
    pass


class Trainer:
    def __init__(
        self,
        model: nn.Module,
        task: Task,
        cfg: TrainConfig,
        *,
        device: torch.device,
        augment: BatchAugment | None = None,
        callbacks: Sequence[Callback] = (),
        checkpoint_path: Path | None = None,
        monitor: str | None = None,
    ):
        self.model = model.to(device)
        self.task, self.cfg, self.device = task, cfg, device
        self.augment = augment if augment is not None and augment.enabled else None
        self.callbacks = list(callbacks)
        self.checkpoint_path = checkpoint_path
        self.monitor = monitor  # metric for reduce-on-plateau (the recipe's resolved train.monitor)
        # Fine-tuning stages (train.stages, train.fine_tune): what trains, at which rates, per epoch.
        self.stages, self.stage = Stages(self.model, cfg), 0
        self.optimizer = self.stages.enter(self.stage)
        # A task with a step of its own (a GAN's alternating updates) trains by it instead of the usual
        # forward, backward, step; its optimisers are made as ours are, its state goes into the checkpoint.
        self.task_step = task.training_step(
            self.model, make_optimizer=lambda module, lr: build_optimizer(module, cfg.model_copy(update={"lr": lr or cfg.lr})),
            precision=cfg.precision)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        # train.ema: validation, the best epoch and the final weights use a moving average of the weights.
        self.average = WeightAverage(self.model, cfg.ema) if cfg.ema is not None else None
        self.state = TrainState()
        self.at_step_boundary = True  # no gradients pending: a checkpoint taken now is complete
        self._stop_requested = ""
        self._interrupted = False
        self._seconds = lambda: self.state.seconds  # fit replaces it by the running clock
        self._epoch_loss = torch.zeros((), device=device)
        self._epoch_batches = 0
        self._lengths: torch.Tensor | None = None  # train.group_by_length: the training examples' token counts
        self._cached: _CachedHead | None = None  # a head-only stage's head inputs (train.cache_frozen)
        self._decided_stage: int | None = None  # the stage whether to cache them was decided for
        _check_precision(cfg.precision, device)

    # ------------------------------------------------------------------------------------ public
    def fit(self, train: Split, val: Split | None = None, *, resume: Path | None = None) -> TrainState:
        """Train for ``cfg.epochs`` (or until stopped); returns the final state.

        ``state.status`` says how it ended: finished, stopped (early stopping or time budget),
        interrupted (Ctrl-C; a checkpoint was written) or nan (a non-finite loss; the weights are the
        last good ones).
        """
        train, val = train.to(self.device), (val.to(self.device) if val is not None and len(val) else None)
        self._lengths = token_lengths(train.x, train.y) if self.cfg.group_by_length else None
        if resume is not None:
            self.load_checkpoint(resume)
        self.state.status = "running"
        steps_per_epoch = math.ceil(num_batches(len(train), self.cfg.batch_size) / self.cfg.accumulate)
        timer = Timer()
        seconds_before = self.state.seconds
        self._seconds = lambda: seconds_before + timer.elapsed()  # training time so far, resumed runs included
        with self._sigint_handler():
            self._call("on_fit_start")
            while self.state.epoch < self.cfg.epochs and not self._stop_requested:
                if self.stages.index_at(self.state.epoch) != self.stage:  # a new stage: refreeze, fresh optimiser
                    self.stage = self.stages.index_at(self.state.epoch)
                    self.optimizer = self.stages.enter(self.stage)
                self._call("on_epoch_start")
                epoch_start = time.perf_counter()
                self._cache_head_inputs(train, val)  # a head-only stage: what the frozen layers give, once
                try:
                    finished = self._train_epoch(train, steps_per_epoch, timer, seconds_before)
                except NonFiniteLoss as exc:
                    self._on_nan(str(exc))
                    break
                self.state.seconds = seconds_before + timer.elapsed()
                if self._interrupted:
                    self.state.status = "interrupted"
                    self.save_checkpoint()
                    break
                with self._averaged():  # the epoch's metrics and the best-epoch copy are the average's
                    row = self._end_epoch(train, val, time.perf_counter() - epoch_start, partial=not finished)
                    self._call("on_epoch_end", row)
                self._adjust_plateau(row)
                self.state.seconds = seconds_before + timer.elapsed()  # validation included
                self.save_checkpoint()
            if self.state.status == "running":
                self.state.status = "stopped" if self._stop_requested else "finished"
                self.state.stop_reason = self._stop_requested
            if self.average is not None and self.state.status in ("finished", "stopped"):
                self.average.copy_to(self.model)  # the checkpoint keeps the raw weights for a resume
            self._cached, self._decided_stage = None, None
            self._call("on_fit_end")
        return self.state

    def stop(self, reason: str) -> None:
        """Ask the trainer to stop at the end of this epoch (callbacks call this)."""
        self._stop_requested = self._stop_requested or reason

    def interrupt(self) -> None:
        """Stop at the next step boundary and write a checkpoint there (what Ctrl-C does)."""
        self._interrupted = True

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    # ------------------------------------------------------------------------------ the loop
    def _train_epoch(self, train: Split, steps_per_epoch: int, timer: Timer, seconds_before: float) -> bool:
        """One pass over the training batches (from where a resumed run left off). True if completed."""
        cfg, state, model = self.cfg, self.state, self.model
        model.train()
        n_batches = num_batches(len(train), cfg.batch_size)
        order = epoch_order(len(train), seed=cfg.seed, epoch=state.epoch, device=self.device)
        if self._lengths is not None:
            order = length_grouped(order, self._lengths, batch_size=cfg.batch_size, seed=cfg.seed, epoch=state.epoch)
        inputs = self._cached.train if self._cached is not None else train.x  # the head's inputs, or the model's
        for i, (x, y) in enumerate(
            batches(inputs, train.y, batch_size=cfg.batch_size, order=order, start=state.step_in_epoch),
            start=state.step_in_epoch,
        ):
            if self.augment is not None:
                x = self.augment(x, step_generator(cfg.seed, state.epoch, i, self.device))
            group_start = i - i % cfg.accumulate
            group_size = min(cfg.accumulate, n_batches - group_start)
            if self.task_step is not None:
                loss = self._task_step(x, y)
            else:
                loss = self._forward_backward(x, y, 1.0 / group_size)
                self.at_step_boundary = i + 1 == group_start + group_size
                if self.at_step_boundary:
                    self._optimizer_step(steps_per_epoch)
            state.step_in_epoch = i + 1
            self._epoch_loss += loss
            self._epoch_batches += 1
            self._call("on_step_end", loss)
            if self.at_step_boundary and (self._interrupted or self._over_budget(timer, seconds_before)):
                return state.step_in_epoch == n_batches
        return True

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
        with self._autocast():
            output = self.task.forward(self._cached.split.head if self._cached is not None else self.model, x, y)
            loss = self.task.loss(output, y)
        if not torch.isfinite(loss):
            raise NonFiniteLoss(f"the training loss became {loss.item()} at epoch {self.state.epoch + 1}, "
                                f"batch {self.state.step_in_epoch + 1} (learning rate {self.lr():.3g})")
        total = loss * scale
        if self.cfg.l1 > 0:
            total = total + self.cfg.l1 * scale * l1_penalty(self.model)
        self.scaler.scale(total).backward()
        return loss.detach()

    def _task_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        try:
            loss = self.task_step(x, y)
        except FloatingPointError as exc:
            raise NonFiniteLoss(f"{exc} at epoch {self.state.epoch + 1}, batch {self.state.step_in_epoch + 1}") from None
        self._count_step()
        return loss

    def _optimizer_step(self, steps_per_epoch: int) -> None:
        cfg = self.cfg
        factor = self.stages.lr_factor(self.stage, self.state.global_step, steps_per_epoch, self._seconds())
        set_lr(self.optimizer, cfg.lr * self.state.lr_scale * factor)
        self._call("on_after_backward")
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self._count_step()

    def _count_step(self) -> None:
        """After each optimiser step (ours or the task's): count it, and move the weight average."""
        self.state.global_step += 1
        if self.average is not None:
            self.average.update(self.model, self.state.global_step)

    def _end_epoch(self, train: Split, val: Split | None, seconds: float, partial: bool) -> dict[str, float]:
        state = self.state
        row: dict[str, Any] = {"epoch": state.epoch + 1}
        row["train_loss"] = (self._epoch_loss / max(1, self._epoch_batches)).item()
        if val is not None:
            model, split = self.model, val
            if self._cached is not None and self._cached.val is not None:
                model, split = self._cached.split.module(), Split(self._cached.val, val.y)
            metrics, _ = self.task.evaluate(model, split, batch_size=self.cfg.eval_batch_size, precision=self.cfg.precision)
            row.update({f"val_{k}": v for k, v in metrics.items()})
        row["lr"] = self.lr()
        row["seconds"] = seconds
        row["examples_per_second"] = self._epoch_batches * self.cfg.batch_size / max(seconds, 1e-9)
        if partial:
            row["partial"] = 1
        state.history.append(row)
        state.epoch += 1
        state.step_in_epoch = 0
        self._epoch_loss.zero_()
        self._epoch_batches = 0
        return row

    def _adjust_plateau(self, row: dict[str, float]) -> None:
        if self.cfg.schedule != "plateau" or self.monitor is None or self.monitor not in row:
            return
        from layerlab.train.callbacks import metric_mode

        mon = Monitor(self.monitor, metric_mode(self.monitor), self.cfg.min_delta)
        mon.best = self.state.plateau_best
        if mon.update(row[self.monitor]):
            self.state.plateau_best, self.state.plateau_bad = mon.best, 0
            return
        self.state.plateau_bad += 1
        if self.state.plateau_bad > self.cfg.plateau_patience:
            self.state.lr_scale *= self.cfg.gamma
            self.state.plateau_bad = 0
            log.info("reduce on plateau: learning rate scaled to %.3g", self.cfg.lr * self.state.lr_scale)

    def _over_budget(self, timer: Timer, seconds_before: float) -> bool:
        budget = self.cfg.max_seconds
        if budget is not None and seconds_before + timer.elapsed() >= budget:
            self.stop(f"time budget of {budget:g} s reached")
            return True
        return False

    def _on_nan(self, message: str) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            if self.checkpoint_path is not None and self.checkpoint_path.exists():
                self.model.load_state_dict(load_state(self.checkpoint_path)["model"])
                message += "; the weights had become non-finite, so those of the last checkpoint were restored"
        self.state.status = "nan"
        self.state.stop_reason = message

    # -------------------------------------------------------------------------- checkpoints
    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "trainer": asdict(self.state),
            "epoch_loss": self._epoch_loss,
            "epoch_batches": self._epoch_batches,
            "rng": rng_state(self.device),
            "callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
            "stage": self.stage,  # the fine-tuning stage the optimiser's state belongs to
            "task_step": self.task_step.state_dict() if self.task_step is not None else {},
            "average": self.average.state_dict() if self.average is not None else {},
        }

    def save_checkpoint(self, path: Path | None = None) -> Path | None:
        path = path or self.checkpoint_path
        if path is None:
            return None
        if not self.at_step_boundary:
            raise RuntimeError("a checkpoint is only complete between optimiser steps")
        return save_state(path, self.checkpoint_state())

    def load_checkpoint(self, path: Path) -> None:
        ckpt = load_state(path)
        try:
            self.model.load_state_dict(ckpt["model"])
            if ckpt.get("stage", 0) != self.stage:  # the optimiser of the stage the checkpoint was taken in
                self.stage = ckpt["stage"]
                self.optimizer = self.stages.enter(self.stage)
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise LayerLabError(f"{path}: the checkpoint does not fit this model and recipe ({exc})") from None
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.task_step is not None:
            self.task_step.load_state_dict(ckpt["task_step"])
        if self.average is not None:
            try:
                self.average.load_state_dict(ckpt.get("average") or {})
            except KeyError as exc:
                raise LayerLabError(f"{path}: the checkpoint was written without train.ema, so it holds no weight "
                                    f"average to continue ({exc.args[0]})") from None
        self.state = TrainState(**ckpt["trainer"])
        self._epoch_loss = ckpt["epoch_loss"].to(self.device)
        self._epoch_batches = ckpt["epoch_batches"]
        set_rng_state(ckpt["rng"], self.device)
        for cb in self.callbacks:
            if cb.name in ckpt["callbacks"]:
                cb.load_state_dict(ckpt["callbacks"][cb.name])

    # ---------------------------------------------------------------------- head-only stages
    def _cache_head_inputs(self, train: Split, val: Split | None) -> None:
        """In a stage that trains only the head, compute once what the frozen layers feed it (see
        ``layerlab.train.head_inputs``); elsewhere, or where that would not be exact, the plain loop."""
        if self._decided_stage == self.stage:
            return
        self._decided_stage, self._cached = self.stage, None
        why = self._why_not_cached(train)
        split = why if why is not None else head_split(
            self.model, self.stages.groups[-1], probe=train.x[:PROBE_EXAMPLES], precision=self.cfg.precision)
        if not isinstance(split, HeadSplit):
            if why is None:  # asked for and worth it, but refused: say why
                log.info("train.cache_frozen: stage %d trains the head alone, but runs the whole model every "
                         "epoch: %s", self.stage + 1, split)
            return
        cfg, example = self.cfg, split.example
        total = example.element_size() * example.numel() * (len(train) + (len(val) if val is not None else 0))
        if total > MAX_BYTES:
            log.info("train.cache_frozen: stage %d trains the head alone, but its inputs would take %.1f GiB "
                     "(more than %.0f): the whole model runs every epoch", self.stage + 1, total / 2**30, MAX_BYTES / 2**30)
            return
        evaluable = type(self.task).evaluate is Task.evaluate  # a task's own evaluate gets the whole model
        # In training's batch size: it fits, and sorted by length it is little padding. Larger batches were
        # slower on a CPU: a frozen MiniLM's 10-fold run took 369 s with the cache in batches of 1,024, 291 s in 32.
        self._cached = _CachedHead(
            split, split.inputs(train.x, batch_size=cfg.batch_size, precision=cfg.precision),
            split.inputs(val.x, batch_size=cfg.batch_size, precision=cfg.precision)
            if val is not None and evaluable else None)
        log.info("train.cache_frozen: stage %d trains the head alone; what the frozen layers feed it was computed "
                 "once (%s per example, %.0f MiB)", self.stage + 1, tuple(example.shape), total / 2**20)

    def _why_not_cached(self, train: Split) -> str | None:
        """Why this stage's head inputs are not cached (quietly), or None when they may be."""
        if not self.cfg.cache_frozen:
            return "train.cache_frozen is off"
        if not len(self.stages) or self.stages.plan[self.stage].trainable not in ("head", 0):
            return "more than the head trains"
        if self.augment is not None:
            return "the data is augmented"
        if self.task_step is not None or not (type(self.task).forward is Task.forward or self.task.forward_on_inputs):
            return f"the {self.task.name} task runs its own training forward pass"
        if not len(train):
            return "no training examples"
        return None

    # ------------------------------------------------------------------------------- helpers
    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.cfg.precision)

    def _averaged(self) -> contextlib.AbstractContextManager:
        return self.average.applied(self.model) if self.average is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _sigint_handler(self) -> Iterator[None]:
        """First Ctrl-C: finish the step, write a checkpoint, return. A second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True
            log.warning("interrupted: finishing this step and writing a checkpoint (Ctrl-C again to abort)")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


@dataclass
class _CachedHead:
    split: HeadSplit
    train: torch.Tensor  # (N, *F) the head's input for each training example
    val: torch.Tensor | None  # and for each validation example (None: validation runs the whole model)


def _check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise LayerLabError(f"train.precision: fp16 needs a CUDA device, and this run is on {device.type}; use bf16 or fp32")
    if precision == "bf16" and device.type == "cpu" and not native_bf16(device):
        # Emulated bf16 measured 0.08x fp32's throughput for cnn and resnet18 on a Zen 3 (BENCHMARKS, "Precision").
        log.warning("train.precision: bf16 was asked for, but this CPU has no bf16 arithmetic (neither AVX-512 BF16 "
                    "nor AMX), so autocast emulates it, often several times slower than fp32; use 'auto' (bf16 only "
                    "where it is native) or 'fp32'")
