"""Transfer learning: layer groups, freezing, fine-tuning stages, the LR finder, starting from another run.

    from layerlab.transfer import layer_groups, freeze, load_backbone, lr_find

Starting a model from another run's backbone (``model.from_run``) is part of building a run, so it lives
in the runs layer (``layerlab.runs.backbone``) and is named here too.
"""

from layerlab.runs.backbone import backbone_inputs, load_backbone
from layerlab.train.groups import LayerGroup, describe, freeze, layer_groups, trainable_groups
from layerlab.train.stages import Stages, stage_plan

__all__ = ["LayerGroup", "Stages", "backbone_inputs", "describe", "freeze", "layer_groups", "load_backbone", "lr_find",
           "stage_plan", "trainable_groups"]


def __getattr__(name: str):  # the LR finder imports torch and the whole runs layer: only when asked for
    if name in {"lr_find", "LRFindResult"}:
        from layerlab.transfer import lr_finder

        return getattr(lr_finder, name)
    raise AttributeError(name)
