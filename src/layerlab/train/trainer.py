"""The trainer: a short, readable loop with named callbacks.

    trainer = Trainer(model, task, cfg, device=device, checkpoint_path=run / "checkpoints/last.ckpt")
    state = trainer.fit(train, val)

``fit`` runs the epochs, ``_train_epoch`` the batches, and ``train_step`` is one step, in plain sight:
forward, loss, backward, then (at the end of an accumulation group) clip and the optimiser step.
Batches come from in-memory tensors on the training device, ordered by a permutation that is a pure
function of (seed, epoch), and augmented with a generator seeded from (seed, epoch, step); with the
model, optimiser and RNG states in the checkpoint, a resumed run continues exactly where it stopped.
Around the loop, each in its own module: a head-only stage's cached head inputs (``head_cache``),
reduce-on-plateau (``plateau``), stop requests, Ctrl-C and the time budget (``stopping``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict
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
    shifted_windows,
    token_lengths,
)
from layerlab.errors import LayerLabError
from layerlab.models.inference import autocast, native_bf16, predict_outputs  # noqa: F401 (re-exported)
from layerlab.recipe import TrainConfig
from layerlab.tasks import Task
from layerlab.train.averaging import WeightAverage
from layerlab.train.callbacks import Callback
from layerlab.train.checkpoint import load_state, save_state
from layerlab.train.device import check_precision, rng_state, set_rng_state, step_generator
from layerlab.train.distributed import LONE, Distributed
from layerlab.train.fast import FastPath
from layerlab.train.finite import LastGood, nonfinite
from layerlab.train.head_cache import CachedHead, HeadCache
from layerlab.train.optim import build_optimizer, l1_penalty, set_lr
from layerlab.train.plateau import ReduceOnPlateau
from layerlab.train.stages import Stages
from layerlab.train.state import TrainState
from layerlab.train.stopping import Clock, Stopping

log = logging.getLogger(__name__)


class NonFiniteLoss(Exception):
    """A loss or the weights became NaN or infinite."""


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
        distributed: Distributed = LONE,
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
        self.distributed = distributed  # torchrun's ranks: DistributedDataParallel, slices of each global batch
        self.net = distributed.wrap(self.model, cfg.distributed)  # what the training step runs (self.model's weights)
        self.fast = FastPath(self.net, cfg)  # train.compile: self.net compiled, what train_step runs
        # A task with a step of its own (a GAN's alternating updates) trains by it instead of train_step;
        # its optimisers are made as ours are, its state goes into the checkpoint.
        self.task_step = task.training_step(
            self.model, make_optimizer=lambda module, lr: build_optimizer(module, cfg.model_copy(update={"lr": lr or cfg.lr})),
            precision=cfg.precision)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")
        # train.ema: validation, the best epoch and the final weights use a moving average of the weights.
        self.average = WeightAverage(self.model, cfg.ema) if cfg.ema is not None else None
        self.plateau = ReduceOnPlateau.of(cfg, monitor)
        self.head_cache = HeadCache(self.model, task, cfg, self.stages, augmented=self.augment is not None or cfg.window_shift,
                                    own_step=self.task_step is not None)
        self.stopping = Stopping(max_seconds=cfg.max_seconds)
        self.state = TrainState()
        self.last_good = LastGood()  # the weights a diverged run ends with: the last checkpoint's, or a copy
        self.clock = Clock()  # training time, resumes included: fit starts it anew from state.seconds
        self.at_step_boundary = True  # no gradients pending: a checkpoint taken now is complete
        self._steps_per_epoch = 1  # optimiser steps per epoch, for the schedule (fit sets it)
        self._epoch_loss = torch.zeros((), device=device)
        self._epoch_batches = 0
        self._lengths: torch.Tensor | None = None  # train.group_by_length: the training examples' token counts
        self._cached: CachedHead | None = None  # a head-only stage's head inputs (train.cache_frozen)
        check_precision(cfg.precision, device)
        distributed.check(cfg, own_step=self.task_step is not None)

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
            self.last_good.saved(resume, f"after {self.state.global_step} optimiser steps")
        else:
            self._check_start()
            self.last_good.keep(self.model, "the start of the run")
        self.state.status = "running"
        self._steps_per_epoch = math.ceil(num_batches(len(train) - self.cfg.window_shift, self.cfg.batch_size) / self.cfg.accumulate)
        self.clock = Clock(self.state.seconds)
        with self.stopping.ctrl_c():
            self._call("on_fit_start")
            while self.state.epoch < self.cfg.epochs and not self.stopping.reason:
                try:
                    if not self._epoch(train, val):
                        break
                except NonFiniteLoss as exc:
                    self._on_nan(str(exc))
                    break
            self._end_fit()
        return self.state

    def _epoch(self, train: Split, val: Split | None) -> bool:
        """One epoch: its batches, validation, the checkpoint. False when interrupted (Ctrl-C); raises
        NonFiniteLoss when the loss, the weights or the state to checkpoint stop being finite."""
        if self.stages.index_at(self.state.epoch) != self.stage:  # a new stage: refreeze, fresh optimiser
            self.stage = self.stages.index_at(self.state.epoch)
            self.optimizer = self.stages.enter(self.stage)
        self._call("on_epoch_start")
        epoch_start = time.perf_counter()
        self._cached = self.head_cache.for_stage(self.stage, train, val)  # computed once per stage
        finished = self._train_epoch(train)
        self.state.seconds = self.clock()
        self._check_weights()  # before validation: no metrics, best epoch or checkpoint from broken weights
        if self.stopping.interrupted:
            self.state.status = "interrupted"
            self.save_checkpoint()
            return False
        with self._averaged():  # the epoch's metrics and the best-epoch copy are the average's
            row = self._end_epoch(train, val, time.perf_counter() - epoch_start, partial=not finished)
            self._call("on_epoch_end", row)
        if self.plateau is not None:
            self.plateau.update(self.state, row)
        self.state.seconds = self.clock()  # validation included
        if self.checkpoint_path is None:  # nothing on disk to fall back on: keep this epoch's weights in memory
            self.last_good.keep(self.model, f"the end of epoch {self.state.epoch}")
        self.save_checkpoint()
        return True

    def train_step(self, x: torch.Tensor, y: torch.Tensor, *, scale: float = 1.0, step: bool = True,
                   weight: float = 1.0) -> torch.Tensor:
        """One batch: forward, loss, backward; then, when ``step`` (the last batch of an accumulation group),
        clip and take the optimiser step. ``scale`` is 1 / the group's batches, so that the gradients add up
        to their mean. ``weight``: a rank's share of the global batch (``distributed.shard``). Returns the
        (global) batch's loss (detached); raises NonFiniteLoss before any backward."""
        cfg = self.cfg
        net = self._cached.split.head if self._cached is not None else self.fast.net  # cached: the head alone
        with autocast(self.device, cfg.precision):
            output = self.task.forward(net, x, y)
            loss = self.task.loss(output, y)
        reported = self.distributed.batch_loss(loss, weight)  # one process: the loss itself
        if not torch.isfinite(reported):
            raise NonFiniteLoss(f"the training loss became {reported.item()} at epoch {self.state.epoch + 1}, "
                                f"batch {self.state.step_in_epoch + 1} (learning rate {self.lr():.3g})")
        if weight != 1.0:
            scale *= weight
        total = loss * scale
        if cfg.l1 > 0:
            total = total + cfg.l1 * scale * l1_penalty(self.model)
        self.scaler.scale(total).backward()  # fp16: the loss scaled up so that small gradients stay above zero
        self.at_step_boundary = step
        if step:
            set_lr(self.optimizer, cfg.lr * self.state.lr_scale * self._schedule_factor())
            self._call("on_after_backward")
            if cfg.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.scaler.step(self.optimizer)  # fp16: skipped when a gradient overflowed
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self._count_step()
        return reported

    def stop(self, reason: str) -> None:
        """Ask the trainer to stop at the end of this epoch (callbacks call this)."""
        self.stopping.request(reason)

    def interrupt(self) -> None:
        """Stop at the next step boundary and write a checkpoint there (what Ctrl-C does)."""
        self.stopping.interrupted = True

    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def gradient_scale(self) -> float:
        """What the gradients are multiplied by before the step: fp16's loss scale, else 1."""
        return self.scaler.get_scale() if self.scaler.is_enabled() else 1.0

    # ------------------------------------------------------------------------------ the loop
    def _train_epoch(self, train: Split) -> bool:
        """One pass over the training batches (from where a resumed run left off). True if completed."""
        cfg, state = self.cfg, self.state
        self.model.train()
        if cfg.window_shift:  # a language model's windows, cut anew each epoch: one fewer than len(train)
            train = Split(*shifted_windows(train.x, train.y, seed=cfg.seed, epoch=state.epoch))
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
                x, y = self.augment.pair(x, y, step_generator(cfg.seed, state.epoch, i, self.device))
            x, y, weight = self.distributed.shard(x, y)  # this rank's slice of the global batch
            if self.task_step is not None:
                loss = self._task_step(x, y)
            else:
                group_start = i - i % cfg.accumulate  # train.accumulate batches a step; the epoch's last may have fewer
                group_size = min(cfg.accumulate, n_batches - group_start)
                with self.fast.timing(state):
                    loss = self.train_step(x, y, scale=1.0 / group_size, step=i + 1 == group_start + group_size, weight=weight)
            state.step_in_epoch = i + 1
            self._epoch_loss += loss
            self._epoch_batches += 1
            self._call("on_step_end", loss)
            if self.at_step_boundary and self.distributed.agree_to_stop(self.stopping, self.clock()):
                return state.step_in_epoch == n_batches
        return True

    def _task_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        try:
            loss = self.task_step(x, y)
        except FloatingPointError as exc:
            raise NonFiniteLoss(f"{exc} at epoch {self.state.epoch + 1}, batch {self.state.step_in_epoch + 1}") from None
        self._count_step()
        return loss

    def _schedule_factor(self) -> float:
        """The stage's schedule at this step: what multiplies train.lr (and reduce-on-plateau's cuts)."""
        return self.stages.lr_factor(self.stage, self.state.global_step, self._steps_per_epoch, self.clock())

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
            model, split = self._cached.validation(self.model, val) if self._cached is not None else (self.model, val)
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

    def _end_fit(self) -> None:
        state = self.state
        if state.status == "running":
            state.status = "stopped" if self.stopping.reason else "finished"
            state.stop_reason = self.stopping.reason
        if self.average is not None and state.status in ("finished", "stopped"):
            self.average.copy_to(self.model)  # the checkpoint keeps the raw weights for a resume
        self._cached = None
        self.head_cache.clear()
        self._call("on_fit_end")

    def _check_start(self) -> None:
        bad = nonfinite(self.model.state_dict())
        if bad:
            raise LayerLabError(f"the model's starting weights hold NaN or infinite values ({', '.join(bad)}); "
                                "there is nothing finite to train from")

    def _check_weights(self) -> None:
        """Raise NonFiniteLoss if the weights (parameters, buffers, their average) are no longer finite."""
        bad = nonfinite({"model": self.model.state_dict(), "average": self.average.state_dict() if self.average is not None else {}})
        if bad:
            raise NonFiniteLoss(f"the weights became non-finite ({', '.join(bad)}) by epoch {self.state.epoch + 1}, "
                                f"batch {self.state.step_in_epoch} (learning rate {self.lr():.3g})")

    def _on_nan(self, message: str) -> None:
        """Stop as diverged, with finite weights: the model's own when they still are, else the last good ones."""
        self.optimizer.zero_grad(set_to_none=True)
        bad = nonfinite(self.model.state_dict())
        if bad:
            restored = self.last_good.restore(self.model)
            message += f"; the weights had become non-finite ({', '.join(bad)}), so {restored}"
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
        state = self.checkpoint_state()
        bad = nonfinite(state)
        if bad:  # never over the last good checkpoint: training has diverged, and stops here
            raise NonFiniteLoss(f"the training state became non-finite ({', '.join(bad)}) by epoch "
                                f"{self.state.epoch + 1}, batch {self.state.step_in_epoch} (learning rate {self.lr():.3g})")
        if self.distributed.is_main:  # the other ranks hold the same state; rank 0 alone writes
            save_state(path, state)
        self.last_good.saved(path, f"after {self.state.global_step} optimiser steps")
        return path

    def load_checkpoint(self, path: Path) -> None:
        ckpt = load_state(path)
        bad = nonfinite(ckpt)
        if bad:
            raise LayerLabError(f"{path}: the checkpoint holds NaN or infinite values ({', '.join(bad)}), written by "
                                "a run that diverged; it cannot be resumed")
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

    # ------------------------------------------------------------------------------- helpers
    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def _averaged(self) -> contextlib.AbstractContextManager:
        return self.average.applied(self.model) if self.average is not None else contextlib.nullcontext()

