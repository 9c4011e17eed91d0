"""Whether a model can fit in memory, known before it is built: a model too large for the machine is
refused in one line, with its parameter count and the memory it would need, instead of running out of
memory half-way through allocating it.

The parameters are counted on PyTorch's ``meta`` device, where tensors have shapes but no storage, so
counting costs no memory and draws no random numbers from the generators the real build uses.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.errors import LayerLabError

WEIGHT_BYTES = 4  # float32
# Training holds each parameter four times: the weight, its gradient and Adam's two moments. Activations
# come on top, so this is the least a run needs, and only what is sure not to fit is refused.
TRAINING_COPIES = 4


class ModelTooLarge(LayerLabError):
    """The model a recipe describes cannot fit in the memory of the machine (or the GPU)."""

    exit_code = 2


def check_model_fits(model_cfg: Mapping[str, Any], *, input_shape: tuple[int, ...], num_outputs: int,
                     data_fields: Mapping[str, Any] | None, device: torch.device | None) -> int | None:
    """The model's number of parameters; raises ModelTooLarge when they cannot fit.

    ``device`` is where it trains (None: the model is only loaded, one copy of the weights). The model is
    first built in the machine's memory, so that must hold its weights whatever ``device`` is. Returns
    None, checking nothing, for models whose size is not the recipe's to choose (``tv:``/``hf:``
    models) and for families that cannot be built on the meta device; their real build says what is wrong.
    """
    params = count_parameters(model_cfg, input_shape=input_shape, num_outputs=num_outputs, data_fields=data_fields)
    if params is None:
        return None
    name = model_cfg.get("name")
    copies = TRAINING_COPIES if device is not None else 1
    on_gpu = device is not None and device.type == "cuda"
    needs = [("this machine's", params * WEIGHT_BYTES * (1 if on_gpu else copies), available_memory(None))]
    if on_gpu:
        needs.append((f"the GPU's ({device})", params * WEIGHT_BYTES * copies, available_memory(device)))
    for where, need, free in needs:
        if free is not None and need > free:
            what = "to train" if device is not None else "to load"
            raise ModelTooLarge(f"model '{name}' has {params:,} parameters, which need at least {_gib(need)} {what} "
                                f"(weights{', gradients and two Adam moments' if device is not None else ''}, "
                                f"float32), but {where} available memory is {_gib(free)}; make the model "
                                "smaller (its width, depth or vocabulary)")
    return params


def count_parameters(model_cfg: Mapping[str, Any], *, input_shape: tuple[int, ...], num_outputs: int,
                     data_fields: Mapping[str, Any] | None) -> int | None:
    """The number of parameters of the model, built on the meta device; None when it cannot be told so."""
    from layerlab.models import create_model

    if not isinstance(model_cfg, Mapping) or ":" in str(model_cfg.get("name", "")):
        return None
    saved = _random_states()
    try:
        with torch.device("meta"):
            model = create_model(model_cfg, input_shape=input_shape, num_outputs=num_outputs,
                                 data_fields=data_fields, pretrained=False)
        return sum(p.numel() for p in model.parameters())
    except Exception:  # noqa: BLE001 - lazy layers, ops with no meta kernel, bad options: the real build decides
        return None
    finally:
        _restore_random_states(saved)


def available_memory(device: torch.device | None) -> int | None:
    """Bytes free on a CUDA ``device``, or available in the machine's memory (None); None when unknown."""
    if device is not None:
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError, ValueError):
            return None
    try:
        import psutil  # type: ignore[import-untyped]

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB"


def _random_states() -> tuple[Any, ...]:
    # The meta build draws nothing on the CPU generator, but a family may seed or draw from Python's or
    # NumPy's: whatever it does, the real build must start from the same states (bit-identical runs).
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def _restore_random_states(saved: tuple[Any, ...]) -> None:
    torch.set_rng_state(saved[0])
    random.setstate(saved[1])
    np.random.set_state(saved[2])
