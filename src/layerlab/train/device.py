"""Devices, seeds and determinism: explicit, passed in, never hidden globals."""

from __future__ import annotations

import logging
import random

import numpy as np
import torch

from layerlab.errors import LayerLabError
from layerlab.models.inference import native_bf16

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; other names are checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LayerLabError(f"train.device: '{name}' is not a device; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LayerLabError(f"train.device: '{name}' was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise LayerLabError(f"train.device: '{name}' does not exist; this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise LayerLabError("train.device: 'mps' was asked for but is not available here; use 'auto' or 'cpu'")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_deterministic(enabled: bool) -> None:
    """Use only deterministic kernels (or lift that restriction)."""
    torch.use_deterministic_algorithms(enabled, warn_only=False)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.deterministic = enabled
        torch.backends.cudnn.benchmark = not enabled


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def step_generator(seed: int, epoch: int, step: int, device: torch.device) -> torch.Generator:
    """A generator for one batch's augmentation: a pure function of (seed, epoch, step)."""
    gen = torch.Generator(device=device)
    gen.manual_seed((seed * 1_000_003 + epoch * 100_003 + step) % (2**63 - 1))
    return gen


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise LayerLabError(f"train.precision: fp16 needs a CUDA device, and this run is on {device.type}; use bf16 or fp32")
    if precision == "bf16" and device.type == "cpu" and not native_bf16(device):
        # Emulated bf16 measured 0.08x fp32's throughput for cnn and resnet18 on a Zen 3 (BENCHMARKS, "Precision").
        log.warning("train.precision: bf16 was asked for, but this CPU has no bf16 arithmetic (neither AVX-512 BF16 "
                    "nor AMX), so autocast emulates it, often several times slower than fp32; use 'auto' (bf16 only "
                    "where it is native) or 'fp32'")
