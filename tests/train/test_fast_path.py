"""Issue 34's fast path: uint8 images standardised per batch, train.optimizer_impl and train.compile."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerlab import api
from layerlab.data import load_data
from layerlab.data.pixels import Pixels
from layerlab.recipe import RecipeError, load_recipe
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights

SMALL = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 600},
    "model": {"name": "cnn", "width": 8, "blocks": 2},
    "train": {"epochs": 2, "batch_size": 32, "lr": 0.01, "deterministic": True, "seed": 3, "schedule": "cosine",
              "report": False},
}


def with_train(**options) -> dict:
    return {**SMALL, "train": {**SMALL["train"], **options}}


# ------------------------------------------------------------------------------ uint8 images
def test_fashion_images_stay_uint8_and_batch_to_the_float32_values(fashion_dir):
    cfg = load_recipe("fashion-mlp", ["data.limit=1000"])
    data = load_data(cfg.data, task="classification", seed=0)
    x = data.train.x
    assert isinstance(x, Pixels) and x.pixels.dtype == torch.uint8
    assert x.nbytes * 4 == len(x) * 28 * 28 * 4  # one byte a pixel, not four
    raw = (x.pixels.numpy()).astype(np.uint8)
    before = data.preprocessor.transform(raw)  # the float32 split load_data used to hold
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:200]
    assert torch.equal(x[order], before[order]) and torch.equal(x[10:50], before[10:50])
    assert torch.equal(torch.cat([x, data.val.x])[: len(x)], before)  # any other use sees the whole split
    assert abs(float(before.mean())) < 0.05 and x.dim() == 4 and x.shape == before.shape


def test_pixels_refuse_what_is_not_8_bit_images():
    with pytest.raises(ValueError, match="uint8 images"):
        Pixels(torch.zeros(2, 3), 255.0, None, None)


# ------------------------------------------------------------------------------ optimiser kernels
def test_optimizer_kernels_give_the_default_results_within_rounding(tmp_path):
    plain = api.run(SMALL, out=tmp_path / "plain")
    a = load_weights(plain.run_dir / "model.safetensors")
    for impl in ("foreach", "fused"):
        other = api.run(with_train(optimizer_impl=impl), out=tmp_path / impl)
        b = load_weights(other.run_dir / "model.safetensors")
        assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-4, rtol=1e-3) for k in a), impl
        assert abs(plain.summary["test"]["accuracy"] - other.summary["test"]["accuracy"]) <= 0.01
        assert other.summary["test"]["accuracy"] > 0.5  # it learns (10 classes: chance is 0.1)


def test_a_fused_run_resumes_exactly(tmp_path):
    def interrupt(trainer, loss):
        if trainer.state.global_step == 20:
            trainer.interrupt()

    recipe = with_train(optimizer_impl="fused")
    whole = api.run(recipe, out=tmp_path / "whole")
    with pytest.raises(api.Interrupted):
        api.run(recipe, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=interrupt)])
    resumed = api.run(resume=tmp_path / "cut")
    a, b = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fused_rmsprop_is_refused_by_name():
    with pytest.raises(RecipeError, match="train.optimizer_impl=fused: torch has no fused rmsprop"):
        load_recipe("digits-cnn", ["train.optimizer=rmsprop", "train.optimizer_impl=fused"])


# ------------------------------------------------------------------------------ torch.compile
@pytest.mark.slow
def test_a_compiled_run_matches_within_noise_reports_compile_time_and_resumes_exactly(tmp_path):
    def interrupt(trainer, loss):
        if trainer.state.global_step == 20:
            trainer.interrupt()

    plain = api.run(SMALL, out=tmp_path / "plain")
    recipe = with_train(compile=True)
    whole = api.run(recipe, out=tmp_path / "whole")
    assert 0 < whole.summary["compile_seconds"] <= whole.summary["train_seconds"]
    assert "compile_seconds" not in plain.summary
    assert abs(plain.summary["test"]["accuracy"] - whole.summary["test"]["accuracy"]) <= 0.02
    a, b = load_weights(plain.run_dir / "model.safetensors"), load_weights(whole.run_dir / "model.safetensors")
    assert set(a) == set(b)  # the saved weights are the plain model's (no _orig_mod. prefix)
    with pytest.raises(api.Interrupted):
        api.run(recipe, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=interrupt)])
    resumed = api.run(resume=tmp_path / "cut")
    c = load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.allclose(b[k].float(), c[k].float(), atol=1e-5) for k in b)


def test_uint8_pixels_answer_every_index_as_the_float32_split_would():
    from layerlab.data.pixels import Pixels

    raw = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8)
    pixels = Pixels(raw, 255.0, torch.rand(1, 3, 1, 1), torch.rand(1, 3, 1, 1) + 0.5)
    full = pixels.standardised()
    for index in (2, -1, slice(1, 3), (2, 0), (slice(None), 1), (1, slice(None), 2), torch.tensor([4, 0])):
        assert torch.equal(pixels[index], full[index]), index
