"""A recipe's data, task and model, ready to train: ``data → task → model`` in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from layerlab.data import Dataset, load_data
from layerlab.recipe import Recipe
from layerlab.runs.backbone import backbone_inputs
from layerlab.runs.build import build_model
from layerlab.tasks import Task
from layerlab.train.device import resolve_device


@dataclass
class Assembled:
    data: Dataset
    task: Task
    model: nn.Module


def assemble(cfg: Recipe, *, resumed: Path | None = None) -> Assembled:
    """Load ``cfg``'s data, fit its task to the training split, build its model.

    With ``model.from_run`` the inputs are prepared as that run prepared them and the model starts from
    its backbone. ``resumed`` is the run directory a resumed run continues: its own preprocessing (it
    took the backbone's when it began, so the backbone's run may be gone by now) and no pretrained or
    backbone weights (the checkpoint has them). ``data.generated`` adds a conditional GAN run's
    samples to the training split. Raises what loading the data and building the model raise.
    """
    from_run = cfg.model.get("from_run")
    inputs_from = backbone_inputs(resumed or from_run) if from_run else None
    data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed, inputs_from=inputs_from)
    generated = getattr(cfg.data, "generated", None)
    if generated:
        from layerlab.runs.loaded import load_run
        from layerlab.tasks.adversarial import add_generated

        data = add_generated(data, load_run(generated, device=cfg.train.device),
                             per_class=cfg.data.generated_per_class, seed=cfg.train.seed)
    task, model = build_model(cfg.task, cfg.model, info=data.info, input_shape=data.info.input_shape,
                              train_targets=data.train.y, preprocessor=data.preprocessor, seed=cfg.train.seed,
                              pretrained=resumed is None, backbone=from_run if resumed is None else None,
                              train_device=resolve_device(cfg.train.device))
    return Assembled(data, task, model)
