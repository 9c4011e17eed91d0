"""``import layerlab`` is cheap and torch-free, and what the README's Python tour uses is reachable from it
without importing a submodule by hand (``layerlab.api``, ``layerlab.fit``, ``@layerlab.models.register``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

PROBE = """
import json, sys
import layerlab
found = {"torch_after_import": "torch" in sys.modules}
found["api_tune"] = callable(layerlab.api.tune)
found["fit_is_api_fit"] = layerlab.fit is layerlab.api.fit
found["run_is_api_run"] = layerlab.run is layerlab.api.run
found["registers"] = [callable(layerlab.models.register), callable(layerlab.data.register), callable(layerlab.tasks.register)]
found["live"] = callable(layerlab.notebook.live)
found["in_dir"] = all(n in dir(layerlab) for n in ("api", "fit", "models", "notebook"))
try:
    layerlab.no_such_thing
except AttributeError as exc:
    found["missing"] = str(exc)
print(json.dumps(found))
"""


def _probe(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": SRC})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_layerlab_does_not_import_torch() -> None:
    code = "import sys, json\nimport layerlab\nprint(json.dumps({'torch': 'torch' in sys.modules, 'numpy': 'numpy' in sys.modules}))"
    assert _probe(code) == {"torch": False, "numpy": False}


def test_the_python_tour_is_reachable_from_import_layerlab_alone() -> None:
    found = _probe(PROBE)
    assert found["torch_after_import"] is False
    assert found["api_tune"] and found["fit_is_api_fit"] and found["run_is_api_run"]
    assert found["registers"] == [True, True, True] and found["live"] and found["in_dir"]
    assert found["missing"] == "module 'layerlab' has no attribute 'no_such_thing'"
