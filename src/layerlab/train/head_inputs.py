"""Head-only stages: what the frozen layers feed the head, computed once, and the head trained on it.

In a stage that trains only the head (``stages: [{trainable: head}]``, the first stage of ``fine_tune``)
every other layer group is frozen and runs as in evaluation: no dropout, batch norms on their stored
statistics (see ``layerlab.train.groups``). Without augmentation, what those layers hand the head is
then a fixed function of each example, yet a plain epoch recomputes it for every batch, and that
forward pass is nearly all of the stage's time. ``HeadSplit.inputs`` computes it once per stage, for
the training and the validation split, without gradients; the trainer then trains and validates the
head on it. The batches, their order, the head and its dropout draws are those of the plain loop, so
the losses and weights are the same up to rounding (the frozen layers see other batches now, padded
otherwise), in a fraction of the time. ``train.cache_frozen: false`` turns it off.

    split = head_split(model, groups[-1], probe=x[:8], precision="bf16")  # or a str: why it would not be exact
    split.example                                                 # (F,) one example's input, from the probe
    inputs = split.inputs(x, batch_size=32, precision="bf16")     # (N, F), once
    output = split.head(inputs[i:j])                              # what model(x[i:j]) gives in training

A model may say where it splits by two methods, ``head_input(x)`` and ``from_head_input(f)``:
``SentenceClassifier`` has them, since its input to the head is the pooled sentence vectors, before the
dropout the head trains with. Any other model splits at the input of its head module (the last layer
group's one module: a ResNet's ``fc``). Either way the split is checked on a few examples first, and
refused unless the head's input is the same in training mode under two random states and in evaluation
mode (so nothing random, no dropout and no batch statistics, lies below the head) and the head applied
to it gives the model's output (nothing follows the head).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from layerlab.models.inference import autocast, in_batches
from layerlab.train.groups import LayerGroup

log = logging.getLogger(__name__)

PROBE_EXAMPLES = 8  # the examples a split is checked on
MAX_BYTES = 4 * 2**30  # the largest cache of head inputs (training and validation together)


@dataclass
class HeadSplit:
    """A model cut at its head's input: ``head(head_input(x))`` is ``model(x)``."""

    model: nn.Module
    head_input: Callable[[torch.Tensor], torch.Tensor]
    head: Callable[[torch.Tensor], torch.Tensor]
    example: torch.Tensor | None = None  # one example's head input (its shape and dtype), set by the check

    @torch.no_grad()
    def inputs(self, x: torch.Tensor, *, batch_size: int, precision: str) -> torch.Tensor:
        """(N, *F) the head's input for each row of ``x``, computed in evaluation mode, in batches of at most
        ``batch_size`` (token ids in batches of about one length: ``models.inference.in_batches``)."""
        with _evaluation(self.model), autocast(x.device, precision):
            return in_batches(self.head_input, x, batch_size=batch_size)

    def module(self) -> nn.Module:
        """The head as a module that takes the head inputs (for a task's ``evaluate``)."""
        return _OnHeadInputs(self.model, self.head)


def head_split(model: nn.Module, head_group: LayerGroup, *, probe: torch.Tensor, precision: str) -> HeadSplit | str:
    """The split of ``model`` (its layers below the head frozen) at its head, checked on ``probe``, or
    why there is none."""
    if hasattr(model, "head_input") and hasattr(model, "from_head_input"):
        split = HeadSplit(model, model.head_input, model.from_head_input)
    elif len(head_group.modules) == 1:
        split = HeadSplit(model, _CaptureInput(model, head_group.modules[0]), head_group.modules[0])
    else:
        return f"its head, {head_group.name}, is not one module whose input could be read"
    try:
        return _checked(split, probe, precision)
    except _NotCaptured as exc:
        return str(exc)


def _checked(split: HeadSplit, probe: torch.Tensor, precision: str) -> HeadSplit | str:
    model = split.model
    saved = {name: b.detach().clone() for name, b in model.named_buffers()}  # batch statistics a probe may move
    devices = [probe.device] if probe.device.type == "cuda" else []
    was_training = model.training
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices), autocast(probe.device, precision):
            model.train()
            drawn = []
            for seed in (1, 2):
                torch.manual_seed(seed)
                drawn.append(split.head_input(probe))
            model.eval()
            fixed = split.head_input(probe)
            whole, headed = model(probe), split.head(fixed)
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(saved[name])
    if not all(_same(a, fixed) for a in drawn):
        return "what feeds its head changes from draw to draw in training (a dropout or batch statistics below the head)"
    if not _same(whole, headed):
        return "its output is not its head's output (something follows the head)"
    split.example = fixed[0]
    return split


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-5)


class _NotCaptured(Exception):
    pass


class _Stop(Exception):
    pass


class _CaptureInput:
    """``model``'s forward run only as far as ``head``'s input, which it returns."""

    def __init__(self, model: nn.Module, head: nn.Module):
        self.model, self.head = model, head

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def capture(module: nn.Module, args: tuple) -> None:
            if len(args) != 1 or not isinstance(args[0], torch.Tensor):
                raise _NotCaptured(f"its head, {type(module).__name__}, takes {len(args)} inputs, not one tensor")
            captured.append(args[0])
            raise _Stop

        handle = self.head.register_forward_pre_hook(capture)
        try:
            self.model(x)
        except _Stop:
            return captured[0]
        finally:
            handle.remove()
        raise _NotCaptured("its head is not called in its forward pass")


class _OnHeadInputs(nn.Module):
    def __init__(self, model: nn.Module, head: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model, self._head = model, head  # the model registered, so that eval() and train() reach the head

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._head(inputs)


@contextlib.contextmanager
def _evaluation(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
