"""Checkpoints: pickle-free round trips and atomic writes."""

from __future__ import annotations

import pytest
import torch

from layerlab.errors import LayerLabError
from layerlab.train.state_io import atomic_write, load_state, save_state


def test_nested_state_round_trips(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7, "best": None,
             "betas": (0.9, 0.99), "history": [{"epoch": 1, "loss": 0.5}], "rng": torch.get_rng_state()}
    save_state(tmp_path / "c.ckpt", state)
    back = load_state(tmp_path / "c.ckpt")
    assert back["step"] == 7 and back["best"] is None and back["betas"] == (0.9, 0.99)
    assert back["history"] == [{"epoch": 1, "loss": 0.5}]
    assert torch.equal(back["rng"], state["rng"])
    # integer keys of the optimiser state survive, so it loads back
    opt2 = torch.optim.Adam(model.parameters())
    opt2.load_state_dict(back["optimizer"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])


def test_interrupted_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "last.ckpt"
    save_state(path, {"step": 1, "w": torch.ones(3)})

    def crash_midway(handle):
        handle.write(b"partial bytes of a new checkpoint")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash_midway)
    assert load_state(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


def test_corrupt_checkpoint_is_named(tmp_path):
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(LayerLabError, match="last.ckpt: not a readable LayerLab checkpoint"):
        load_state(path)


def test_unsupported_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot save a object at '/x'"):
        save_state(tmp_path / "c.ckpt", {"x": object()})
