"""A model's layers, output shapes, parameters and FLOPs, from one forward pass on a single example.

    summary = summarize(model, parse_input_shape("1x28x28"))
    summary.params, summary.flops   # FLOPs per example, a multiply-add counted as 2

FLOPs are what ``torch.utils.flop_counter.FlopCounterMode`` counts: matrix products and convolutions
(norms, activations and pooling are not counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from layerlab.errors import LayerLabError


@dataclass
class LayerRow:
    """One leaf module (or a module holding parameters of its own), in the order the forward pass runs it."""

    name: str  # dotted path in the model, as in ``named_modules()``
    type: str  # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...] | None  # one example's output, without the batch dimension; None if never called
    params: int
    trainable: int


@dataclass
class ModelSummary:
    """What ``layerlab models show`` prints: the rows, and totals for the whole model."""

    rows: list[LayerRow]
    params: int
    trainable: int
    flops: int  # per example, forward pass
    input_shape: tuple[int, ...]  # one example's, as given


def summarize(model: nn.Module, input_shape: tuple[int, ...]) -> ModelSummary:
    """Run ``model`` once on a zero batch of one example of ``input_shape`` (in eval mode, no grad).

    The model is left in the training mode it had. Raises ``LayerLabError`` when the model cannot
    take that input.
    """
    input_shape = tuple(input_shape)
    param = next(model.parameters(), None)
    x = torch.zeros((1, *input_shape), device=param.device if param is not None else "cpu")
    shapes: dict[nn.Module, tuple[int, ...] | None] = {}  # insertion order = order of first call

    def record(module: nn.Module, args: object, output: object) -> None:
        shapes.setdefault(module, _shape(output))

    listed = [(name, m) for name, m in model.named_modules() if _listed(m)]
    handles = [m.register_forward_hook(record) for _, m in listed]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    except (RuntimeError, ValueError, IndexError) as exc:
        shown = "x".join(map(str, input_shape))
        raise LayerLabError(f"{type(model).__name__} cannot take input of shape {shown}: {exc}") from None
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    order = {m: i for i, m in enumerate(shapes)}
    listed.sort(key=lambda item: order.get(item[1], len(order)))  # modules never called go last
    rows = [_row(name, m, shapes.get(m)) for name, m in listed]
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ModelSummary(rows, params, trainable, int(counter.get_total_flops()), input_shape)


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``"1x28x28"`` -> ``(1, 28, 28)``; ``"12"`` -> ``(12,)``. Raises ``LayerLabError`` for anything else."""
    parts = re.split(r"\s*[xX×,]\s*", str(text).strip())
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise LayerLabError(
            f"input shape '{text}' is not positive whole numbers joined by 'x', such as 1x28x28 "
            "(channels x height x width) or 12 (features)"
        )
    return tuple(int(p) for p in parts)


def _listed(module: nn.Module) -> bool:
    """Leaves, and containers that hold parameters of their own (so the rows add up to the total)."""
    return not any(True for _ in module.children()) or any(True for _ in module.parameters(recurse=False))


def _row(name: str, module: nn.Module, shape: tuple[int, ...] | None) -> LayerRow:
    own = list(module.parameters(recurse=False))
    return LayerRow(
        name=name or "(model)",
        type=type(module).__name__,
        output_shape=shape,
        params=sum(p.numel() for p in own),
        trainable=sum(p.numel() for p in own if p.requires_grad),
    )


def _shape(output: object) -> tuple[int, ...] | None:
    """The per-example shape of a module's output (its first tensor, for tuples such as an LSTM's)."""
    if isinstance(output, (tuple, list)) and output:
        output = output[0]
    if isinstance(output, torch.Tensor):
        return tuple(output.shape[1:])
    return None
