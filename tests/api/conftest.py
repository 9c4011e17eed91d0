"""One real Jupyter kernel for the tests that run notebooks (test_examples.py, test_notebook.py): started once
per session, and each notebook run in it from an empty namespace (``%reset -f``) in a folder of its own, so
that the six examples pay for one kernel start and one import of torch, not six."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


class Kernel:
    """``kernel.run(notebook, folder)``: every code cell of ``notebook`` executed in the shared kernel, in
    ``folder``, outputs stored in the cells; raises nbclient's CellExecutionError (the cell and its
    traceback) at the first error."""

    def __init__(self, client: Any, nbformat: Any, home: Path):
        self.client, self.nbformat, self.home = client, nbformat, home

    def run(self, notebook: Any, folder: Path) -> Any:
        folder.mkdir(parents=True, exist_ok=True)
        self._do(f"import os\nos.chdir({str(folder)!r})\n%reset -f")  # a folder of its own, an empty namespace
        try:
            return self._cells(notebook)
        finally:  # out of the folder, which pytest may delete before the next notebook
            self._do(f"import os as _os\n_os.chdir({str(self.home)!r})")

    def _do(self, code: str) -> None:
        self._cells(self.nbformat.v4.new_notebook(cells=[self.nbformat.v4.new_code_cell(code)]))

    def _cells(self, notebook: Any) -> Any:
        self.client.nb = notebook
        for index, cell in enumerate(notebook.cells):
            self.client.execute_cell(cell, index)  # markdown cells are passed over
        return notebook


@pytest.fixture(scope="session")
def kernel(tmp_path_factory) -> Iterator[Kernel]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    home = tmp_path_factory.mktemp("kernel")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    client = nbclient.NotebookClient(nbformat.v4.new_notebook(), timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(home)}})
    with client.setup_kernel(env=env, cwd=str(home)):
        yield Kernel(client, nbformat, home)
