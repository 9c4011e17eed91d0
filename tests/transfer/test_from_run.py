"""``model.from_run`` takes exactly the backbone of an earlier run: every tensor but the head's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerlab import api
from layerlab.errors import LayerLabError
from layerlab.train.checkpoint import load_weights

BASE = {"data": {"name": "digits", "limit": 200}, "model": {"name": "cnn", "width": 4, "blocks": 2},
        "train": {"epochs": 1, "batch_size": 64, "report": False, "diagnostics_every": 0}}


def test_from_run_transfers_exactly_the_backbone(tmp_path):
    first = api.run(BASE, out=tmp_path / "first")
    saved = load_weights(first.run_dir / "model.safetensors")
    seen = {}

    def on_fit_start(trainer):
        seen.update({k: v.clone() for k, v in trainer.model.state_dict().items()})

    from layerlab.train.callbacks import LambdaCallback

    recipe = {**BASE, "model": {**BASE["model"], "from_run": str(first.run_dir)}}
    api.run(recipe, out=tmp_path / "second", callbacks=[LambdaCallback(on_fit_start=on_fit_start)])
    backbone = [k for k in saved if not k.startswith("head.")]
    assert backbone and all(torch.equal(seen[k], saved[k]) for k in backbone)
    assert not torch.equal(seen["head.0.weight"], saved["head.0.weight"])  # a fresh head


def test_from_run_refuses_another_architecture(tmp_path):
    first = api.run(BASE, out=tmp_path / "first")
    recipe = {**BASE, "model": {"name": "cnn", "width": 8, "blocks": 2, "from_run": str(first.run_dir)}}
    with pytest.raises(LayerLabError, match="do not fit this model's backbone"):
        api.run(recipe, out=tmp_path / "second")


@pytest.mark.parametrize("relative_after", [False, True])
def test_from_run_takes_the_network_out_of_a_level_relative_forecaster(tmp_path, relative_after):
    t = np.arange(300)
    path = tmp_path / "s.csv"
    path.write_text("y\n" + "\n".join(f"{0.02 * v + np.sin(v / 2):.5f}" for v in t) + "\n")
    recipe = {"data": {"name": "series", "path": str(path), "window": 12, "horizon": 2, "season": 12},
              "task": {"name": "forecast", "relative": True},
              "model": {"name": "lstm", "hidden": 8, "layers": 1, "pooling": "last"},
              "train": {"epochs": 1, "batch_size": 32, "report": False, "diagnostics_every": 0}}
    first = api.run(recipe, out=tmp_path / "first")
    saved = load_weights(first.run_dir / "model.safetensors")
    assert saved and all(k.startswith("net.") for k in saved)  # the wrapper's names
    seen = {}

    def on_fit_start(trainer):
        seen.update({k.removeprefix("net."): v.clone() for k, v in trainer.model.state_dict().items()})

    from layerlab.train.callbacks import LambdaCallback

    second = {**recipe, "task": {"name": "forecast", "relative": relative_after},
              "model": {**recipe["model"], "from_run": str(first.run_dir)}}
    api.run(second, out=tmp_path / "second", callbacks=[LambdaCallback(on_fit_start=on_fit_start)])
    backbone = [k.removeprefix("net.") for k in saved if not k.startswith("net.head.")]
    assert any(k.startswith("rnn.") for k in backbone) and all(torch.equal(seen[k], saved[f"net.{k}"]) for k in backbone)
