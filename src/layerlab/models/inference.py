"""Running a model outside training: mixed-precision autocast and batched, no-grad outputs.

Used by the trainer (validation), by tasks (their ``evaluate``) and by the commands that read a run
directory; it lives with the models so that every layer above can use it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import torch
from torch import nn


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for ``precision`` ("fp32", "bf16", "fp16" or "auto") on ``device``; a no-op for fp32.

    ``auto`` is bf16 where the device computes in bf16 natively (see ``native_bf16``), else fp32."""
    if precision == "auto":
        precision = "bf16" if native_bf16(device) else "fp32"
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` has bf16 arithmetic in hardware: a CUDA GPU of compute capability 8.0 or later
    (Ampere on), or a CPU with AVX-512 BF16 or AMX (Intel Cooper Lake and Sapphire Rapids on, AMD Zen 4
    on; read from /proc/cpuinfo, so only on Linux). Elsewhere bf16 autocast is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@torch.inference_mode()
def predict_outputs(model: nn.Module, x: torch.Tensor, *, batch_size: int, precision: str = "fp32") -> torch.Tensor:
    """The model's outputs (float32, on x's device) for every row of ``x``, in eval mode; sentences in
    batches of about one length (``in_batches``)."""
    was_training = model.training
    model.eval()
    try:
        with autocast(x.device, precision):
            return in_batches(lambda batch: model(batch).float(), x, batch_size=batch_size)
    finally:
        model.train(was_training)


_SORTED_BATCHES = 8  # each spans at most an eighth of the sentences, longest to shortest


def in_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, batch_size: int) -> torch.Tensor:
    """``fn`` of each batch of ``x``'s rows, concatenated in ``x``'s row order (for a ``fn`` whose rows do
    not depend on one another: a model in evaluation mode).

    Token ids (2-D integers, 0 the padding at the end) go in batches of sentences of about one length, the
    longest first, and in at least ``_SORTED_BATCHES`` batches (of at most ``batch_size`` rows each): a
    model that computes only up to a batch's longest sentence (``trim_padding``) then computes each
    sentence to about its own length rather than to the longest of its batch, which in the rows' order is
    near the data's ``max_length`` in almost every batch (``benchmarks/predict_order.py``)."""
    order = None
    if x.dim() == 2 and not x.is_floating_point() and len(x) > 1:
        order = torch.argsort((x != 0).sum(1), descending=True, stable=True)
        batch_size = min(batch_size, -(-len(x) // _SORTED_BATCHES))
    parts = [fn(x[i : i + batch_size] if order is None else x[order[i : i + batch_size]])
             for i in range(0, len(x), batch_size)]
    if not parts:
        return torch.empty(0, device=x.device)
    out = torch.cat(parts)
    if order is not None:
        out[order] = out.clone()  # back to the rows' order
    return out
