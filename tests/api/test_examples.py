"""The example notebooks (examples/*.ipynb): committed without outputs, sized by one variable at their
top, and each run through a real Jupyter kernel at that size without an error (one kernel for all of
them, each notebook from an empty namespace in a folder of its own: tests/api/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
# the small runs still learn: a test metric well past chance (01: 10 classes; 06: the majority class is 0.63)
LEARNS = {"01": ("accuracy", 0.6), "06": ("accuracy", 0.85)}
nbformat = pytest.importorskip("nbformat")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_there_are_the_six_examples() -> None:
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_sized_at_the_top(path: Path) -> None:
    notebook = _read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code), f"{path.name} has outputs"
    assert code[0].source.startswith('SIZE = "small"'), f"{path.name}: the first code cell sets SIZE"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_in_a_real_kernel(path: Path, tmp_path: Path, kernel, fashion_dir) -> None:
    if "shakespeare" in path.stem and not SHARED_DATA.is_dir():
        pytest.skip("../shared/data (tiny-shakespeare) is not present")
    notebook = kernel.run(_read(path), tmp_path)  # raises CellExecutionError, with the cell and its traceback
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    summaries = list(tmp_path.glob("runs/*/summary.json"))
    assert summaries, "the notebook wrote no run"
    if path.name[:2] in LEARNS:  # the small run still learns
        metric, floor = LEARNS[path.name[:2]]
        tests = [json.loads(p.read_text())["test"] for p in summaries]
        assert all(test[metric] > floor for test in tests), tests

