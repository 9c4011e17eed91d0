"""A user's own model family, registered from their module with ``@layerlab.models.register``, found by
``layerlab run`` through ``--import`` (before or after the command) or through an installed package's
``layerlab.plugins`` entry point; a failing plugin is named in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

PLUGIN = '''
import math
from pydantic import Field
from torch import nn
import layerlab.models
from layerlab.models import ModelConfig

class TinyConfig(ModelConfig):
    hidden: int = Field(32, ge=1, description="tiny-mlp: hidden units")

@layerlab.models.register("tiny-mlp", config=TinyConfig, description="a plugin's MLP")
def build_tiny(cfg, input_shape, num_outputs):
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), cfg.hidden), nn.ReLU(),
                         nn.Linear(cfg.hidden, num_outputs))
'''

RECIPE = """name: plugin-digits
data: {name: digits}
model: {name: tiny-mlp, hidden: 48}
train: {epochs: 4, batch_size: 32, lr: 0.003, report: false, diagnostics_every: 0}
"""


def _layerlab(cwd: Path, *argv: str, path: str = SRC) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run([sys.executable, "-m", "layerlab", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _accuracy(run_dir: Path) -> float:
    return json.loads((run_dir / "summary.json").read_text())["test"]["accuracy"]


def test_a_plugin_model_is_found_by_run_with_import_before_or_after_the_command(tmp_path: Path) -> None:
    (tmp_path / "my_models.py").write_text(PLUGIN)
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    done = _layerlab(tmp_path, "--import", "my_models", "run", "recipe.yaml", "--out", "r1")
    assert done.returncode == 0, done.stderr
    assert _accuracy(tmp_path / "r1") > 0.8  # digits, 10 classes: chance 0.1

    assert "'tiny-mlp' is not a known model" in _layerlab(tmp_path, "evaluate", "r1").stderr
    again = _layerlab(tmp_path, "evaluate", "r1", "--import=my_models")
    assert again.returncode == 0, again.stderr


def test_an_installed_plugin_is_loaded_through_its_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "tiny_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "tiny_plugin-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 0.1\n")
    (site / "tiny_plugin-0.1.dist-info" / "entry_points.txt").write_text("[layerlab.plugins]\ntiny = tiny_models\n")
    (site / "tiny_models.py").write_text(PLUGIN)
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    done = _layerlab(tmp_path, "run", "recipe.yaml", "--out", "r", path=f"{SRC}{os.pathsep}{site}")
    assert done.returncode == 0, done.stderr
    assert _accuracy(tmp_path / "r") > 0.8

    (site / "tiny_models.py").write_text("raise ImportError('needs the GPU build')\n")
    failed = _layerlab(tmp_path, "run", "recipe.yaml", "--out", "r2", path=f"{SRC}{os.pathsep}{site}")
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines()[-1] == (
        "error: plugin tiny (tiny_models, entry point group layerlab.plugins): ImportError: needs the GPU build")
