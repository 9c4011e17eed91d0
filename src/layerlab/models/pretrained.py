"""Pretrained image models: any torchvision classifier (``tv:<name>``) and, when installed, timm's (``timm:<name>``).

    model: {name: tv:resnet50, weights: IMAGENET1K_V2}          # downloaded to the torch cache once
    model: {name: tv:resnet50, weights_path: resnet50.pth}      # or read from a local file, offline

The network is the library's own, with its weights; two things change:

- the **head** (the last layer, whose outputs are the 1,000 ImageNet classes) is replaced by a fresh
  one with the data's number of classes;
- an **input transform** goes in front: ``(B, C, H, W)`` pixels in [0, 1] -> channels repeated to 3
  for grey images -> resized to the weights' size (224 for ImageNet weights, or ``image_size``) ->
  standardised with the weights' mean and standard deviation. It follows the weights automatically,
  and since it is part of the model, ``evaluate`` and ``predict`` prepare inputs exactly so from the
  run directory; the data's own standardisation is turned off for these models (``data.normalize``
  is resolved to false in the saved recipe). Resizing per batch keeps the data set in memory at its
  own size (CIFAR-10 at 224 pixels would take 30 GB).

The module is ``input`` -> ``net`` (torchvision's model, its names unchanged); the layer groups that
fine-tuning freezes and unfreezes are found in ``net`` by ``layerlab.transfer.layer_groups``.
Weight files are read without running pickled code: ``.safetensors``, or ``.pth``/``.pt`` state dicts
through ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import urllib.error
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from layerlab.errors import LayerLabError, did_you_mean
from layerlab.models.base import MODELS
from layerlab.models.configs_image import TimmConfig, TorchvisionConfig
from layerlab.models.layers import image_shape

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# ------------------------------------------------------------------------------------- torchvision
@MODELS.register("tv:")
def build_torchvision(cfg: TorchvisionConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    import torchvision.models as tvm

    channels, _, _ = image_shape(cfg.name, input_shape)
    net = tvm.get_model(cfg.arch(), weights=None)  # the architecture, with its 1,000-class head
    enum = tvm.get_model_weights(cfg.arch())[cfg.weights] if cfg.weights is not None else None
    if not cfg._load_weights:
        state = None
    elif cfg.weights_path is not None:
        state = read_state_dict(cfg.weights_path)
    elif enum is not None:
        state = _download(enum, cfg)
    else:
        state = None
    head = replace_head(net, num_outputs)
    if state is not None:
        load_backbone_state(net, state, head, source=cfg.weights_path or f"{cfg.name} {cfg.weights}")
    transforms = enum.transforms() if enum is not None else None
    size = cfg.image_size or (transforms.crop_size[0] if transforms is not None else None)
    mean = tuple(transforms.mean) if transforms is not None else IMAGENET_MEAN
    std = tuple(transforms.std) if transforms is not None else IMAGENET_STD
    return with_input_transform(InputTransform(channels, size, mean, std), net)


def _download(enum: Any, cfg: TorchvisionConfig) -> dict[str, torch.Tensor]:
    from layerlab.settings import load_settings

    where = f"model.weights: {cfg.name} {cfg.weights}"
    if load_settings().offline:
        raise LayerLabError(f"{where} would be downloaded, but LAYERLAB_OFFLINE is set; give model.weights_path "
                            "(a .pth or .safetensors file of those weights) or model.weights: none")
    try:
        return enum.get_state_dict(progress=False, check_hash=True)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        raise LayerLabError(f"{where}: cannot download {enum.url} ({exc}); without the internet, put the file "
                            "in the torch cache (~/.cache/torch/hub/checkpoints) or give model.weights_path") from None


# ---------------------------------------------------------------------------------------------- timm
@MODELS.register("timm:")
def build_timm(cfg: TimmConfig, input_shape: tuple[int, ...], num_outputs: int) -> nn.Module:
    try:
        import timm
    except ImportError:
        raise LayerLabError(f"model.name: {cfg.name} needs timm, which is not installed (pip install timm)") from None
    channels, _, _ = image_shape(cfg.name, input_shape)
    if cfg.arch() not in timm.list_models():
        raise LayerLabError(f"model.name: '{cfg.arch()}' is not a timm model{did_you_mean(cfg.arch(), timm.list_models(), prefix='timm:')}")
    pretrained = cfg.weights is not None and cfg.weights_path is None and cfg._load_weights
    net = timm.create_model(cfg.arch(), pretrained=pretrained, num_classes=num_outputs)
    if cfg.weights_path is not None and cfg._load_weights:
        head = net.pretrained_cfg.get("classifier", "fc")  # the head's name, e.g. "fc" or "head.fc"
        load_backbone_state(net, read_state_dict(cfg.weights_path), head, source=cfg.weights_path)
    data = timm.data.resolve_data_config({}, model=net)
    size = cfg.image_size or int(data["input_size"][-1])
    return with_input_transform(InputTransform(channels, size, tuple(data["mean"]), tuple(data["std"])), net)


# ------------------------------------------------------------------------------------- shared parts
class InputTransform(nn.Module):
    """(B, C, H, W) pixels in [0, 1] -> (B, 3, S, S) as the weights expect: grey repeated, resized, standardised."""

    def __init__(self, channels: int, size: int | None, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if channels not in (1, len(mean)):
            raise LayerLabError(f"a pretrained model takes {len(mean)}-channel (or grey) images, not {channels} channels")
        self.size = size
        # Not saved with the weights: they follow from the recipe (the weights' own values).
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.mean.shape[1] != 1:
            x = x.expand(-1, self.mean.shape[1], -1, -1)  # (B, 3, H, W)
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std  # (B, 3, S, S)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def with_input_transform(transform: InputTransform, net: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(input=transform, net=net))


def replace_head(net: nn.Module, num_outputs: int) -> str:
    """Replace the last layer (a Linear, or a 1x1 Conv2d as in SqueezeNet) by a fresh one with
    ``num_outputs`` outputs; returns its name in ``net``."""
    name, layer = None, None
    for n, m in net.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            name, layer = n, m
    if name is None or layer is None:
        raise LayerLabError(f"{type(net).__name__}: no final Linear or Conv2d layer to replace with a new head")
    if isinstance(layer, nn.Linear):
        new: nn.Module = nn.Linear(layer.in_features, num_outputs, bias=layer.bias is not None)
    else:
        new = nn.Conv2d(layer.in_channels, num_outputs, kernel_size=layer.kernel_size, bias=layer.bias is not None)
    parent_name, _, attr = name.rpartition(".")
    setattr(net.get_submodule(parent_name) if parent_name else net, attr, new)
    return name


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a weights file: safetensors, or a pickled state dict read with ``weights_only=True``
    (which refuses code). A checkpoint holding the state dict under ``state_dict`` or ``model`` is unwrapped."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LayerLabError(f"model.weights_path: {path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise LayerLabError(f"model.weights_path: {path}: not a readable safetensors file ({exc})") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... for bad files
        raise LayerLabError(f"model.weights_path: {path}: not a state dict that can be read safely "
                            f"(a file of tensors saved with torch.save(model.state_dict()) or safetensors): {exc}") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise LayerLabError(f"model.weights_path: {path}: expected a dict of tensors (a state dict)")
    return state


def load_backbone_state(net: nn.Module, state: dict[str, torch.Tensor], head: str, *, source: str) -> None:
    """Load ``state`` into everything of ``net`` but its (new) head; any other mismatch is an error."""
    state = {k.removeprefix("module."): v for k, v in state.items()}  # saved from DataParallel
    own = net.state_dict()
    skip = f"{head}."
    missing = [k for k in own if not k.startswith(skip) and k not in state]
    unexpected = [k for k in state if not k.startswith(skip) and k not in own]
    wrong = [k for k in own if not k.startswith(skip) and k in state and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = ([f"missing {missing[:3]}"] if missing else []) + ([f"unexpected {unexpected[:3]}"] if unexpected else [])
        parts += [f"shape of {wrong[0]}: {tuple(state[wrong[0]].shape)} in the file, {tuple(own[wrong[0]].shape)} in the model"] if wrong else []
        raise LayerLabError(f"{source}: the weights do not fit {type(net).__name__} ({'; '.join(parts)})")
    kept = {k: v for k, v in state.items() if not k.startswith(skip)}
    net.load_state_dict({**{k: v for k, v in own.items() if k.startswith(skip)}, **kept})
    log.info("%s: loaded %d tensors; the head '%s' is new", source, len(kept), head)
