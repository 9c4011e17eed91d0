"""SIGKILL a run at random steps (a fixed seed) and resume it: every resume ends bit-identical to the
uninterrupted run, or is refused with one line and no traceback (issue 28)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from layerlab.train.checkpoint import load_weights

# 350 training examples in batches of 32: 11 optimiser steps an epoch, 22 in all. A checkpoint every step,
# so that kills land in the middle of checkpoint writes as well as between them.
ARGS = ["digits-cnn", "data.limit=500", "model.width=16", "train.epochs=2", "train.batch_size=32",
        "train.deterministic=true", "train.checkpoint_every=1", "train.report=false", "train.diagnostics_every=0"]
STEPS = 22
KILLS = 4  # one run killed this many times at increasing random steps, resumed after each kill
# The early kill: batches of one and no step checkpoints, so the first checkpoint (the first epoch's end,
# 350 steps) comes long after the model is built, however fast the machine.
EARLY_ARGS = [a for a in ARGS if not a.startswith(("train.batch_size", "train.checkpoint_every"))] + ["train.batch_size=1"]


def layerlab(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    return subprocess.Popen([sys.executable, "-m", "layerlab", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def checkpoint_step(run_dir: Path) -> int:
    """The optimiser step of the run's last checkpoint, from its header (-1 while there is none)."""
    try:
        data = (run_dir / "checkpoints" / "last.ckpt").read_bytes()
    except FileNotFoundError:
        return -1
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    return json.loads(header["__metadata__"]["skeleton"])["trainer"]["global_step"]


def kill_at(process: subprocess.Popen, run_dir: Path, step: int, rng: random.Random) -> int:
    """SIGKILL ``process`` a random moment (within about a step) after it checkpointed ``step``;
    ``step`` 0: as soon as its model is built. Returns the step of the checkpoint it left."""
    ready = (lambda: (run_dir / "model.json").exists()) if step == 0 else (lambda: checkpoint_step(run_dir) >= step)
    deadline = time.monotonic() + 300
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0.0, 0.01))  # within about a step: a kill can land in the middle of the next write
    process.send_signal(signal.SIGKILL)
    process.communicate()
    return checkpoint_step(run_dir)


def resume(run_dir: Path) -> subprocess.CompletedProcess:
    process = layerlab("run", "--resume", str(run_dir))
    out, err = process.communicate(timeout=300)
    assert "Traceback" not in err, err
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.slow
def test_a_run_killed_at_random_steps_resumes_bit_identically_and_too_early_a_kill_is_refused(tmp_path, shared_data):
    whole = layerlab("run", *ARGS, "--out", str(tmp_path / "whole"))
    _, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err
    reference = load_weights(tmp_path / "whole" / "model.safetensors")

    rng = random.Random(0)
    early = tmp_path / "early"
    left = [kill_at(layerlab("run", *EARLY_ARGS, "--out", str(early)), early, 0, rng)]  # before any checkpoint
    refused = resume(early)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert left == [-1] and refused.returncode == 2 and len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: ") and "last.ckpt" in lines[0]

    run_dir = tmp_path / "killed"
    process = layerlab("run", *ARGS, "--out", str(run_dir))
    for step in sorted(rng.sample(range(1, STEPS - 4), KILLS)):  # the last kill well before the run ends
        left.append(kill_at(process, run_dir, step, rng))
        process = layerlab("run", "--resume", str(run_dir))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert left[1:] == sorted(left[1:]) and 0 < left[1] and left[-1] < STEPS, left  # every kill was mid-run

    weights = load_weights(run_dir / "model.safetensors")
    assert weights.keys() == reference.keys()
    assert all(torch.equal(weights[k], reference[k]) for k in weights), "the resumed weights differ"
    assert not list((run_dir / "checkpoints").glob(".*.tmp")), "a killed write's temporary file was left"
