"""Jupyter: a run shows itself as HTML (metrics, curves, confusion matrix), and fit in a real kernel shows
its progress and learning curves in the cell."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from sklearn.datasets import load_digits
from torch import nn

import layerlab
from layerlab import api
from layerlab.notebook import in_notebook, live, run_html


class DigitsNet(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> layerlab.api.RunResult:
    digits = load_digits()
    out = tmp_path_factory.mktemp("nb") / "run"
    return layerlab.fit(DigitsNet(), (digits.data, digits.target), epochs=3, report=False, out=out, progress=False)


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_a_run_result_shows_its_metrics_curves_and_confusion_matrix(digits_run) -> None:
    page = digits_run._repr_html_()
    accuracy = digits_run.summary["test"]["accuracy"]
    assert f"<td>accuracy</td><td>{accuracy:.4f}</td>" in page
    assert "learning curves" in page and "confusion matrix (test)" in page
    images = _images(page)
    assert len(images) == 2 and all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)
    assert "3 epochs" in page and "status finished" in page


def test_a_loaded_run_shows_the_same(digits_run) -> None:
    loaded = api.load_run(digits_run.run_dir)
    assert loaded._repr_html_() == digits_run._repr_html_()


def test_an_unfinished_run_directory_says_so(tmp_path: Path) -> None:
    page = run_html(tmp_path)
    assert "no summary.json (the run has not finished)" in page and "no test metrics" in page
    assert _images(page) == []


def test_outside_a_notebook_nothing_is_shown_live() -> None:
    assert not in_notebook()
    assert live() == []


NOTEBOOK_CELL = """
import numpy as np, layerlab
from sklearn.datasets import load_digits
from torch import nn
digits = load_digits()
net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
result = layerlab.fit(net, (digits.data, digits.target), epochs=3, report=False, out="run")
result
"""


@pytest.mark.slow
def test_fit_in_a_real_kernel_shows_progress_and_curves_in_the_cell(tmp_path: Path, kernel) -> None:
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_CELL)])
    kernel.run(notebook, tmp_path)  # the session's kernel (tests/api/conftest.py)
    outputs = notebook.cells[0].outputs
    shown = [o for o in outputs if o.output_type == "display_data"]
    # the progress line and the curves were shown with display ids (updated in place after each epoch)
    assert any("<progress" in o.data.get("text/html", "") and "epoch 3/3" in o.data["text/html"] for o in shown)
    assert any("image/png" in o.data for o in shown)
    result = [o for o in outputs if o.output_type == "execute_result"][0]
    assert "<td>accuracy</td>" in result.data["text/html"]
    assert not [o for o in outputs if o.output_type == "error"]
