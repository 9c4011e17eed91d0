"""Gradient through time: how much the loss at a recurrent model's last step depends on each earlier input.

At every epoch end, ``TimeStepGradients`` takes a fixed probe batch of training sequences, and for each
input step t records ‖∂L_T/∂e_t‖ (``layerlab.models.rnn.time_step_gradients``), where L_T is the loss
at the last step and e_t the input of the recurrence at step t. It writes

    diagnostics/time_gradients.csv   epoch, then one column per step back from the end (0 = the last)
    diagnostics/time_gradients.png   the norms against steps back, log scale, one line per epoch

A plain RNN's line falls by orders of magnitude within a few dozen steps (the vanishing gradient);
an LSTM's or GRU's stays far higher: that is why they learn long dependencies.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from layerlab.models.rnn import RecurrentNet, time_step_gradients
from layerlab.train.callbacks import Callback, TrainerView
from layerlab.train.state_io import atomic_write_text

if TYPE_CHECKING:
    from layerlab.data import Split
    from layerlab.tasks import Task

PROBE = 32  # sequences in the probe batch


def time_gradient_callback(model: nn.Module, train: Split, directory: Path, task: Task) -> TimeStepGradients | None:
    """The callback for a recurrent model (rnn, lstm, gru), also inside a level-relative forecaster (it
    probes the recurrence with the windows and towards the targets it sees), or None for any other model.
    The probe's loss is the task's: against its targets in the loss's units (a forecaster's standardised)."""
    from layerlab.tasks.forecast import LevelRelative

    net, x, y = model, train.x[:PROBE], task.loss_targets(train.y[:PROBE])
    if isinstance(model, LevelRelative) and x.dim() == 3:
        net, x, y = model.net, model.relative(x), model.net_targets(x, y)
    if not isinstance(net, RecurrentNet) or len(train) == 0 or x.dim() < 2:
        return None
    return TimeStepGradients(directory, x, y, net)


class TimeStepGradients(Callback):
    name = "time_gradients"

    def __init__(self, directory: Path, x: torch.Tensor, y: torch.Tensor, net: RecurrentNet):
        self.directory, self.x, self.y, self.net = Path(directory), x, y, net  # net: the trained model or inside it
        self.rows: list[dict[str, float]] = []

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        device = next(self.net.parameters()).device
        norms = time_step_gradients(self.net, self.x.to(device), self.y.to(device)).flip(0).tolist()
        self.rows.append({"epoch": int(row["epoch"]), **{f"back_{i}": v for i, v in enumerate(norms)}})
        self.write()

    def write(self) -> None:
        if not self.rows:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.directory / "time_gradients.csv", buffer.getvalue())
        plot_time_gradients(self.rows, self.directory / "time_gradients.png")

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = list(state.get("rows", []))


def plot_time_gradients(rows: list[dict[str, float]], path: Path, labels: list[str] | None = None) -> Path:
    """One line per row (an epoch, or a model when ``labels`` are given): ‖∂L_T/∂e_t‖ against T - t."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    cmap = plt.get_cmap("viridis")
    for i, row in enumerate(rows):
        values = [v for k, v in row.items() if k.startswith("back_")]
        label = labels[i] if labels else f"epoch {int(row['epoch'])}"
        color = None if labels else cmap(i / max(1, len(rows) - 1))
        ax.plot(range(len(values)), [max(v, 1e-30) for v in values], label=label, color=color)
    ax.set_yscale("log")
    ax.set_xlabel("steps back from the last step (T - t)")
    ax.set_ylabel("‖∂ loss at T / ∂ input at t‖")
    ax.set_title("gradient through time")
    ax.grid(True, which="both", alpha=0.3)
    if len(rows) <= 12:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_time_gradients(run_dir: str | Path) -> list[dict[str, float]]:
    """The rows of a run's ``diagnostics/time_gradients.csv`` (one per epoch), or [] when it has none."""
    csv_path = Path(run_dir) / "diagnostics" / "time_gradients.csv"
    if not csv_path.is_file():
        return []
    with csv_path.open(newline="", encoding="utf-8") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def compare_time_gradients(run_dirs: dict[str, Path], path: Path) -> Path | None:
    """One figure of several recurrent runs' last recorded gradient through time, labelled by name
    (a plain RNN beside an LSTM and a GRU); None when no run recorded one."""
    rows, labels = [], []
    for label, run in run_dirs.items():
        recorded = read_time_gradients(run)
        if recorded:
            rows.append(recorded[-1])
            labels.append(label)
    return plot_time_gradients(rows, path, labels) if rows else None
