"""A kill between an atomic write and its rename leaves a (perhaps empty) temporary file; the next save or
load of the same target removes it, and nothing else (issue 28, item 10)."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from layerlab.train.checkpoint import save_weights
from layerlab.train.state_io import atomic_write, load_state, save_state


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_kill_mid_write_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "last.ckpt"
    # A child process starts writing the checkpoint and is killed before the rename.
    code = ("import os, sys; from layerlab.train.state_io import atomic_write\n"
            "atomic_write(sys.argv[1], lambda h: (h.write(b'partial'), h.flush(), os.kill(os.getpid(), 9)))")
    child = subprocess.run([sys.executable, "-c", code, str(target)], env={**os.environ}, check=False)
    assert child.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".last.ckpt.") and left[0].endswith(".tmp")

    save_state(target, {"step": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_load_removes_them_too_and_only_ours_of_that_target(tmp_path):
    target = tmp_path / "last.ckpt"
    save_state(target, {"step": 1})
    stale = [tmp_path / f".last.ckpt.{dead_pid()}.ab_cd123.tmp",  # a killed writer's, empty
             tmp_path / ".last.ckpt.x1y2z3w4.tmp"]  # an older version's, without a pid
    kept = [tmp_path / f".last.ckpt.{os.getpid()}.abcdefgh.tmp",  # being written now, by a live process
            tmp_path / ".model.safetensors.1.abcdefgh.tmp",  # another target's
            tmp_path / ".last.ckpt.notours.tmp",  # not our naming pattern
            tmp_path / "last.ckpt.tmp"]
    for path in stale + kept:
        path.write_bytes(b"")
    assert load_state(target) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last.ckpt", *(p.name for p in kept)])


def test_the_weights_writer_cleans_its_target_as_well(tmp_path):
    stale = tmp_path / f".model.safetensors.{dead_pid()}.q9w8e7r6.tmp"
    stale.write_bytes(b"\x00" * 10)
    save_weights(tmp_path / "model.safetensors", {"w": torch.ones(2)})
    assert not stale.exists() and (tmp_path / "model.safetensors").exists()


def test_removing_is_harmless_when_there_is_nothing_to_remove(tmp_path):
    from layerlab.train.state_io import remove_stale_temporaries

    assert remove_stale_temporaries(tmp_path / "nothing.json") == []
    atomic_write(tmp_path / "a.txt", lambda h: h.write(b"a"))
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
