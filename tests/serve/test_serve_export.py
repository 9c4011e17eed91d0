"""``layerlab export``: each format read back gives PyTorch's outputs on raw inputs; refusals and a
failed check write nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from layerlab.cli import main
from layerlab.errors import UsageError
from layerlab.runs import load_run
from layerlab.serve import export as export_module
from layerlab.serve import formats
from layerlab.serve.export import ExportMismatch, export
from layerlab.serve.predictor import Predictor

FORMATS = ["onnx", "torchscript", "exported-program"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_digits_export_reads_back_and_matches_pytorch_on_raw_pixels(digits_run, tmp_path, fmt):
    result = export(digits_run, format=fmt, out=tmp_path / f"digits{formats.FORMATS[fmt]}")
    assert result.path.is_file() and result.check.passed and result.check.argmax_agreement == 1.0
    spec = json.loads(result.spec_path.read_text())
    assert spec["task"] == "classification" and spec["classes"] == [str(i) for i in range(10)]
    assert spec["input"]["shape"] == ["batch", 1, 8, 8] and spec["input"]["range"] == [0.0, 1.0]
    assert spec["recipe"] == "digits-cnn" and "accuracy" in spec["metrics"]
    # raw digits (0..16) from scikit-learn itself: the file takes pixels in [0, 1], the run's model
    # takes them standardised by the run's preprocessing
    raw = load_digits().images[:300, None].astype(np.float64)
    loaded = load_run(digits_run, device="cpu")
    with torch.no_grad():
        expected = loaded.model(loaded.preprocessor.transform(raw)).numpy()
    for batch in (1, 7, 300):  # the batch axis is dynamic
        got = formats.open_file(result.path)((raw[:batch] / 16).astype(np.float32))
        assert got.shape == (batch, 10)
        assert np.abs(got - expected[:batch]).max() < 1e-4
        assert (got.argmax(1) == expected[:batch].argmax(1)).all()


def test_table_export_takes_encoded_columns_and_predicts_as_the_run(table_run, wine, tmp_path, write_table):
    from layerlab.api import predict

    result = export(table_run, format="onnx", out=tmp_path / "wine.onnx")
    spec = result.spec
    assert [c["name"] for c in spec["input"]["columns"]] == wine[0][:-1]
    assert "colour=red" in spec["input"]["features"] and spec["input"]["shape"][1] == len(spec["input"]["features"])
    header, rows = wine
    rows = rows[:40]
    csv_file = write_table(tmp_path / "new.csv", header[:-1], [r[:-1] for r in rows])
    expected = predict(table_run, [csv_file], device="cpu")
    predictor = Predictor.from_export(result.path)
    by_rows = predictor.rows([dict(zip(header[:-1], r[:-1])) for r in rows])
    by_file = predictor([csv_file])
    for e, r, f in zip(expected, by_rows, by_file):
        assert e["label"] == r["label"] == f["label"]
        assert abs(e["probability"] - r["probability"]) < 1e-5


def test_a_language_model_is_refused_by_name(tmp_path, shared_data):
    from layerlab.api import run

    overrides = ["data.limit=3000", "model.hidden=16", "model.layers=1", "train.epochs=1", "train.report=false",
                 "train.max_seconds=30", "data.max_length=32"]
    lm = run("shakespeare-rnn", overrides, out=tmp_path / "lm").run_dir
    with pytest.raises(UsageError, match="cannot export shakespeare-rnn: a language model generates"):
        export(lm, format="onnx")
    assert main(["export", str(lm)]) == 2
    assert not (lm / "model.onnx").exists()


def test_a_failed_check_writes_nothing_and_exits_2(digits_run, tmp_path, monkeypatch, capsys):
    """An exported graph that computes something else (here: its logits shifted) is caught by the check."""
    real = export_module.exportable

    class Shifted(torch.nn.Module):  # stands in for a wrongly exported operator
        def forward(self, x):
            return x + 0.01

    def corrupted(loaded):
        graph = real(loaded)
        graph.module.post = Shifted()
        return graph

    monkeypatch.setattr(export_module, "exportable", corrupted)
    out = tmp_path / "bad.onnx"
    with pytest.raises(ExportMismatch, match=r"max abs difference 0\.01 > tolerance .* argmax agreement"):
        export(digits_run, format="onnx", out=out)
    assert not out.exists() and not out.with_name("bad.onnx.json").exists()
    assert main(["export", str(digits_run), "--format", "torchscript", "--out", str(tmp_path / "bad.pt")]) == 2
    assert "max abs difference" in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists()


def test_cli_export_prints_the_check(digits_run, tmp_path, capsys):
    out = tmp_path / "d.pt2"
    assert main(["export", str(digits_run), "--format", "exported-program", "--out", str(out), "--limit", "50"]) == 0
    printed = capsys.readouterr().out
    assert "50 test examples, max abs difference" in printed and "argmax agreement 100.00%" in printed
    assert out.is_file() and out.with_name("d.pt2.json").is_file()
