"""Every name a benchmark script imports from layerlab exists (benchmarks are not run by the suite,
so a renamed helper would otherwise break one silently, as it once did insight_gradient_flow.py)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def imported_names(path: Path) -> list[tuple[str, str]]:
    return [(node.module, alias.name) for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "layerlab"
            for alias in node.names]


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_a_benchmarks_layerlab_imports_exist(path):
    for module_name, name in imported_names(path):
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule: raises if it is missing too


def test_the_check_finds_a_missing_name(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("from layerlab.analyze.plots import _figure\n")
    with pytest.raises(ModuleNotFoundError):
        test_a_benchmarks_layerlab_imports_exist(script)
