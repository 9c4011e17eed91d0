"""Answers from PyTorch that do not depend on the batch: every forward at one of a few fixed batch shapes.

PyTorch's CPU kernels (oneDNN convolutions, MKL matrix products) pick their blocking by the batch size, so
an example's outputs differ in the last bits (up to ~1e-6) between a forward of 1 row and one of 32. A
server that gathers requests into batches would then answer a request differently from how it answers
it alone. What is exact is a fixed shape: at P rows, an example gives the same bits at any position and
with any neighbours (the rows of an eval-mode network are independent). So ``Padded`` runs every forward
at a size of its ladder, padding the rows with copies of the first, and the ladder holds only sizes that
give the same bits as each other, found when the model is loaded (``ladder``): a model's sizes fall into
groups (measured: fashion-cnn 1 | 2-4 | 8-64, polarity-cnn and fashion-resnet18 1 | 2-8 | 16-64), and the
ladder is the group of the largest size, ``TOP``, so that a full batch costs nothing extra. A request alone
then costs one forward at the ladder's smallest size. ONNX Runtime's kernels give the same bits at every
batch size (measured), so its runner is used as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layerlab.serve.formats import Runner

SIZES = (1, 2, 4, 8, 16, 32, 64)  # the batch sizes a ladder is chosen from
TOP = SIZES[-1]


@dataclass
class Padded:
    """``runner`` at fixed batch sizes: inputs in chunks of the ladder's largest size, each padded up to the
    smallest size of the ladder that holds it; the outputs of the padding rows are dropped."""

    runner: Runner
    sizes: tuple[int, ...]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        top = self.sizes[-1]
        return np.concatenate([self._forward(x[i : i + top]) for i in range(0, len(x), top)])

    def _forward(self, chunk: np.ndarray) -> np.ndarray:
        n = len(chunk)
        size = next(s for s in self.sizes if s >= n)
        if size > n:
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], size - n, axis=0)])
        return np.asarray(self.runner(np.ascontiguousarray(chunk)))[:n]


def ladder(runner: Runner, probe: np.ndarray) -> tuple[int, ...]:
    """The sizes of ``SIZES`` at which ``runner`` gives every row of ``probe`` (``TOP`` examples) the same
    bits as at ``TOP`` rows. Kernels are chosen by shape, not by values, so equal bits on the probe's
    ``TOP`` random examples mean the same kernels."""
    reference = np.asarray(runner(probe))
    sizes = [size for size in SIZES[:-1] if np.array_equal(_in_chunks(runner, probe, size), reference)]
    return (*sizes, TOP)


def _in_chunks(runner: Runner, x: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([np.asarray(runner(np.ascontiguousarray(x[i : i + size]))) for i in range(0, len(x), size)])


def probe_inputs(spec: dict[str, Any], preprocessor: Any, *, seed: int = 0) -> np.ndarray:
    """``TOP`` random graph inputs of the spec's shape: token ids (a random length of real tokens, then
    padding) for a text model, values in [0, 1) otherwise."""
    rng = np.random.default_rng(seed)
    shape = (TOP, *spec["input"]["shape"][1:])
    if np.dtype(spec["input"]["dtype"]).kind != "i":
        return rng.random(shape, dtype=np.float32)
    tokenizer = getattr(preprocessor, "tokenizer", None)
    vocab = int(getattr(tokenizer, "vocab_size", 2))
    ids = rng.integers(1, max(vocab, 2), size=shape)
    lengths = rng.integers(1, shape[-1] + 1, size=TOP)
    ids[np.arange(shape[-1])[None, :] >= lengths[:, None]] = 0  # right padding, as the tokenizer pads
    return ids.astype(np.int64)


def exact(runner: Runner, spec: dict[str, Any], preprocessor: Any) -> Padded:
    """``runner`` (PyTorch's) made batch-independent: padded to its measured ladder."""
    return Padded(runner, ladder(runner, probe_inputs(spec, preprocessor)))
