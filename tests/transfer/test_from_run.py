"""``model.from_run`` takes exactly the backbone of an earlier run: every tensor but the head's."""

from __future__ import annotations

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
