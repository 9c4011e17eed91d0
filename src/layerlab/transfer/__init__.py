"""Transfer learning: layer groups, freezing, fine-tuning stages, the LR finder, starting from another run.

    from layerlab.transfer import layer_groups, freeze, load_backbone, lr_find
"""

from layerlab.train.groups import LayerGroup, describe, freeze, layer_groups, trainable_groups
from layerlab.train.stages import Stages, stage_plan
from layerlab.transfer.from_run import backbone_inputs, load_backbone

__all__ = ["LayerGroup", "Stages", "backbone_inputs", "describe", "freeze", "layer_groups", "load_backbone", "lr_find",
           "stage_plan", "trainable_groups"]


def __getattr__(name: str):  # the LR finder imports the trainer, which imports this package: load it late
    if name in {"lr_find", "LRFindResult"}:
        from layerlab.transfer import lr_finder

        return getattr(lr_finder, name)
    raise AttributeError(name)
