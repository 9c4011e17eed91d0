"""Training diagnostics: per-layer gradient norms and activation statistics, every N optimiser steps.

    trainer = Trainer(model, task, cfg, device=device, callbacks=[Diagnostics(run / "diagnostics", every=20)])

Written to the directory given (the run's ``diagnostics/``), rewritten at each epoch end:

    gradients.csv     step, epoch, then one column per layer: the L2 norm of its gradient
    activations.csv   step, epoch, layer, kind, zero_fraction, dead_fraction, saturated_fraction, mean, std
    diagnostics.json  the layers (in forward order), their kinds, ``every``, and what the columns mean

A *layer* is a module that owns parameters (a Linear, a Conv2d, a BatchNorm...), named as in
``model.named_modules()``; its gradient norm is that of all its own parameters together. Vanishing
gradients show as norms that shrink by orders of magnitude from the output layers to the input ones;
exploding ones as norms that grow from step to step.

Activation statistics are taken on the outputs of activation modules (ReLU, LeakyReLU, GELU, Sigmoid,
Tanh) during the training forward passes of the recorded steps only (a forward hook that does
nothing on other steps):

- ``zero_fraction``: share of outputs ≤ 0 (ReLU) — units switched off for that example;
- ``dead_fraction``: share of units (features, or channels of a feature map) that are ≤ 0 for every
  example of the batch — dead ReLUs, which no longer pass any gradient;
- ``saturated_fraction``: sigmoid outputs below 0.02 or above 0.98, tanh outputs beyond ±0.98, where
  the local derivative is under 0.02 (sigmoid) or 0.04 (tanh) and gradients die;
- ``mean`` and ``std`` of the outputs.

Cost: on recorded steps, one reduction per layer and one transfer of the numbers; otherwise nothing.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layerlab.train.callbacks import Callback, TrainerView
from layerlab.train.state_io import atomic_write_text

GRADIENTS_CSV, ACTIVATIONS_CSV, DIAGNOSTICS_JSON = "gradients.csv", "activations.csv", "diagnostics.json"
ACTIVATION_KINDS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu", nn.LeakyReLU: "relu", nn.GELU: "gelu", nn.SiLU: "gelu",
    nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
}
SIGMOID_SATURATION = 0.02  # sigmoid outputs within this of 0 or 1 count as saturated
TANH_SATURATION = 0.98  # |tanh| above this counts as saturated
TEXT_COLUMNS = ("layer", "kind")  # of activations.csv; the others are numbers
ACTIVATION_COLUMNS = ("zero_fraction", "dead_fraction", "saturated_fraction", "mean", "std")


def parameter_layers(model: nn.Module) -> list[tuple[str, list[nn.Parameter]]]:
    """``(name, parameters)`` of every module that owns trainable parameters, in registration order."""
    return [(name, params) for name, _, params in _owning_modules(model)]


def _owning_modules(model: nn.Module) -> list[tuple[str, nn.Module, list[nn.Parameter]]]:
    found = []
    for name, module in model.named_modules():
        params = [p for p in module.parameters(recurse=False) if p.requires_grad]
        if params:
            found.append((name or "(model)", module, params))
    return found


def gradient_norms(layers: list[tuple[str, list[nn.Parameter]]], scale: float = 1.0) -> list[float]:
    """The L2 norm of each layer's gradient (0 for a layer without one), divided by ``scale``."""
    norms = []
    for _, params in layers:
        grads = [p.grad.detach().float().norm() for p in params if p.grad is not None]
        norms.append(torch.stack(grads).square().sum().sqrt() if grads else torch.zeros((), device=params[0].device))
    return (torch.stack(norms) / scale).tolist() if norms else []


def activation_stats(output: torch.Tensor, kind: str) -> torch.Tensor:
    """``ACTIVATION_COLUMNS`` of one activation output ``(B, F)`` or ``(B, C, ...)``, as a (5,) tensor."""
    out = output.detach().float()
    off = out <= 0
    # a unit is a feature (B, F) or a channel (B, C, H, W): dead when off for every example and position
    units = off.transpose(0, 1).reshape(out.shape[1], -1) if out.ndim > 1 else off[None]
    dead = units.all(dim=1).float().mean()
    if kind == "sigmoid":
        saturated = ((out < SIGMOID_SATURATION) | (out > 1 - SIGMOID_SATURATION)).float().mean()
    elif kind == "tanh":
        saturated = (out.abs() > TANH_SATURATION).float().mean()
    else:
        saturated = torch.zeros((), device=out.device)
    return torch.stack([off.float().mean(), dead, saturated, out.mean(), out.std(unbiased=False)])


class Diagnostics(Callback):
    """Records gradient norms and activation statistics every ``every`` optimiser steps (step 0 included)."""

    name = "diagnostics"

    def __init__(self, directory: Path, *, every: int = 50):
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.directory, self.every = Path(directory), every
        self.gradient_rows: list[dict[str, float]] = []
        self.activation_rows: list[dict[str, Any]] = []
        self._layers: list[tuple[str, list[nn.Parameter]]] = []
        self._types: dict[str, str] = {}  # layer name -> module class name (Linear, BatchNorm1d, ...)
        self._activations: list[tuple[str, str]] = []  # (module name, kind), in registration order
        self._hooks: list[Any] = []
        self._pending: dict[str, list[torch.Tensor]] = {}  # stats of the micro-batches of this step
        self._armed = False

    # ---------------------------------------------------------------------------------- hooks
    def on_fit_start(self, trainer: TrainerView) -> None:
        model = trainer.model
        owners = _owning_modules(model)
        self._layers = [(name, params) for name, _, params in owners]
        self._types = {name: type(module).__name__ for name, module, _ in owners}
        self._activations = []
        for name, module in model.named_modules():
            kind = ACTIVATION_KINDS.get(type(module))
            if kind is not None:
                self._activations.append((name, kind))
                self._hooks.append(module.register_forward_hook(self._hook(name, kind)))
        self._armed = trainer.state.global_step % self.every == 0

    def _hook(self, name: str, kind: str):
        def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if self._armed and module.training and isinstance(output, torch.Tensor):
                self._pending.setdefault(name, []).append(activation_stats(output, kind))

        return record

    def on_after_backward(self, trainer: TrainerView) -> None:
        if not self._armed:
            return
        state = trainer.state
        where = {"step": state.global_step, "epoch": state.epoch + 1}
        scale = trainer.gradient_scale()
        norms = gradient_norms(self._layers, scale)
        self.gradient_rows.append({**where, **{name: v for (name, _), v in zip(self._layers, norms)}})
        kinds = dict(self._activations)
        names = [n for n, _ in self._activations if n in self._pending]
        if names:
            means = torch.stack([torch.stack(self._pending[n]).mean(0) for n in names]).tolist()  # one transfer
            for name, values in zip(names, means):
                self.activation_rows.append({**where, "layer": name, "kind": kinds[name],
                                             **dict(zip(ACTIVATION_COLUMNS, values))})
        self._pending.clear()
        self._armed = False

    def on_step_end(self, trainer: TrainerView, loss: torch.Tensor) -> None:
        if trainer.at_step_boundary:
            self._armed = trainer.state.global_step % self.every == 0

    def on_epoch_end(self, trainer: TrainerView, row: dict[str, float]) -> None:
        self.write()

    def on_fit_end(self, trainer: TrainerView) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()
        self.write()

    # ----------------------------------------------------------------------------------- files
    def write(self) -> None:
        """Write the three files of the module docstring (atomically)."""
        layers = [name for name, _ in self._layers]
        _write_csv(self.directory / GRADIENTS_CSV, ["step", "epoch", *layers], self.gradient_rows)
        _write_csv(self.directory / ACTIVATIONS_CSV, ["step", "epoch", "layer", "kind", *ACTIVATION_COLUMNS],
                   self.activation_rows)
        meta = {
            "every": self.every,
            "layers": layers,
            "layer_types": self._types,
            "activations": [{"layer": n, "kind": k} for n, k in self._activations],
            "gradients": "L2 norm of each layer's gradient, before clipping, at optimiser step `step`",
            "activation_columns": {
                "zero_fraction": "share of outputs <= 0",
                "dead_fraction": "share of units (features or channels) <= 0 for every example of the batch",
                "saturated_fraction": f"sigmoid outputs within {SIGMOID_SATURATION} of 0 or 1; |tanh| > {TANH_SATURATION}",
                "mean": "mean output", "std": "standard deviation of the outputs",
            },
        }
        atomic_write_text(self.directory / DIAGNOSTICS_JSON, json.dumps(meta, indent=2) + "\n")

    def state_dict(self) -> dict[str, Any]:
        return {"gradient_rows": self.gradient_rows, "activation_rows": self.activation_rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gradient_rows = list(state.get("gradient_rows", []))
        self.activation_rows = list(state.get("activation_rows", []))


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_diagnostics(directory: Path) -> dict[str, Any] | None:
    """The files of a run's ``diagnostics/`` as ``{"meta", "gradients", "activations"}`` (lists of rows,
    numbers as floats), or None when the run has none."""
    directory = Path(directory)
    if not (directory / GRADIENTS_CSV).exists():
        return None

    def rows(name: str) -> list[dict[str, Any]]:
        path = directory / name
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as handle:
            return [{k: v if k in TEXT_COLUMNS else _value(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    meta = json.loads((directory / DIAGNOSTICS_JSON).read_text(encoding="utf-8")) \
        if (directory / DIAGNOSTICS_JSON).exists() else {}
    return {"meta": meta, "gradients": rows(GRADIENTS_CSV), "activations": rows(ACTIVATIONS_CSV)}


def _value(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def diagnostics_every(every: int | None, *, examples: int, batch_size: int, accumulate: int, epochs: int) -> int:
    """Steps between records: ``every`` when set (0 = never), else about 100 records over the run."""
    if every is not None:
        return every
    steps = math.ceil(math.ceil(examples / batch_size) / accumulate) * epochs
    return max(1, steps // 100)
