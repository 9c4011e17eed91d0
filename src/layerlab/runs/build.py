"""The task and the model a recipe's ``task`` and ``model`` sections describe, for data described by a
``DataInfo``: written once, for a run that trains (``assemble``), a run read back (``load_run``) and the
LR finder, so the three build the same thing in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from layerlab.data import DataInfo
from layerlab.models import create_model
from layerlab.runs.backbone import load_backbone
from layerlab.runs.model_size import check_model_fits
from layerlab.tasks import Task, create_task
from layerlab.train.device import seed_everything


def build_model(task_cfg: Any, model_cfg: Mapping[str, Any], *, info: DataInfo, input_shape: tuple[int, ...],
                train_targets: Tensor, preprocessor: Any, num_outputs: int | None = None, seed: int | None = None,
                pretrained: bool = True, backbone: str | Path | None = None,
                train_device: torch.device | None = None) -> tuple[Task, nn.Module]:
    """The task fitted to ``train_targets``, and the model it wraps (``task.wrap_model``).

    ``num_outputs`` defaults to the task's; ``seed``, when given, seeds every generator just before the
    model's weights are drawn; ``backbone`` is a run directory whose weights the model starts from
    (``model.from_run``); ``train_device`` is where the model will train (None: it is only loaded).
    Raises ModelTooLarge (exit 2) before building a model whose parameters cannot fit in memory, and
    what ``create_task``, ``create_model`` and ``load_backbone`` raise.
    """
    task = create_task(task_cfg, num_classes=info.num_classes, class_names=info.class_names,
                       train_targets=train_targets, preprocessor=preprocessor)
    outputs = task.num_outputs() if num_outputs is None else num_outputs
    check_model_fits(model_cfg, input_shape=input_shape, num_outputs=outputs, data_fields=info.model_hints(),
                     device=train_device)
    if seed is not None:
        seed_everything(seed)
    model = create_model(model_cfg, input_shape=input_shape, num_outputs=outputs,
                         data_fields=info.model_hints(), pretrained=pretrained)
    if backbone is not None:
        load_backbone(model, backbone)
    return task, task.wrap_model(model)
