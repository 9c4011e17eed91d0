"""Running a model outside training: mixed-precision autocast and batched, no-grad outputs.

Used by the trainer (validation), by tasks (their ``evaluate``) and by the commands that read a run
directory; it lives with the models so that every layer above can use it.
"""

from __future__ import annotations

import contextlib
import functools

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
    """The model's outputs (float32, on x's device) for every row of ``x``, in eval mode."""
    was_training = model.training
    model.eval()
    device = x.device
    with autocast(device, precision):
        outputs = [model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0, device=device)
