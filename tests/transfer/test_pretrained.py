"""Pretrained torchvision models: weights read from local files without running pickled code, the head
replaced, the input transform following the weights, clear errors."""

from __future__ import annotations

import pickle

import pytest
import torch
import torchvision.models as tvm

from layerlab.errors import LayerLabError, RecipeError
from layerlab.models import create_model
from layerlab.recipe import load_recipe


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_resnet18_state_dict_loads_through_weights_path(tv_weights, suffix):
    path = tv_weights("resnet18", suffix)
    saved = tvm.get_model("resnet18")
    saved.load_state_dict(torch.load(tv_weights("resnet18"), weights_only=True))
    model = create_model({"name": "tv:resnet18", "weights": "IMAGENET1K_V1", "weights_path": str(path)},
                         input_shape=(1, 28, 28), num_outputs=5)
    net = model.net
    for name, tensor in saved.state_dict().items():
        if not name.startswith("fc."):
            assert torch.equal(net.state_dict()[name], tensor), name
    assert net.fc.out_features == 5  # a new head for the new classes
    # the input transform follows the weights: grey repeated to RGB, resized to 224, ImageNet statistics
    assert model.input.size == 224
    x = torch.rand(2, 1, 28, 28)
    expected = torch.nn.functional.interpolate(x.expand(-1, 3, -1, -1), size=(224, 224), mode="bilinear",
                                               antialias=True)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(model.input(x), (expected - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(model.input(x)))


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": Evil()}, protocol=2))
    with pytest.raises(LayerLabError, match="not a state dict that can be read safely"):
        create_model({"name": "tv:resnet18", "weights_path": str(path)}, input_shape=(3, 32, 32), num_outputs=2)


def test_weights_of_another_architecture_are_refused(tv_weights):
    with pytest.raises(LayerLabError, match=r"do not fit ResNet \(missing \[.layer1.2.conv1.weight"):
        create_model({"name": "tv:resnet34", "weights_path": str(tv_weights("resnet18"))},
                     input_shape=(3, 32, 32), num_outputs=2)


def test_offline_download_says_what_to_do(monkeypatch):
    with pytest.raises(LayerLabError, match="LAYERLAB_OFFLINE is set; give model.weights_path"):
        create_model({"name": "tv:resnet18", "weights": "IMAGENET1K_V1"}, input_shape=(3, 32, 32), num_outputs=2)


def test_recipe_errors_name_the_key_and_a_close_match():
    with pytest.raises(RecipeError, match="model.name: 'resnt18' is not a torchvision classification model; did you mean 'tv:resnet18'"):
        load_recipe({"model": {"name": "tv:resnt18"}})
    with pytest.raises(RecipeError, match="model.weights: 'IMAGENET' is not a weights of resnet50.*IMAGENET1K_V2"):
        load_recipe({"model": {"name": "tv:resnet50", "weights": "IMAGENET"}})
    cfg = load_recipe({"data": {"name": "digits"}, "model": {"name": "tv:resnet18", "weights": "none"}})
    assert cfg.model["weights"] is None and cfg.data.normalize is False


def test_models_show_says_what_is_frozen(capsys):
    from layerlab.cli import main

    assert main(["models", "show", "cifar10-resnet50-transfer", "--input", "3x32x32"]) == 0
    out = capsys.readouterr().out
    assert "stage 1 of 2" in out and "frozen" in out
    assert "net.fc" in out and "23,508,032 frozen" in out  # everything but the 10-class head
