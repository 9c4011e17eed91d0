"""``layerlab --import MODULE``: the user's module is imported before the command; a failing one is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _layerlab(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "layerlab", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_import_runs_the_users_module_first(tmp_path: Path) -> None:
    (tmp_path / "my_plugin.py").write_text("import pathlib\npathlib.Path('imported.txt').write_text('yes')\n")
    done = _layerlab(tmp_path, "--import", "my_plugin", "--version")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "imported.txt").read_text() == "yes"


def test_a_failing_module_is_named_in_one_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no GPU here')\n")
    done = _layerlab(tmp_path, "--import", "broken_plugin", "--version")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --import broken_plugin: RuntimeError: no GPU here"


def test_a_missing_module_is_named(tmp_path: Path) -> None:
    done = _layerlab(tmp_path, "--import", "no_such_plugin_xyz", "--version")
    assert done.returncode == 2
    assert "--import no_such_plugin_xyz" in done.stderr and "ModuleNotFoundError" in done.stderr
