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


def test_a_bf16_server_is_exact_too_and_agrees_with_fp32_on_the_labels(digits_run, wine):
    """Under bf16 autocast the fixed shapes still make a batched answer equal the answer alone; the outputs
    follow bf16's rounding (not fp32's bits) and almost always give fp32's label."""
    fp32, bf16 = Predictor.from_run(digits_run), Predictor.from_run(digits_run, precision="bf16")
    assert bf16.spec["precision"] == "bf16" and fp32.spec["precision"] == "fp32"
    x = examples("image", bf16, wine)
    requests, sizes = np.split(x, np.arange(3, len(x), 3)), []
    together = np.concatenate(asyncio.run(_batched(bf16, requests, sizes)))
    alone = np.concatenate([bf16.run(x[i : i + 1]) for i in range(len(x))])
    assert max(sizes) > 3 and torch.equal(torch.from_numpy(together), torch.from_numpy(alone))
    reference = fp32.run(x)
    assert not np.array_equal(alone, reference)  # bf16 arithmetic really ran
    assert (alone.argmax(1) == reference.argmax(1)).mean() >= 0.95
    assert np.abs(alone - reference).max() < 0.05 * np.abs(reference).max()


def test_serving_precision_is_checked_and_auto_follows_the_hardware(digits_run):
    from layerlab.errors import UsageError
    from layerlab.models.inference import native_bf16
    from layerlab.serve.predictor import serving_precision

    assert serving_precision("auto", "torch", torch.device("cpu")) == ("bf16" if native_bf16(torch.device("cpu")) else "fp32")
    assert Predictor.from_run(digits_run, precision="auto").spec["precision"] in ("bf16", "fp32")
    with pytest.raises(UsageError, match="--precision: 'fp8'; choose fp32, bf16, auto"):
        Predictor.from_run(digits_run, precision="fp8")
    with pytest.raises(UsageError, match="bf16 needs --runtime torch"):
        Predictor.from_run(digits_run, runtime="onnx", precision="bf16")
