"""The command line's output contract: a reader that leaves early (``| head -1``) ends the command quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from layerlab.cli import BROKEN_PIPE_EXIT


def _piped(*args: str, read_first_line: bool) -> tuple[int, str]:
    """Run ``layerlab ARGS`` into a pipe that is closed after its first line (or at once), like ``| head -1``."""
    proc = subprocess.Popen([sys.executable, "-m", "layerlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if read_first_line:
        assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("args", [("recipe", "explain", "--json"), ("recipe", "explain"), ("models", "--json")])
def test_a_closed_pipe_ends_the_command_quietly(args):
    code, err = _piped(*args, read_first_line=False)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert code == BROKEN_PIPE_EXIT


def test_head_one_after_the_first_line_is_quiet():
    # 80 kB of JSON, more than a pipe holds: the writer meets the closed end after `head -1` has its line.
    code, err = _piped("recipe", "explain", "--json", read_first_line=True)
    assert err == "" and code == BROKEN_PIPE_EXIT
