"""What ``layerlab models show`` builds: a model by name, or a recipe's model frozen as one of its stages."""

from __future__ import annotations

from torch import nn

from layerlab.errors import UsageError
from layerlab.train.groups import freeze, layer_groups
from layerlab.train.stages import stage_plan


def staged_model(target: str, *, input_shape: tuple[int, ...], num_outputs: int, stage: int = 1) -> tuple[nn.Module, str]:
    """The model ``target`` names (a model family) or describes (a recipe file or built-in recipe), without
    loading any weights; a recipe's model is frozen as its fine-tuning stage ``stage`` (1-based) says.
    Returns the model and a label saying what it is. Raises UsageError for a stage the recipe has not."""
    from layerlab.models import MODELS, create_model
    from layerlab.recipe import load_recipe
    from layerlab.recipes import builtin_path

    if target in MODELS or builtin_path(target) is None and not target.endswith((".yaml", ".yml")):
        MODELS.entry(target)  # a clear error for an unknown name
        return create_model({"name": target}, input_shape=input_shape, num_outputs=num_outputs, pretrained=False), target
    cfg = load_recipe(target)
    model = create_model(cfg.model, input_shape=input_shape, num_outputs=num_outputs, pretrained=False)
    plan = stage_plan(cfg.train)
    if not plan:
        return model, f"{cfg.name} ({cfg.model['name']})"
    if not 1 <= stage <= len(plan):
        raise UsageError(f"--stage: {cfg.name} has stages 1 to {len(plan)}, not {stage}")
    chosen = plan[stage - 1]
    freeze(model, layer_groups(model), chosen.trainable, freeze_bn=chosen.freeze_bn)
    return model, f"{cfg.name} ({cfg.model['name']}), stage {stage} of {len(plan)}: trainable {chosen.trainable}"
