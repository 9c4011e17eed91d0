"""A diverging run (issue 28, item 2) ends with finite weights, never writes a non-finite checkpoint, and
says truly where its weights came from."""

from __future__ import annotations

import pytest
import torch

from layerlab import api
from layerlab.errors import LayerLabError, TrainingError
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights
from layerlab.train.finite import nonfinite
from layerlab.train.state_io import load_state, save_state

# digits-cnn at lr 1e6: within a few steps batch-norm's running statistics turn infinite while the
# parameters stay finite, and later the loss turns NaN.
DIVERGING = ["train.epochs=2", "train.lr=1e6", "train.report=false", "train.diagnostics_every=0",
             "train.deterministic=true"]


def all_finite(tensors: dict[str, torch.Tensor]) -> bool:
    return all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_nonfinite_names_nan_and_inf_in_buffers_and_nested_state():
    state = {"model": {"w": torch.ones(2), "bn.running_var": torch.tensor([1.0, float("inf")]),
                       "bn.num_batches_tracked": torch.tensor(3)},
             "optimizer": {"state": {0: {"exp_avg": torch.tensor([float("nan")])}}}, "rng": [torch.zeros(4, dtype=torch.uint8)]}
    assert nonfinite(state) == ["model/bn.running_var", "optimizer/state/0/exp_avg"]
    assert nonfinite({"w": torch.ones(3)}) == []


def test_a_diverged_run_without_a_checkpoint_falls_back_to_its_starting_weights(tmp_path):
    start = {}

    def keep_start(trainer):
        start.update({k: v.clone() for k, v in trainer.model.state_dict().items()})

    with pytest.raises(TrainingError) as stop:
        api.run("digits-cnn", DIVERGING, out=tmp_path / "r", callbacks=[LambdaCallback(on_fit_start=keep_start)])
    saved = load_weights(tmp_path / "r" / "model.safetensors")
    assert all_finite(saved), f"non-finite: {nonfinite(saved)}"
    assert saved.keys() == start.keys() and all(torch.equal(saved[k], start[k]) for k in saved)
    assert stop.match(r"non-finite \(features.*so those of the start of the run were restored.*the last good weights are in")


def test_a_diverged_run_with_checkpoints_keeps_the_last_finite_checkpoint_and_saves_its_weights(tmp_path):
    with pytest.raises(TrainingError) as stop:
        api.run("digits-cnn", [*DIVERGING, "train.checkpoint_every=1"], out=tmp_path / "r")
    ckpt = load_state(tmp_path / "r" / "checkpoints" / "last.ckpt")
    assert nonfinite(ckpt) == [], "a checkpoint was written from a non-finite state"
    assert ckpt["trainer"]["global_step"] >= 1
    saved = load_weights(tmp_path / "r" / "model.safetensors")
    assert all(torch.equal(saved[k], ckpt["model"][k]) for k in saved)
    assert stop.match(rf"so those of the last checkpoint \(after {ckpt['trainer']['global_step']} optimiser steps\) "
                      "were restored")


def test_a_checkpoint_holding_nan_is_refused_on_resume(tmp_path):
    api.run("digits-cnn", ["train.epochs=1", "data.limit=300", "train.report=false", "train.diagnostics_every=0"],
            out=tmp_path / "r")
    path = tmp_path / "r" / "checkpoints" / "last.ckpt"
    ckpt = load_state(path)  # as the trainer before issue 28 could write it, at a NaN stop
    ckpt["model"]["features.block1.1.running_var"][0] = float("nan")
    save_state(path, ckpt)
    with pytest.raises(LayerLabError, match=r"last.ckpt: the checkpoint holds NaN or infinite values "
                                            r"\(model/features.block1.1.running_var\).*cannot be resumed"):
        api.run(resume=tmp_path / "r", overrides=["train.epochs=2"])
