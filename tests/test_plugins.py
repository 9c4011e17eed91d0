"""A new data source and a new task are each one file: registered from here, outside the package, they
train end to end through ``layerlab.api.run`` and are listed by ``recipe explain`` like the built-in ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor

from layerlab.api import run
from layerlab.data import SOURCES, RawData, SourceContext, TablePreprocessor, TargetSpec
from layerlab.data.config import DataConfig
from layerlab.errors import RecipeError
from layerlab.recipe import explain, load_recipe
from layerlab.tasks import TASKS, Task, TaskConfig


# ------------------------------------------------------------------------------------ a toy source
class BlobsConfig(DataConfig):
    examples: int = Field(600, ge=4, description="blobs: examples drawn, half of each class")
    dims: int = Field(5, ge=1, description="blobs: input features per example")
    separation: float = Field(3.0, gt=0, description="blobs: distance between the two class means")


def load_blobs(cfg: BlobsConfig, ctx: SourceContext) -> RawData:
    """Two Gaussian blobs, linearly separable but for their tails; a table of strings, as a CSV gives."""
    rng = np.random.default_rng(7)
    y = np.arange(cfg.examples) % 2
    x = rng.standard_normal((cfg.examples, cfg.dims)) + np.where(y[:, None] == 1, cfg.separation / 2, -cfg.separation / 2)
    names = [f"f{j}" for j in range(cfg.dims)]

    def fit(train: np.ndarray) -> TablePreprocessor:
        return TablePreprocessor.fit(train, names=names, categorical=[False] * cfg.dims, normalize=cfg.normalize,
                                     target="side", header=True, delimiter=",", classes=["left", "right"])

    return RawData(modality="table", x=x.astype(str), y=y.astype(np.int64), fit=fit)


# -------------------------------------------------------------------------------------- a toy task
class SidesConfig(TaskConfig):
    temperature: float = Field(1.0, gt=0, description="sides: the logits are divided by this before the loss")


class SidesTask(Task):
    """Which of two sides an example lies on: a cross-entropy over two logits, tempered."""

    name = "sides"
    losses = ("auto",)
    monitor = ("val_accuracy", "max")
    target = TargetSpec("class", stratify=True, modalities=("table",), needs="a table")

    def __init__(self, temperature: float):
        self.temperature = temperature

    @classmethod
    def from_config(cls, cfg: SidesConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> SidesTask:
        assert num_classes == 2, num_classes
        return cls(cfg.temperature)

    def num_outputs(self) -> int:
        return 2

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output.float() / self.temperature, target)

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        accuracy = (output.argmax(1) == target).float().mean() if len(target) else torch.tensor(0.0)
        return {"loss": float(self.loss(output, target)), "accuracy": float(accuracy)}

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        return {"examples": len(target)}

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        return [{"side": int(i)} for i in output.argmax(1)]

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "auto", "temperature": self.temperature}


@pytest.fixture
def plugins():
    with SOURCES.registered("blobs", load_blobs, config=BlobsConfig, description="two Gaussian blobs"), \
            TASKS.registered("sides", SidesTask, config=SidesConfig, description="which side of two"):
        yield
    assert "blobs" not in SOURCES and "sides" not in TASKS  # gone again for the other tests


RECIPE = {"name": "plugins", "data": {"name": "blobs", "dims": 4}, "task": {"name": "sides", "temperature": 2.0},
          "model": {"name": "mlp", "hidden": [16]},
          "train": {"epochs": 8, "batch_size": 32, "lr": 0.01, "report": False, "threads": 1}}


def test_a_source_and_a_task_from_outside_the_package_train_end_to_end(plugins, tmp_path):
    result = run(RECIPE, out=tmp_path / "run")
    test = result.summary["test"]
    # the blobs' means are 3 standard deviations apart: a linear boundary gets ~93 % (chance: 50 %)
    assert test["accuracy"] > 0.85, test
    assert result.summary["data"]["test"] == 120  # data.test_fraction of 600, from the shared data options
    saved = load_recipe(tmp_path / "run" / "recipe.yaml")
    assert (saved.data.dims, saved.data.separation, saved.task.temperature) == (4, 3.0, 2.0)


def test_the_toy_options_are_checked_and_explained(plugins):
    with pytest.raises(RecipeError, match=r"data.dimz: unknown key; did you mean 'data.dims'\?"):
        load_recipe({**RECIPE, "data": {"name": "blobs", "dimz": 4}})
    with pytest.raises(RecipeError, match=r"data.dims: unknown key for data set 'digits' \(an option of blobs\)"):
        load_recipe({**RECIPE, "data": {"name": "digits", "dims": 4}})
    rows = {row[0]: row for row in explain("data", "blobs")}
    assert {"data.examples", "data.dims", "data.separation", "data.val_fraction"} <= set(rows)
    assert rows["data.dims"][2] == "5" and rows["data.dims"][3].startswith("blobs: ")
    assert {row[0] for row in explain("task", "sides")} == {"task.name", "task.loss", "task.temperature"}
