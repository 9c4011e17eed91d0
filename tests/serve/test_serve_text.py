"""A text classifier: exported with every column (its padding trimming is data-dependent), and served on
sentences, whose tokenizing the spec leaves to the caller."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from layerlab.serve.export import export
from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app

SENTENCES = ["a warm , funny and moving film", "dull , tedious and far too long", "the plot", "!"]


@pytest.mark.parametrize("fmt", ["onnx", "exported-program"])
def test_text_classifier_exports_and_answers_sentences_as_the_run(polarity_run, tmp_path, fmt):
    result = export(polarity_run, format=fmt, out=tmp_path / f"m.{fmt}", limit=300)
    assert result.check.passed and result.spec["input"]["dtype"] == "int64" and result.spec["input"]["kind"] == "text"
    in_torch = Predictor.from_run(polarity_run).sentences(SENTENCES)
    exported = Predictor.from_export(result.path).sentences(SENTENCES)
    for a, b in zip(in_torch, exported):
        assert a["label"] == b["label"] and abs(a["probability"] - b["probability"]) < 1e-5


def test_sentences_over_http_and_their_mistakes(polarity_run):
    predictor = Predictor.from_run(polarity_run)
    app = create_app(predictor, max_items=4)
    bodies = [{"sentences": SENTENCES}, {"sentences": ["ok", 3]}, {"sentences": ["x"] * 5},
              {"sentences": ["w " * 6000]}, {"rows": [{"text": "a"}]}]

    async def post_all():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
            return await asyncio.gather(*[client.post("/predict", json=b) for b in bodies])

    good, not_a_string, too_many, too_long, rows = asyncio.run(post_all())
    assert [p["label"] for p in good.json()["predictions"]] == [p["label"] for p in predictor.sentences(SENTENCES)]
    assert (not_a_string.status_code, not_a_string.json()["error"]["field"]) == (422, "sentences[1]")
    assert (too_many.status_code, too_many.json()["error"]["field"]) == (422, "sentences")
    assert (too_long.status_code, too_long.json()["error"]["field"]) == (422, "sentences[0]")
    assert (rows.status_code, rows.json()["error"]["field"]) == (422, "rows")
    assert np.isfinite([p["probability"] for p in good.json()["predictions"]]).all()


def test_an_lstm_over_packed_sentences_is_refused_with_the_exporters_reason(tmp_path, shared_data_dir, monkeypatch):
    """torch.export (and so the ONNX exporter) cannot trace packing by data-dependent lengths (PyTorch 2.x);
    the refusal names the exporter's reason and nothing is written. TorchScript's trace of it passes the check."""
    from layerlab.api import run
    from layerlab.errors import UsageError

    monkeypatch.setenv("LAYERLAB_DATA", str(shared_data_dir))
    lstm = run("polarity-lstm", ["data.limit=600", "train.epochs=1", "train.report=false"], out=tmp_path / "r").run_dir
    with pytest.raises(UsageError, match="cannot export this model to onnx: .*data-dependent"):
        export(lstm, format="onnx", out=tmp_path / "m.onnx", limit=100)
    assert not (tmp_path / "m.onnx").exists()
    assert export(lstm, format="torchscript", out=tmp_path / "m.pt", limit=100).check.passed
