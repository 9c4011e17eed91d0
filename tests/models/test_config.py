"""A family's config class is its recipe schema: defaults fill in, wrong keys and values are refused."""

from __future__ import annotations

from typing import get_args

import pytest
import yaml
from pydantic import ValidationError

from layerlab.errors import LayerLabError, RecipeError
from layerlab.models import MODELS, create_model
from layerlab.models.cnn import CNNConfig
from layerlab.models.layers import _ACTIVATIONS, Activation, activation
from layerlab.models.mlp import MLPConfig
from layerlab.models.resnet import ResNetConfig
from layerlab.recipe import validate_model_section
from layerlab.recipes import builtin_names, builtin_path
from layerlab.registry import UnknownNameError


def test_defaults_fill_in():
    cfg = CNNConfig()
    assert (cfg.name, cfg.width, cfg.blocks, cfg.convs_per_block, cfg.batch_norm, cfg.activation) == ("cnn", 32, 3, 2, True, "relu")
    assert MLPConfig(hidden=[8]).model_dump() == {
        "name": "mlp", "init": "default", "from_run": None, "hidden": [8], "activation": "relu", "dropout": 0.0,
        "batch_norm": False,
    }
    assert validate_model_section({"name": "resnet34"})["stem"] == "auto"


def test_unknown_key_is_refused():
    with pytest.raises(ValidationError, match="hiden"):
        MLPConfig(hiden=[8])


@pytest.mark.parametrize(
    "fields",
    [{"activation": "relu6"}, {"dropout": 1.0}, {"hidden": [8, 0]}, {"name": "cnn"}, {"init": "he"}],
    ids=["activation", "dropout", "hidden", "name", "init"],
)
def test_wrong_values_are_refused(fields):
    with pytest.raises(ValidationError):
        MLPConfig(**fields)


def test_cnn_kernel_must_be_odd():
    with pytest.raises(ValidationError, match="odd"):
        CNNConfig(kernel_size=4)


def test_one_config_class_serves_every_depth():
    assert ResNetConfig(name="resnet50").name == "resnet50"
    with pytest.raises(ValidationError):
        ResNetConfig(name="resnet101")


def test_create_model_reports_the_key_path_and_a_close_match():
    with pytest.raises(RecipeError, match=r"model\.widht: unknown key; did you mean 'model\.width'\?"):
        create_model({"name": "cnn", "widht": 16}, input_shape=(1, 8, 8), num_outputs=10)
    with pytest.raises(UnknownNameError, match="did you mean 'resnet18'"):
        create_model({"name": "resnet81"}, input_shape=(1, 8, 8), num_outputs=10)


def test_create_model_refuses_bad_shapes_and_outputs():
    with pytest.raises(LayerLabError, match="positive integers"):
        create_model({"name": "mlp"}, input_shape=(0, 4), num_outputs=2)
    with pytest.raises(LayerLabError, match="positive number of outputs"):
        create_model({"name": "mlp"}, input_shape=(4,), num_outputs=0)


def test_recipe_validates_the_model_section_against_the_family():
    section = validate_model_section({"name": "vgg11", "width": 0.25})
    assert section["head"] == "auto" and section["width"] == 0.25
    with pytest.raises(ValueError, match=r"model\.activation: unknown key"):
        validate_model_section({"name": "resnet18", "activation": "relu"})


def test_activation_resolver():
    assert set(_ACTIVATIONS) == set(get_args(Activation))
    assert all(isinstance(activation(name), _ACTIVATIONS[name]) for name in _ACTIVATIONS)
    with pytest.raises(LayerLabError, match="did you mean 'gelu'"):
        activation("gelu2")


def test_builtin_recipes_model_sections_validate():
    for name in builtin_names():
        section = yaml.safe_load(builtin_path(name).read_text())["model"]
        assert validate_model_section(section)["name"] in MODELS
