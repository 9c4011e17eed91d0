"""The built-in CIFAR-10 transfer recipes, unchanged but for where the data and weights are read and the
image size: end to end on a tiny folder in CIFAR-10's real format, with torchvision weights saved locally."""

from __future__ import annotations

import time

import pytest

from layerlab import api
from layerlab.recipe import load_recipe
from layerlab.recipes import builtin_path


@pytest.mark.parametrize(("recipe", "arch", "suffix"), [
    pytest.param("cifar10-resnet50-transfer", "resnet50", ".pth", marks=pytest.mark.slow),
    pytest.param("cifar10-vgg16-transfer", "vgg16", ".safetensors", marks=pytest.mark.slow),
])
def test_transfer_recipe_runs_end_to_end(recipe, arch, suffix, cifar_dir, tv_weights, tmp_path):
    folder = cifar_dir()
    weights = tv_weights(arch, suffix)
    overrides = [f"data.path={folder}", f"model.weights_path={weights}", "model.image_size=32",
                 "train.batch_size=32", "train.eval_batch_size=64"]
    cfg = load_recipe(recipe, overrides)
    assert cfg.data.normalize is False  # the model standardises as its weights expect
    assert [s.trainable for s in cfg.train.stages][0] == "head"
    start = time.perf_counter()
    result = api.run(recipe, overrides, out=tmp_path / "run")
    print(f"{recipe}: {time.perf_counter() - start:.1f} s")
    # the five steps: data, pretrained model, frozen stage, unfrozen top, test evaluation
    assert result.summary["status"] == "finished"
    assert result.summary["epochs"] == sum(s.epochs for s in cfg.train.stages)
    assert set(result.summary["test"]) >= {"accuracy", "loss"}
    assert len(result.history) == cfg.train.epochs
    # the run directory alone predicts (no weights file, no download needed)
    again = api.evaluate(result.run_dir)
    assert again["metrics"]["accuracy"] == pytest.approx(result.summary["test"]["accuracy"])


def test_recipes_name_the_imagenet_weights():
    for name, arch in (("cifar10-resnet50-transfer", "tv:resnet50"), ("cifar10-vgg16-transfer", "tv:vgg16")):
        assert builtin_path(name) is not None
        cfg = load_recipe(name)
        assert cfg.model["name"] == arch and cfg.model["weights"].startswith("IMAGENET1K")
        assert cfg.model["weights_path"] is None  # downloaded on a machine with the internet
        assert len(cfg.train.stages) == 2 and cfg.train.stages[1].trainable not in ("head", "all")


