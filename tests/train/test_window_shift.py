"""train.window_shift: a language model's text cut into windows at a fresh offset each epoch."""

from __future__ import annotations

import math

import pytest
import torch

from layerlab import api
from layerlab.data.batching import shifted_windows
from layerlab.errors import DataError, LayerLabError
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_state


def stream_windows(n: int, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A token stream and its (n, length) consecutive windows, as the text source gives a language model."""
    stream = torch.randint(4, 60, (n * length + 1,), generator=torch.Generator().manual_seed(0))
    windows = stream.unfold(0, length + 1, length)
    return stream, windows[:, :-1], windows[:, 1:]


def test_each_epoch_cuts_the_stream_at_an_offset_drawn_from_seed_and_epoch():
    stream, x, y = stream_windows(50, 16)
    offsets = set()
    for epoch in range(12):
        sx, sy = shifted_windows(x, y, seed=3, epoch=epoch)
        assert sx.shape == sy.shape == (49, 16)
        offset = int((stream.unfold(0, 16, 1) == sx[0]).all(1).nonzero()[0])  # where the first window starts
        # every window is the next 16 tokens of the stream, its target the same shifted by one
        assert torch.equal(sx, stream[offset : offset + 49 * 16].view(49, 16))
        assert torch.equal(sy, stream[offset + 1 : offset + 1 + 49 * 16].view(49, 16))
        again_x, _ = shifted_windows(x, y, seed=3, epoch=epoch)
        assert torch.equal(again_x, sx)  # a pure function of (seed, epoch)
        offsets.add(offset)
    assert len(offsets) >= 6 and all(0 <= o < 16 for o in offsets)


def test_data_that_are_not_a_texts_windows_are_refused():
    _, x, y = stream_windows(10, 8)
    with pytest.raises(DataError, match="not consecutive windows of one text"):
        shifted_windows(x[torch.randperm(10, generator=torch.Generator().manual_seed(1))], y, seed=0, epoch=0)
    with pytest.raises(DataError, match="not a language model's windows"):
        shifted_windows(x, torch.zeros(10, dtype=torch.int64), seed=0, epoch=0)
    with pytest.raises(DataError, match="at least 2"):
        shifted_windows(x[:1], y[:1], seed=0, epoch=0)


def lm_recipe(**train) -> dict:
    return {"name": "shifted-lm",
            "data": {"name": "tinyshakespeare", "limit": 30000, "max_length": 32, "val_fraction": 0.1,
                     "test_fraction": 0.05},
            "model": {"name": "gpt", "dim": 32, "heads": 2, "layers": 1},
            "task": {"name": "language_model"},
            "train": {"epochs": 3, "batch_size": 64, "lr": 0.003, "report": False, "threads": 1,
                      "window_shift": True, **train}}


def test_a_shifted_run_learns_and_resumes_exactly(shared_data, tmp_path):
    whole = api.run(lm_recipe(), out=tmp_path / "whole")
    assert whole.history[-1]["val_loss"] < whole.history[0]["val_loss"] < 3.5  # ln(65) = 4.17 knows nothing
    steps = whole.summary["steps"]
    assert steps == 3 * math.ceil((whole.summary["data"]["train"] - 1) / 64)  # one window fewer each epoch

    def on_step_end(trainer, loss):
        if trainer.state.global_step == steps // 2:
            trainer.interrupt()

    with pytest.raises(api.Interrupted):
        api.run(lm_recipe(), out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=on_step_end)])
    assert load_state(tmp_path / "cut" / "checkpoints" / "last.ckpt")["trainer"]["step_in_epoch"] > 0
    resumed = api.run(resume=tmp_path / "cut")
    a = load_state(whole.run_dir / "checkpoints" / "last.ckpt")["model"]
    b = load_state(resumed.run_dir / "checkpoints" / "last.ckpt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.summary["test"] == whole.summary["test"]


def test_window_shift_on_a_classifier_is_refused_by_name(tmp_path):
    recipe = {"name": "digits", "data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [16]},
              "task": {"name": "classification"}, "train": {"epochs": 1, "window_shift": True, "report": False}}
    with pytest.raises(LayerLabError, match="train.window_shift"):
        api.run(recipe, out=tmp_path / "r")
