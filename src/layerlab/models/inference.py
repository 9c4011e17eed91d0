"""Running a model outside training: mixed-precision autocast and batched, no-grad outputs.

Used by the trainer (validation), by tasks (their ``evaluate``) and by the commands that read a run
directory; it lives with the models so that every layer above can use it.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for ``precision`` ("fp32", "bf16" or "fp16") on ``device``; a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


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
