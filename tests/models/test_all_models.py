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
# Generative families return other shapes than (B, num_outputs): an autoencoder its reconstruction's
# logits, a GAN its discriminator's logit. Their training loss must reach every network they hold.
# An acoustic model gives token logits for each frame after its 4x time subsampling: (frames / 4, V).
OUTPUT_SHAPES = {"autoencoder": lambda shape: shape, "gan": lambda shape: (1,),
                 "acoustic": lambda shape: (-(-shape[-1] // 4), NUM_OUTPUTS),
                 "segmentation": lambda shape: (NUM_OUTPUTS, *shape[1:])}  # per-pixel class logits
# Sequence families take (T,) or (T, F): floats (one feature per step for (T,)), or token ids for the
# models below, whose vocabulary the data normally fills in. A language model (gpt) gives an output per
# step (B, T, V); an encoder-decoder reads a target prefix too (teacher forcing) and gives (B, T', V).
SHAPES.update({"recurrent": [(12,), (10, 3)], "transformer": [(12,)], "textcnn": [(12,)], "fasttext": [(12,)],
               "seq2seq": [(12,)]})
TOKEN_OPTIONS = {"gpt": {"vocab_size": NUM_OUTPUTS}, "textcnn": {"vocab_size": NUM_OUTPUTS},
                 "fasttext": {"vocab_size": NUM_OUTPUTS, "buckets": 97},
                 "transformer-seq2seq": {"vocab_size": NUM_OUTPUTS, "target_vocab_size": NUM_OUTPUTS},
                 "rnn-seq2seq": {"vocab_size": NUM_OUTPUTS, "target_vocab_size": NUM_OUTPUTS}}
TARGET_PREFIX = 5  # target tokens an encoder-decoder reads in this test
# Open-ended families (tv:<name>, timm:<name>, hf:<model>) build from pretrained weights or a model
# directory; tests/transfer covers them with weights and directories it makes.
# Detectors (group "detection") take targets and return a loss dict in training: tests/vision covers them.
# Text-to-speech models (group "synthesis") take token ids with durations and return (log-mels, durations):
# tests/speech/test_speech_synthesis.py trains, saves and loads them.
FAMILIES = [entry for entry in MODELS if not entry.name.endswith(":") and entry.group not in ("detection", "synthesis")]


def cases() -> list:
    return [
        pytest.param(entry.name, shape, id=f"{entry.name}-{'x'.join(map(str, shape))}")
        for entry in FAMILIES
        for shape in SHAPES.get(entry.group, IMAGES)
    ]


@pytest.mark.parametrize(("name", "shape"), cases())
def test_model_forward_backward_and_save_load(name, shape, tmp_path):
    torch.manual_seed(0)
    model = create_model(_section(name), input_shape=shape, num_outputs=NUM_OUTPUTS)
    x = torch.randint(1, NUM_OUTPUTS, (BATCH, *shape)) if name in TOKEN_OPTIONS else torch.randn(BATCH, *shape)

    # forward: (B, *shape) -> (B, num_outputs), finite
    model.train()
    group = MODELS.entry(name).group
    out = _forward(model, group, x)
    if name == "gpt" or _is_seq2seq(model):
        assert out.shape == (BATCH, TARGET_PREFIX if _is_seq2seq(model) else shape[0], NUM_OUTPUTS)
    else:
        assert out.shape == (BATCH, *OUTPUT_SHAPES.get(group, lambda shape: (NUM_OUTPUTS,))(shape))
    assert torch.isfinite(out).all()

    # backward: every trainable parameter gets a finite gradient
    _loss(model, group, out).backward()
    for pname, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: no gradient reaches {pname}"
            assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"

    # save/load through safetensors into a model built from another seed: the same outputs
    model.eval()
    with torch.no_grad():
        expected = _forward(model, group, x)
    save_model(model, str(tmp_path / "model.safetensors"))
    torch.manual_seed(1)
    other = create_model(_section(name), input_shape=shape, num_outputs=NUM_OUTPUTS).eval()
    with torch.no_grad():
        assert not torch.equal(_forward(other, group, x), expected)
    load_model(other, str(tmp_path / "model.safetensors"))
    with torch.no_grad():
        assert torch.equal(_forward(other, group, x), expected)


def _labels(model):
    return torch.arange(BATCH) % NUM_OUTPUTS if getattr(model, "num_classes", None) else None


def _section(name):
    return {"name": name, **TOKEN_OPTIONS.get(name, {})}


def _is_seq2seq(model):
    return hasattr(model, "start") and hasattr(model, "step")


def _forward(model, group, x):
    if _is_seq2seq(model):
        return model(x, x[:, :TARGET_PREFIX])
    return model(x, _labels(model)) if group == "gan" else model(x)


def _loss(model, group, out):
    if group == "gan":  # the discriminator on real images and on the generator's
        y = _labels(model)
        return out.float().mean() - model(model.sample(BATCH, y), y).float().mean()
    if group == "autoencoder":
        return out.float().square().mean()
    if group == "segmentation":  # a class per pixel
        return torch.nn.functional.cross_entropy(out, torch.arange(out[:, 0].numel()).view_as(out[:, 0]) % NUM_OUTPUTS)
    if out.dim() == 3:  # an output per step
        out = out.flatten(0, 1)
    return torch.nn.functional.cross_entropy(out, torch.arange(len(out)) % NUM_OUTPUTS)


@pytest.mark.parametrize("name", [e.name for e in FAMILIES if (12,) not in SHAPES.get(e.group, IMAGES)])
def test_image_models_refuse_flat_input_with_a_clear_message(name):
    with pytest.raises(LayerLabError) as info:
        create_model({"name": name}, input_shape=(12,), num_outputs=3)
    message = str(info.value)
    assert f"'{name}'" in message and "12" in message
    assert "channels x height x width" in message and "mlp" in message


@pytest.mark.parametrize("name", [e.name for e in FAMILIES])
def test_config_is_a_complete_recipe_schema(name):
    """The family's config is its recipe schema: each field has a default and a one-line description."""
    entry = MODELS.entry(name)
    assert entry.description and entry.group
    entry.config()  # every field has a default
    assert entry.config(name=name).name == name
    for field_name, field in entry.config.model_fields.items():
        assert field.description and "\n" not in field.description, f"{name}.{field_name} needs a one-line description"
