"""The run's test examples twice over: as its model took them (standardised, through ``load_data``, as
``layerlab evaluate`` prepares them) and as the exported graph takes them (``graph.graph_inputs`` of the
same raw examples). The raw examples are the source's own, taken as they pass into the run's
preprocessing, so nothing is inverted: the check compares the run's own data path with the graph's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from layerlab.data import load_data
from layerlab.data.preprocessor import Preprocessor
from layerlab.serve.graph import Graph, graph_inputs


@dataclass
class Examples:
    standardised: Tensor  # what the run's model takes (None for generators: they take noise)
    graph: Tensor  # what the exported graph takes, for the same examples


class _Recording:
    """The run's preprocessing, which keeps the raw examples of each split it prepares (train, val, test
    in ``load_data``'s order). Not a ``Preprocessor`` subclass: those register their kind by name."""

    def __init__(self, inner: Preprocessor):
        self.inner = inner
        self.raw: list[np.ndarray] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def transform_split(self, x: np.ndarray, y: np.ndarray, *, target_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        self.raw.append(x)
        return self.inner.transform_split(x, y, target_dtype=target_dtype)


def test_examples(loaded: Any, graph: Graph, *, limit: int = 1000, seed: int = 0) -> Examples:
    """Up to ``limit`` examples of the run's test split (the first ones), or for a generator ``limit``
    draws of standard normal noise from ``seed``."""
    if graph.input_kind == "noise":
        z = torch.randn(limit, *graph.input_shape, generator=torch.Generator().manual_seed(seed))
        return Examples(z, z)
    cfg = loaded.recipe
    if graph.input_kind == "text":  # token ids are both (the sources check the preprocessing's own type)
        data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed, preprocessor=loaded.preprocessor)
        return Examples(data.test.x[:limit], data.test.x[:limit])
    recording = _Recording(loaded.preprocessor)
    data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed, preprocessor=recording)  # type: ignore[arg-type]
    raw_test = recording.raw[-1][:limit]
    return Examples(data.test.x[:limit], graph_inputs(loaded.preprocessor, raw_test))
