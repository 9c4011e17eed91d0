"""Finite training state, and the last finite weights to fall back on when training diverges.

    bad = nonfinite(model.state_dict())        # ["features.1.running_var", ...]: names of NaN/inf tensors
    last_good = LastGood()
    last_good.keep(model)                      # a copy in memory (the start of the run)
    last_good.saved(path)                      # ...or: the checkpoint at ``path`` holds finite state
    where = last_good.restore(model)           # "those of the last checkpoint (epoch 2, step 40)"

The weights to check are the parameters *and* the floating buffers: a diverging step that leaves the
parameters finite can still turn batch-norm's running statistics into inf or NaN, and a model with those
predicts one class. A checkpoint is only ever written from a finite state (``Trainer.save_checkpoint``), so
the last checkpoint of a run is always one to fall back on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.train.state_io import load_state


def nonfinite(tree: Any, limit: int = 3) -> list[str]:
    """The names (paths in the structure) of up to ``limit`` floating tensors in ``tree`` (nested dicts,
    lists and tuples) that hold a NaN or an infinity; [] when all are finite. One sync per device."""
    named = [(name, t) for name, t in _tensors(tree, "") if t.is_floating_point() or t.is_complex()]
    by_device: dict[torch.device, list[tuple[str, torch.Tensor]]] = {}
    for name, tensor in named:
        by_device.setdefault(tensor.device, []).append((name, tensor))
    bad: list[str] = []
    for entries in by_device.values():
        flags = torch.stack([torch.isfinite(t).all() for _, t in entries]).tolist()
        bad += [name for (name, _), ok in zip(entries, flags) if not ok]
    return bad[:limit]


def _tensors(node: Any, key: str) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(node, torch.Tensor):
        yield key, node.detach()
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _tensors(v, f"{key}/{k}" if key else str(k))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _tensors(v, f"{key}/{i}" if key else str(i))


class LastGood:
    """Where the last finite weights of this fit are: its latest checkpoint, or else a copy in memory."""

    def __init__(self) -> None:
        self.checkpoint: Path | None = None
        self.weights: dict[str, torch.Tensor] | None = None
        self.when = ""  # where those weights are from, for the message ("the start of the run", ...)

    def keep(self, model: nn.Module, when: str) -> None:
        """Copy ``model``'s (finite) weights, on the CPU, as the ones to fall back on."""
        self.weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self.checkpoint, self.when = None, when

    def saved(self, path: Path, when: str) -> None:
        """The checkpoint at ``path`` now holds finite state; it replaces any copy in memory."""
        self.checkpoint, self.weights, self.when = path, None, when

    def restore(self, model: nn.Module) -> str:
        """Give ``model`` the last finite weights; returns where they came from, for the run's stop reason."""
        if self.checkpoint is not None:
            model.load_state_dict(load_state(self.checkpoint)["model"])
            return f"those of the last checkpoint ({self.when}) were restored"
        if self.weights is None:
            raise RuntimeError("no finite weights were kept: LastGood.keep or .saved comes first")
        model.load_state_dict(self.weights)
        return f"those of {self.when} were restored"
