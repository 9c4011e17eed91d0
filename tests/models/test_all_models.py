"""Every registered model, driven from the registry: forward shape, finite gradients, save/load.

A new family is tested here as soon as it registers; give it input shapes in ``SHAPES`` if images
(``(1, 28, 28)`` and ``(3, 32, 32)``) are not what it takes.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_model, save_model

from layerlab.errors import LayerLabError
from layerlab.models import MODELS, create_model

IMAGES = [(1, 28, 28), (3, 32, 32)]
SHAPES = {"mlp": [(12,), *IMAGES]}  # by group; images for the rest
NUM_OUTPUTS = 7
BATCH = 2


def cases() -> list:
    return [
        pytest.param(entry.name, shape, id=f"{entry.name}-{'x'.join(map(str, shape))}")
        for entry in MODELS
        for shape in SHAPES.get(entry.group, IMAGES)
    ]


@pytest.mark.parametrize(("name", "shape"), cases())
def test_model_forward_backward_and_save_load(name, shape, tmp_path):
    torch.manual_seed(0)
    model = create_model({"name": name}, input_shape=shape, num_outputs=NUM_OUTPUTS)
    x = torch.randn(BATCH, *shape)

    # forward: (B, *shape) -> (B, num_outputs), finite
    model.train()
    out = model(x)
    assert out.shape == (BATCH, NUM_OUTPUTS)
    assert torch.isfinite(out).all()

    # backward: every trainable parameter gets a finite gradient
    torch.nn.functional.cross_entropy(out, torch.arange(BATCH) % NUM_OUTPUTS).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient reaches {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"

    # save/load through safetensors into a model built from another seed: the same outputs
    model.eval()
    with torch.no_grad():
        expected = model(x)
    save_model(model, str(tmp_path / "model.safetensors"))
    torch.manual_seed(1)
    other = create_model({"name": name}, input_shape=shape, num_outputs=NUM_OUTPUTS).eval()
    with torch.no_grad():
        assert not torch.equal(other(x), expected)
    load_model(other, str(tmp_path / "model.safetensors"))
    with torch.no_grad():
        assert torch.equal(other(x), expected)


@pytest.mark.parametrize("name", [e.name for e in MODELS if (12,) not in SHAPES.get(e.group, IMAGES)])
def test_image_models_refuse_flat_input_with_a_clear_message(name):
    with pytest.raises(LayerLabError) as info:
        create_model({"name": name}, input_shape=(12,), num_outputs=3)
    message = str(info.value)
    assert f"'{name}'" in message and "12" in message
    assert "channels x height x width" in message and "mlp" in message


@pytest.mark.parametrize("name", MODELS.names())
def test_config_is_a_complete_recipe_schema(name):
    """The family's config is its recipe schema: each field has a default and a one-line description."""
    entry = MODELS.entry(name)
    assert entry.description and entry.group
    entry.config()  # every field has a default
    assert entry.config(name=name).name == name
    for field_name, field in entry.config.model_fields.items():
        assert field.description and "\n" not in field.description, f"{name}.{field_name} needs a one-line description"
