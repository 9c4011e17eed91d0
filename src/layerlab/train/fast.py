"""``train.compile``: the model that ``train_step`` runs, compiled with torch.compile, and the time spent compiling.

The compiled module shares the model's parameters, so the optimiser, the checkpoints, evaluation and the
saved weights all see the plain model; only the training forward (and its backward) run compiled. A step
during which torch.compile made a new graph (the first, and the first of another batch shape such as an
epoch's smaller last batch) counts its whole time as compile time, ``TrainState.compile_seconds``, which
the run reports apart from the training time (``summary.json``: compile_seconds).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from layerlab.recipe import TrainConfig
from layerlab.train.state import TrainState


class FastPath:
    def __init__(self, model: nn.Module, cfg: TrainConfig):
        self.enabled = cfg.compile
        # dynamic=False: one graph for each batch shape (the full batch, an epoch's smaller last one). With torch's
        # default, the second shape it meets makes it compile one dynamic-shape graph that then serves every shape,
        # and that graph rounds differently from the static one: a run's kernels, and so its weights, then depend
        # on what this process compiled before (a resumed run in a fresh process differed from the uninterrupted
        # one by 2e-3 on an AMD EPYC). A graph per shape keeps each step's arithmetic a function of its shape only.
        self.net: nn.Module = torch.compile(model, backend="inductor", dynamic=False) if cfg.compile else model

    @contextmanager
    def timing(self, state: TrainState) -> Iterator[None]:
        """Around one training step: adds its time to ``state.compile_seconds`` if it compiled a graph."""
        if not self.enabled:
            yield
            return
        graphs, start = _graphs(), time.perf_counter()
        yield
        if _graphs() != graphs:
            state.compile_seconds += time.perf_counter() - start


def _graphs() -> int:
    """How many graphs torch.compile has made in this process so far."""
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])
