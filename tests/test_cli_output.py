"""The command line's output contract: a reader that leaves early (``| head -1``) ends the command quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.cli import BROKEN_PIPE_EXIT, main


def _piped(*args: str, read_first_line: bool) -> tuple[int, str]:
    """Run ``layerlab ARGS`` into a pipe that is closed after its first line (or at once), like ``| head -1``."""
    proc = subprocess.Popen([sys.executable, "-m", "layerlab", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if read_first_line:
        assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize("args", [("recipe", "explain", "--json"), ("recipe", "explain")])
def test_a_closed_pipe_ends_the_command_quietly(args):
    code, err = _piped(*args, read_first_line=False)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert code == BROKEN_PIPE_EXIT


def test_head_one_after_the_first_line_is_quiet():
    # 80 kB of JSON, more than a pipe holds: the writer meets the closed end after `head -1` has its line.
    code, err = _piped("recipe", "explain", "--json", read_first_line=True)
    assert err == "" and code == BROKEN_PIPE_EXIT


# ------------------------------------------------------------------------------------------------ --json
TINY = "data: {name: digits, limit: 400}\nmodel: {name: mlp, hidden: [32]}\ntrain: {epochs: 2, batch_size: 32}\n"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "tiny.yaml").write_text(TINY)
    assert main(["run", str(folder / "tiny.yaml"), "--out", str(folder / "run"), "-q"]) == 0
    return folder / "run"


def test_lr_find_prints_json(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY)
    code = main(["lr-find", str(tmp_path / "tiny.yaml"), "--steps", "30", "--start", "1e-4", "--end", "10",
                 "--out", str(tmp_path / "lr.png"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["plot"] == str(tmp_path / "lr.png") and Path(result["plot"]).stat().st_size > 0
    assert len(result["lrs"]) == len(result["losses"]) == len(result["raw_losses"]) >= 5
    assert result["suggestion"] in result["lrs"] and 1e-4 <= result["suggestion"] <= 10


def test_report_prints_json(tiny_run, capsys):
    capsys.readouterr()
    assert main(["report", str(tiny_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["report"] == str(tiny_run / "report.html") and Path(result["report"]).stat().st_size > 0
    assert str(tiny_run / "report" / "confusion.png") in result["figures"]
    assert all(Path(f).stat().st_size > 0 for f in result["figures"])
