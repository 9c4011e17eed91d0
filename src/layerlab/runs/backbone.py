"""``model.from_run``: start a model from the weights of an earlier LayerLab run, all but its head.

The earlier run's ``model.safetensors`` gives every tensor of the new model's backbone, matched by
name and shape; the head (the last layer group, see ``layer_groups``) stays as the new model made it,
for the new task's classes. Anything else that does not fit is an error naming it: a backbone is
taken exactly or not at all. The inputs are prepared as that run prepared them (``backbone_inputs``:
its normalisation statistics, its tokenizer), as a torchvision model's transform follows its weights.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from layerlab.data.preprocessor import Preprocessor
from layerlab.errors import LayerLabError
from layerlab.rundir import RunDir
from layerlab.tasks.forecast import LevelRelative
from layerlab.train.checkpoint import load_weights
from layerlab.train.groups import layer_groups

log = logging.getLogger(__name__)

# A level-relative forecaster (task.relative) saves its network inside the wrapper, as "net.*"; a new model
# is made before any wrapping, so such a run's names are matched without the prefix.
WRAPPED = LevelRelative.SAVED_PREFIX


def load_backbone(model: nn.Module, run_dir: str | Path) -> list[str]:
    """Copy the earlier run's weights into ``model``, all but the head; returns the names copied.

    Raises LayerLabError when the run is not a run directory or its backbone does not fit ``model``.
    """
    run = RunDir.open(run_dir, need=("weights",))
    saved = load_weights(run.weights)
    own = model.state_dict()
    if not own.keys() & saved.keys() and all(k.startswith(WRAPPED) for k in saved):
        saved = {k.removeprefix(WRAPPED): v for k, v in saved.items()}
    head = {id(p) for p in layer_groups(model)[-1].params}
    head_names = {n for n, p in model.named_parameters() if id(p) in head}
    head_modules = {n.rpartition(".")[0] for n in head_names}
    # the head's buffers too (none for a Linear), by the module they belong to
    backbone = [k for k in own if k not in head_names and k.rpartition(".")[0] not in head_modules]
    missing = [k for k in backbone if k not in saved]
    wrong = [k for k in backbone if k in saved and saved[k].shape != own[k].shape]
    if missing or wrong:
        detail = (f"missing {missing[:3]}" if missing else
                  f"{wrong[0]} is {tuple(saved[wrong[0]].shape)} there and {tuple(own[wrong[0]].shape)} here")
        raise LayerLabError(f"model.from_run: the weights of {run.path} do not fit this model's backbone ({detail}); "
                            "use the same model family and sizes as that run")
    with torch.no_grad():
        for k in backbone:
            own[k].copy_(saved[k])  # state_dict tensors share storage with the model
    log.info("model.from_run: %d tensors from %s; head %s is new", len(backbone), run.path, sorted(head_modules))
    return backbone


def backbone_inputs(run_dir: str | Path) -> Preprocessor:
    """The preprocessing of the run ``run_dir``, whose input side a run starting from its backbone takes
    (``load_data(inputs_from=...)``). Raises UsageError when it is not a run directory."""
    run = RunDir.open(run_dir, need=("model_meta",))
    return Preprocessor.from_dict(run.read_json(run.model_meta)["preprocessor"])
