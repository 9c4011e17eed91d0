"""The progress bar (loss, throughput, ETA) and one line per epoch, printed on a rich console."""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from layerlab.data.batching import num_batches
from layerlab.train.callbacks import Callback, TrainerView

REFRESH_EVERY = 20  # steps between loss read-outs (each one waits for the device)


class ProgressBar(Callback):
    name = "progress"

    def __init__(self, console: Console, n_train: int):
        self.console = console
        self.n_train = n_train
        self.progress: Progress | None = None
        self.task_id = None

    def on_fit_start(self, trainer: TrainerView) -> None:
        if not self.console.is_terminal:
            return  # in logs and pipes, only the per-epoch lines
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()

    def on_epoch_start(self, trainer: TrainerView) -> None:
        self._start = time.perf_counter()
        self._done_at_start = trainer.state.step_in_epoch
        if self.progress is None:
            return
        total = num_batches(self.n_train, trainer.cfg.batch_size)
        description = f"epoch {trainer.state.epoch + 1}/{trainer.cfg.epochs}"
        if self.task_id is not None:
            self.progress.remove_task(self.task_id)
        self.task_id = self.progress.add_task(description, total=total, completed=trainer.state.step_in_epoch, loss="…", rate="")

    def on_step_end(self, trainer: TrainerView, loss: torch.Tensor) -> None:
        if self.progress is None:
            return
        done = trainer.state.step_in_epoch
        fields = {}
        if done % REFRESH_EVERY == 0:
            rate = (done - self._done_at_start) * trainer.cfg.batch_size / max(time.perf_counter() - self._start, 1e-9)
            fields = {"loss": f"{loss.item():.4f}", "rate": f"{rate:,.0f} ex/s"}
        self.progress.update(self.task_id, completed=done, **fields)

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        self.console.print(format_row(row, trainer.cfg.epochs), highlight=False, soft_wrap=True)

    def on_fit_end(self, trainer: TrainerView) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def format_row(row: dict[str, float], epochs: int) -> str:
    """``epoch  3/10  train_loss 0.3120  val_loss 0.2981  val_accuracy 0.9120  lr 0.001  4.1s  12,345 ex/s``"""
    width = len(str(epochs))
    parts = [f"epoch {int(row['epoch']):>{width}}/{epochs}"]
    for key, value in row.items():
        if key in {"epoch", "lr", "seconds", "examples_per_second", "partial"} or key.startswith("val_top"):
            continue
        parts.append(f"{key} {value:.4f}")
    parts.append(f"lr {row['lr']:.3g}")
    parts.append(f"{row['seconds']:.1f}s")
    parts.append(f"{row['examples_per_second']:,.0f} ex/s")
    if row.get("partial"):
        parts.append("(partial epoch)")
    return "  ".join(parts)
