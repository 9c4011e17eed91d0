"""layerlab.fit(..., unlabeled=...): inputs without targets for train.semi, as arrays, a DataFrame or a
folder; they are written beside the run's data and read with its preprocessing; what does not fit the
training data is refused naming unlabeled, before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import layerlab
from layerlab.errors import RecipeError, UsageError
from tests.api.test_fit import FAST, SmallCNN, TableNet, _fashion, _shop_frame


def test_fixmatch_from_200_labelled_images_and_unlabelled_arrays(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, tx, ty = _fashion(fashion_dir, 2200, 1000)
    result = layerlab.fit(SmallCNN(), (x[:200], y[:200]), unlabeled=x[200:], test=(tx, ty), out=tmp_path / "run",
                          semi={"method": "fixmatch", "mu": 2, "threshold": 0.8}, **{**FAST, "epochs": 6, "batch_size": 32})
    assert result.summary["test"]["accuracy"] > 0.5  # 20 labels a class, ten classes
    assert result.history[-1]["unlabeled_above_threshold"] > 0
    assert np.isnan(result.history[-1]["pseudo_label_accuracy"])  # nobody told it their labels
    assert (result.run_dir / "unlabeled.npz").exists()
    recipe = yaml.safe_load((result.run_dir / "recipe.yaml").read_text())
    assert recipe["data"]["unlabeled"]["source"] == {"name": "arrays", "path": str((result.run_dir / "unlabeled.npz").resolve())}


def test_a_dataframe_without_its_target_column_and_pseudo_labels(tmp_path: Path) -> None:
    frame = _shop_frame(400, seed=0)
    more = _shop_frame(3000, seed=1).drop(columns=["buy"])
    result = layerlab.fit(TableNet(5), frame, target="buy", unlabeled=more, model_args={"inputs": 5},
                          out=tmp_path / "run", semi={"method": "pseudo_label", "threshold": 0.9},
                          **{**FAST, "epochs": 15, "lr": 3e-3})
    assert result.summary["test"]["accuracy"] > 0.8  # the majority class ("no") is about 0.63
    assert result.history[-1]["unlabeled_above_threshold"] > 0


def test_a_folder_of_unlabelled_images(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, _, _ = _fashion(fashion_dir, 300, 0)
    folder = tmp_path / "more"
    folder.mkdir()
    for i, image in enumerate(x[100:]):
        Image.fromarray(image).save(folder / f"{i}.png")
    result = layerlab.fit(SmallCNN(), (x[:100], y[:100]), unlabeled=folder, out=tmp_path / "run",
                          semi={"method": "fixmatch", "mu": 2}, **FAST)
    assert result.summary["status"] == "finished"
    recipe = yaml.safe_load((result.run_dir / "recipe.yaml").read_text())
    assert recipe["data"]["unlabeled"] == {"path": str(folder.resolve()), "source": None, "limit": None}


def test_what_does_not_fit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 255, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 2
    semi = {"method": "fixmatch"}
    with pytest.raises(UsageError, match=r"unlabeled: examples of shape \(32, 32\), but the training data.s are \(28, 28\)"):
        layerlab.fit(SmallCNN(classes=2), (x, y), unlabeled=np.zeros((5, 32, 32), dtype=np.uint8), out=tmp_path / "a", semi=semi)
    with pytest.raises(UsageError, match="unlabeled: images of dtype float32, but the training images are uint8"):
        layerlab.fit(SmallCNN(classes=2), (x, y), unlabeled=np.zeros((5, 28, 28), dtype=np.float32), out=tmp_path / "b", semi=semi)
    with pytest.raises(UsageError, match="unlabeled: the inputs alone"):
        layerlab.fit(SmallCNN(classes=2), (x, y), unlabeled=(x, y), out=tmp_path / "c", semi=semi)
    with pytest.raises(UsageError, match="unlabeled 'nowhere' does not exist"):
        layerlab.fit(SmallCNN(classes=2), (x, y), unlabeled="nowhere", out=tmp_path / "d", semi=semi)
    with pytest.raises(RecipeError, match="data.unlabeled.*is what train.semi learns from"):
        layerlab.fit(SmallCNN(classes=2), (x, y), unlabeled=x, out=tmp_path / "e")
    assert not any((tmp_path / d).exists() for d in "abcde")
