"""Micro-batching is exact: a request's outputs in a batch with others have the bits of its outputs alone, for
an image classifier, a table model and a text model, in PyTorch (fixed batch shapes) and ONNX Runtime."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from layerlab.serve.batching import MicroBatcher
from layerlab.serve.exact import SIZES, Padded, ladder
from layerlab.serve.predictor import Predictor

WORDS = "a warm funny moving film dull tedious far too long the plot is thin but the actors shine".split()


def examples(kind: str, predictor: Predictor, wine: tuple[list[str], list[list[str]]], n: int = 40) -> np.ndarray:
    if kind == "image":
        return (load_digits().images[:n, None] / 16).astype(np.float32)
    if kind == "table":
        header, rows = wine
        return predictor.rows([dict(zip(header[:-1], r[:-1])) for r in rows[:n]], prepare_only=True)
    rng = np.random.default_rng(1)
    return predictor.prepare_sentences([" ".join(rng.choice(WORDS, rng.integers(1, 12))) for _ in range(n)])


async def _batched(predictor: Predictor, requests: list[np.ndarray], sizes: list[int]) -> list[np.ndarray]:
    batcher = MicroBatcher(predictor.run, max_batch=16, max_wait_ms=50, on_batch=sizes.append)
    try:
        return await asyncio.gather(*[batcher.submit(x) for x in requests])
    finally:
        await batcher.close()


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
@pytest.mark.parametrize("kind", ["image", "table", "text"])
def test_concurrent_requests_get_the_bits_they_get_alone(kind, runtime, request, wine):
    run_dir = request.getfixturevalue({"image": "digits_run", "table": "table_run", "text": "polarity_run"}[kind])
    predictor = Predictor.from_run(run_dir, runtime=runtime)
    x = examples(kind, predictor, wine)
    cuts = np.cumsum([1, 2, 3] * 7)  # requests of 1, 2 and 3 examples
    requests = np.split(x, cuts[cuts < len(x)])
    sizes: list[int] = []
    together = np.concatenate(asyncio.run(_batched(predictor, requests, sizes)))
    alone = np.concatenate([predictor.run(x[i : i + 1]) for i in range(len(x))])
    assert max(sizes) > 3, sizes  # requests did share forward passes
    assert torch.equal(torch.from_numpy(together), torch.from_numpy(alone))
    assert torch.equal(torch.from_numpy(predictor.run(x)), torch.from_numpy(alone))  # one request of all of them
    if runtime == "torch":
        assert isinstance(predictor.runner, Padded) and predictor.runner.sizes[-1] == SIZES[-1]


def test_the_ladder_keeps_only_the_sizes_that_give_the_top_sizes_bits():
    """A runner whose rounding depends on the batch size (as PyTorch's kernels may) gets the sizes at which
    it agrees with the largest; padding to them gives every row the same bits at any request size."""

    def runner(x: np.ndarray) -> np.ndarray:  # batches under 8 round differently
        return x.sum(axis=1, keepdims=True) + (np.float32(1e-6) if len(x) < 8 else np.float32(0))

    probe = np.random.default_rng(0).random((SIZES[-1], 5), dtype=np.float32)
    sizes = ladder(runner, probe)
    assert sizes == (8, 16, 32, 64)
    padded = Padded(runner, sizes)
    alone = np.concatenate([padded(probe[i : i + 1]) for i in range(20)])
    assert np.array_equal(padded(probe[:20]), alone) and np.array_equal(alone, runner(probe)[:20])
    assert padded(probe[:3]).shape == (3, 1) and padded(np.tile(probe, (3, 1))).shape == (192, 1)
