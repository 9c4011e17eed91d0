"""Fine-tuning stages in the trainer: they switch at the right epochs, each with its own schedule, and a
run resumed across a stage switch equals an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from layerlab import api
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights
from layerlab.train.state_io import load_state

RECIPE = {
    "name": "stages",
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "width": 4, "blocks": 2},
    "train": {"batch_size": 64, "lr": 0.02, "seed": 1, "deterministic": True, "schedule": "cosine",
              "report": False, "diagnostics_every": 0,
              "stages": [{"epochs": 1, "trainable": "head"},
                         {"epochs": 2, "trainable": 1, "lr": 0.01, "lr_decay": 0.5}]},
}


def test_stages_switch_at_their_epochs(tmp_path):
    seen = []

    def on_epoch_start(trainer):
        trained = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
        seen.append((trainer.state.epoch, trainer.stage, trained, trainer.optimizer))

    result = api.run(RECIPE, out=tmp_path / "r", callbacks=[LambdaCallback(on_epoch_start=on_epoch_start)])
    assert result.summary["epochs"] == 3
    assert [(epoch, stage) for epoch, stage, _, _ in seen] == [(0, 0), (1, 1), (2, 1)]
    assert seen[0][2] == ["head.0.weight", "head.0.bias"]
    assert seen[1][2] == ["features.block2.3.weight", "features.block2.4.weight", "features.block2.4.bias",
                          "head.0.weight", "head.0.bias"]
    assert seen[1][3] is seen[2][3] and seen[0][3] is not seen[1][3]  # a fresh optimiser per stage
    # each stage runs its own cosine schedule from its own peak: 0.02 for the head, then 0.01
    lrs = [row["lr"] for row in result.history]
    assert lrs[0] == pytest.approx(0.02 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * 4 / 5)).item()), rel=1e-4)
    assert lrs[1] == pytest.approx(0.01 * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * 4 / 10)).item()), rel=1e-4)


@pytest.mark.parametrize("cut_at", [3, 7])  # inside the frozen stage; inside the second stage
def test_resume_across_a_stage_switch_equals_an_uninterrupted_run(tmp_path, cut_at):
    whole = api.run(RECIPE, out=tmp_path / "whole")

    def on_step_end(trainer, loss):
        if trainer.state.global_step == cut_at:
            trainer.interrupt()

    with pytest.raises(api.Interrupted):
        api.run(RECIPE, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=on_step_end)])
    assert load_state(tmp_path / "cut" / "checkpoints" / "last.ckpt")["stage"] == (0 if cut_at < 5 else 1)
    resumed = api.run(resume=tmp_path / "cut")
    a, b = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in resumed.history]
