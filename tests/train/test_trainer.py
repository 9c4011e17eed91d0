"""The trainer through the API on real data: exact resume, Ctrl-C, NaN, budgets, accumulation."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from layerlab import api
from layerlab.errors import LayerLabError, TrainingError
from layerlab.train.callbacks import EarlyStopping, LambdaCallback
from layerlab.train.checkpoint import load_weights
from layerlab.train.state_io import load_state

SMALL = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 600, "augment": {"crop_padding": 1, "noise": 0.05}},
    "model": {"name": "cnn", "width": 8, "blocks": 2, "dropout": 0.1},
    "train": {"epochs": 3, "batch_size": 32, "lr": 0.01, "deterministic": True, "seed": 3, "schedule": "cosine"},
}


def interrupt_at(step: int) -> LambdaCallback:
    def on_step_end(trainer, loss):
        if trainer.state.global_step == step:
            trainer.interrupt()

    return LambdaCallback(on_step_end=on_step_end)


def test_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path):
    whole = api.run(SMALL, out=tmp_path / "whole")
    # 600 examples -> 17 batches of 32 per epoch: step 25 is in the middle of the second epoch
    with pytest.raises(api.Interrupted, match="layerlab run --resume"):
        api.run(SMALL, out=tmp_path / "cut", callbacks=[interrupt_at(25)])
    ckpt = load_state(tmp_path / "cut" / "checkpoints" / "last.ckpt")
    assert ckpt["trainer"]["epoch"] == 1 and ckpt["trainer"]["step_in_epoch"] == 8
    resumed = api.run(resume=tmp_path / "cut")

    a, b = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ from the uninterrupted run's"
    last_a = load_state(whole.run_dir / "checkpoints" / "last.ckpt")["model"]
    last_b = load_state(resumed.run_dir / "checkpoints" / "last.ckpt")["model"]
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)
    keys = ("train_loss", "val_loss", "val_accuracy")
    assert [[r[k] for k in keys] for r in whole.history] == [[r[k] for k in keys] for r in resumed.history]
    assert resumed.summary["test"] == whole.summary["test"]


def test_ctrl_c_writes_a_checkpoint_and_exits_cleanly(tmp_path):
    def on_step_end(trainer, loss):
        if trainer.state.global_step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs as a background job
    with pytest.raises(api.Interrupted):
        api.run(SMALL, out=tmp_path / "r", callbacks=[LambdaCallback(on_step_end=on_step_end)])
    ckpt = load_state(tmp_path / "r" / "checkpoints" / "last.ckpt")
    assert ckpt["trainer"]["global_step"] == 5 and ckpt["trainer"]["status"] == "interrupted"
    assert (tmp_path / "r" / "model.safetensors").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the handler was put back


def test_nan_loss_stops_with_a_clear_message_and_finite_weights(tmp_path):
    recipe = {**SMALL, "model": {"name": "mlp", "hidden": [64]},
              "train": {"epochs": 2, "optimizer": "sgd", "lr": 1e12, "momentum": 0.0, "batch_size": 32}}
    with pytest.raises(TrainingError, match=r"the training loss became (nan|inf).*last good weights"):
        api.run(recipe, out=tmp_path / "r")
    weights = load_weights(tmp_path / "r" / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_time_budget_stops_after_a_partial_epoch(tmp_path):
    result = api.run(SMALL, ["train.max_seconds=0.001"], out=tmp_path / "r")
    assert result.summary["status"] == "stopped" and "time budget" in result.summary["stop_reason"]
    assert len(result.history) == 1 and result.history[0]["partial"] == 1
    assert result.summary["test"]["accuracy"] >= 0  # still evaluated


def test_time_clock_decays_the_rate_to_the_end_of_the_budget(tmp_path):
    result = api.run(SMALL, ["train.max_seconds=1.5", "train.epochs=100000", "train.schedule=cosine",
                             "train.schedule_clock=time"], out=tmp_path / "r")
    assert result.summary["status"] == "stopped" and "time budget" in result.summary["stop_reason"]
    # train.lr is 0.01; by its steps alone (a few hundred of millions) the cosine would still be at its top
    assert result.history[-1]["lr"] < 0.001


def test_early_stopping_counts_epochs_without_improvement():
    class FakeTrainer:
        reason = ""

        def stop(self, reason):
            self.reason = reason

    trainer = FakeTrainer()
    stopper = EarlyStopping("val_loss", "min", patience=2)
    for epoch, loss in enumerate([1.0, 0.8, 0.85, 0.9], start=1):
        stopper.on_epoch_end(trainer, {"epoch": epoch, "val_loss": loss})
    assert trainer.reason.startswith("early stopping: val_loss did not improve for 2 epochs")


def test_gradient_accumulation_matches_a_larger_batch(tmp_path):
    base = {"data": {"name": "digits", "limit": 512, "val_fraction": 0.0},
            "model": {"name": "mlp", "hidden": [32]},
            "train": {"epochs": 1, "optimizer": "sgd", "momentum": 0.0, "lr": 0.05, "seed": 0}}
    big = api.run(base, ["train.batch_size=64"], out=tmp_path / "big")
    acc = api.run(base, ["train.batch_size=32", "train.accumulate=2"], out=tmp_path / "acc")
    a, b = load_weights(big.run_dir / "model.safetensors"), load_weights(acc.run_dir / "model.safetensors")
    assert big.summary["steps"] == acc.summary["steps"] == 8
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_unknown_monitor_is_refused_before_training(tmp_path):
    with pytest.raises(LayerLabError, match="override train.monitor=val_acc: 'val_acc' is not a metric of task classification; did you mean 'val_accuracy'"):
        api.run(SMALL, ["train.monitor=val_acc"], out=tmp_path / "r")


def test_fp16_on_cpu_is_refused(tmp_path):
    with pytest.raises(LayerLabError, match="fp16 needs a CUDA device"):
        api.run(SMALL, ["train.precision=fp16", "train.device=cpu"], out=tmp_path / "r")


def test_bf16_autocast_trains_on_cpu(tmp_path):
    result = api.run(SMALL, ["train.precision=bf16", "train.deterministic=false", "train.epochs=4"], out=tmp_path / "r")
    assert result.summary["test"]["accuracy"] > 0.5


@pytest.mark.parametrize(("flags", "warned"), [({"avx2"}, True), ({"avx512_bf16"}, False)])
def test_bf16_on_a_cpu_without_it_warns_that_it_is_emulated(monkeypatch, caplog, flags, warned, tmp_path):
    from layerlab.models import inference

    monkeypatch.setattr(inference, "_cpu_flags", lambda: frozenset(flags))
    with caplog.at_level("WARNING", logger="layerlab.train.trainer"):
        api.run(SMALL, ["train.precision=bf16", "train.epochs=1", "train.device=cpu"], out=tmp_path / "r")
    emulated = [r.getMessage() for r in caplog.records if "has no bf16 arithmetic" in r.getMessage()]
    assert len(emulated) == warned
    assert not emulated or "use 'auto'" in emulated[0]


@pytest.mark.parametrize(("flags", "dtype"), [({"avx512_bf16"}, torch.bfloat16), ({"amx_bf16"}, torch.bfloat16),
                                              ({"avx512f", "avx2"}, None)])
def test_auto_precision_is_bf16_only_on_a_cpu_that_has_it_natively(monkeypatch, flags, dtype):
    from layerlab.models import inference

    monkeypatch.setattr(inference, "_cpu_flags", lambda: frozenset(flags))
    with inference.autocast(torch.device("cpu"), "auto"):
        out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert out.dtype == (dtype or torch.float32)
