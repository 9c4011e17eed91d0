"""Issue 28, found by benchmarks/reliability_probe.py: doctored run files and odd inputs refused in one line
(exit 2 on the command line), never a traceback."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from layerlab import api
from layerlab.cli import main
from layerlab.errors import DataError

TINY = {"name": "tiny", "data": {"name": "digits", "limit": 300}, "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 1, "batch_size": 64, "report": False, "diagnostics_every": 0}}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return api.run(TINY, out=tmp_path_factory.mktemp("runs") / "tiny").run_dir


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("text, why", [
    ("[1, 2, 3]", "it holds a list, not an object"),
    ('{"info": {"input_shape": [-1]}}', "preprocessor, model, input_shape, num_outputs: missing or not as written"),
    ("null", "it holds a NoneType"),
])
def test_a_doctored_model_json_is_refused_naming_the_file(tiny_run, tmp_path, capsys, text, why):
    run = Path(shutil.copytree(tiny_run, tmp_path / "doctored"))
    (run / "model.json").write_text(text)
    assert main(["evaluate", str(run)]) == 2
    err = _one_line(capsys)
    assert f"{run / 'model.json'}: not the model.json of a LayerLab run" in err and why in err


def test_a_model_json_with_a_negative_input_size_is_refused(tiny_run, tmp_path, capsys):
    run = Path(shutil.copytree(tiny_run, tmp_path / "negative"))
    text = (run / "model.json").read_text()
    (run / "model.json").write_text(text.replace('"input_shape": [', '"input_shape": [-3, ', 1))
    assert main(["evaluate", str(run)]) == 2
    assert "input_shape, num_outputs: missing or not as written" in _one_line(capsys)
    assert main(["evaluate", str(tiny_run)]) == 0  # the run it was copied from still reads


def test_embed_with_an_unknown_data_set_is_refused(capsys):
    assert main(["embed", "--data", "digitz"]) == 2
    assert "--data: 'digitz' is not a known data set; did you mean 'digits'?" in _one_line(capsys)


def test_a_cifar_meta_file_holding_an_array_is_refused(tmp_path):
    from layerlab.data.sources.cifar10 import _read_class_names

    meta = tmp_path / "batches.meta"
    meta.write_bytes(pickle.dumps(np.arange(3)))
    with pytest.raises(DataError, match=r"batches.meta: expected 'label_names' with ten class names"):
        _read_class_names(meta)
