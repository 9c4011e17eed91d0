"""``create_model``: a recipe's ``model:`` section (or its config object) to an initialised ``nn.Module``."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from torch import nn

from layerlab.errors import LayerLabError, RecipeError, did_you_mean
from layerlab.models.base import MODELS, ModelConfig
from layerlab.models.init import init_weights


def create_model(
    section: Mapping[str, Any] | ModelConfig, *, input_shape: tuple[int, ...], num_outputs: int,
    data_fields: Mapping[str, Any] | None = None, pretrained: bool = True,
) -> nn.Module:
    """Build the model a ``model:`` section describes, for inputs of ``input_shape`` (one example).

    ``section`` is a dict with ``name`` (the family) and that family's options, or its config object.
    The model takes float input of shape (B, *input_shape) and returns (B, num_outputs). Its weights
    are initialised by ``section.init``; seed torch (``torch.manual_seed``) before calling for a
    repeatable model. ``data_fields`` are options the data decides (``DataInfo.model_hints()``: the
    vocabulary sizes of text); each fills the family's option of that name where the section left it None.
    With ``pretrained=False`` no weights are downloaded or read (``ModelConfig.architecture_only``): the
    architecture, for weights loaded next from a run directory.

    Raises ``UnknownNameError`` for an unknown name, ``RecipeError`` for options its config refuses,
    and ``LayerLabError`` when the model cannot take ``input_shape`` (a CNN on flat features, say).
    """
    cfg = section if isinstance(section, ModelConfig) else _validate(section)
    filled = {k: v for k, v in (data_fields or {}).items() if k in type(cfg).model_fields and getattr(cfg, k) is None}
    cfg = cfg.model_copy(update=filled) if filled else cfg
    cfg = cfg if pretrained else cfg.architecture_only()
    entry = MODELS.entry(cfg.name)
    input_shape = _check_shape(input_shape)
    if not (isinstance(num_outputs, int) and num_outputs >= 1):
        raise LayerLabError(f"model '{cfg.name}' needs a positive number of outputs, got {num_outputs!r}")
    model = entry.obj(cfg, input_shape, num_outputs)
    init_weights(model, cfg.init)
    return model


def _validate(section: Mapping[str, Any]) -> ModelConfig:
    if not isinstance(section, Mapping) or "name" not in section:
        raise RecipeError([f"model: expected a mapping with a 'name' (one of {', '.join(MODELS.names())}), got {section!r}"])
    config_cls = MODELS.entry(section["name"]).config
    try:
        return config_cls(**section)
    except ValidationError as exc:
        raise RecipeError([_problem(err, config_cls) for err in exc.errors(include_url=False)]) from None


def _problem(err: Any, config_cls: type[ModelConfig]) -> str:
    """One line for one pydantic error: ``model.widht: unknown key; did you mean 'model.width'?``."""
    path = ".".join(["model", *map(str, err["loc"])])
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown key{did_you_mean(str(err['loc'][-1]), config_cls.model_fields, prefix='model.')}"
    return f"{path}: {err['msg']}, given {err.get('input')!r}"


def _check_shape(input_shape: tuple[int, ...]) -> tuple[int, ...]:
    try:
        shape = tuple(operator.index(n) for n in input_shape)  # numpy integers too
    except TypeError:
        shape = ()
    if not shape or min(shape) < 1:
        raise LayerLabError(f"an input shape is a tuple of positive integers such as (1, 28, 28) or (12,), got {input_shape!r}")
    return shape
