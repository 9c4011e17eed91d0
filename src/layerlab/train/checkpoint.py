"""Model weights and training checkpoints on disk (safetensors; no pickle)."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.train.state_io import atomic_write, load_state, save_state

__all__ = ["save_weights", "load_weights", "load_into", "save_state", "load_state"]


def save_weights(path: str | Path, weights: dict[str, torch.Tensor] | nn.Module) -> Path:
    """Atomically write a state dict (or a module's) as safetensors."""
    if isinstance(weights, nn.Module):
        weights = weights.state_dict()
    # Tied weights share storage; safetensors wants distinct tensors.
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    data = st_save(tensors)
    return atomic_write(path, lambda h: h.write(data))


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise LayerLabError(f"{path}: no such weights file") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise LayerLabError(f"{path}: not a readable safetensors file ({exc})") from None


def load_into(model: nn.Module, weights: dict[str, torch.Tensor], source: str | Path = "weights") -> None:
    """Load weights into a model, saying clearly which keys do not fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    mismatched = [k for k in own if k in weights and own[k].shape != weights[k].shape]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:3]}")
        if mismatched:
            k = mismatched[0]
            parts.append(f"shape of {k}: {tuple(weights[k].shape)} in the file, {tuple(own[k].shape)} in the model")
        raise LayerLabError(f"{source}: the weights do not fit the model ({'; '.join(parts)})")
    model.load_state_dict(weights)
