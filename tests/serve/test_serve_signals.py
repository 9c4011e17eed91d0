"""Audio and time series: the log-mel spectrogram and the forecast's units across the export boundary,
and WAV / CSV files over HTTP."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from layerlab.api import predict, run
from layerlab.serve.export import export
from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app


async def _post_all(app, bodies):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await asyncio.gather(*[client.post("/predict", **body) for body in bodies])


@pytest.fixture(scope="module")
def fsdd_run(tmp_path_factory, shared_data_dir):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAYERLAB_DATA", str(shared_data_dir))
        out = tmp_path_factory.mktemp("fsdd") / "run"
        return run("fsdd-cnn", ["data.limit=400", "train.epochs=1", "train.report=false"], out=out).run_dir


def test_audio_export_takes_log_mels_and_serves_wav_files(fsdd_run, shared_data_dir, tmp_path):
    result = export(fsdd_run, format="onnx", out=tmp_path / "fsdd.onnx", limit=200)
    assert result.check.passed and result.check.argmax_agreement == 1.0
    spec = result.spec["input"]
    assert spec["kind"] == "audio" and "log-mel" in spec["caller_does"] and spec["preprocessor"]["n_mels"] > 0
    wavs = sorted((shared_data_dir / "fsdd" / "recordings").glob("*.wav"))[:4]
    expected = [p["label"] for p in predict(fsdd_run, wavs, device="cpu")]
    predictor = Predictor.from_export(result.path)  # the WAV is read and turned to log-mels outside the graph
    assert [p["label"] for p in predictor([str(w) for w in wavs])] == expected
    app = create_app(predictor)
    files = [("files", (w.name, w.read_bytes(), "audio/wav")) for w in wavs]
    encoded = [base64.b64encode(w.read_bytes()).decode() for w in wavs]
    by_files, by_json, broken, wrong_kind = asyncio.run(_post_all(app, [
        {"files": files}, {"json": {"audio": encoded}},
        {"files": {"files": ("cut.wav", wavs[0].read_bytes()[:30], "audio/wav")}},
        {"json": {"images": encoded[:1]}},
    ]))
    assert [p["label"] for p in by_files.json()["predictions"]] == expected
    assert [p["label"] for p in by_json.json()["predictions"]] == expected
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "files[0]"
    assert "cut.wav" in broken.json()["error"]["message"]
    assert wrong_kind.status_code == 422 and wrong_kind.json()["error"]["field"] == "images"


def test_forecast_export_gives_the_datas_units_from_a_csv(tmp_path):
    co2 = run("co2-lstm", ["train.epochs=2", "train.report=false"], out=tmp_path / "co2").run_dir
    result = export(co2, format="exported-program", out=tmp_path / "co2.pt2")
    assert result.spec["output"]["kind"] == "forecast" and result.spec["output"]["shape"] == ["batch", 12]
    columns = result.spec["input"]["columns"]
    history = [300 + 0.1 * t + (t % 12) * 0.5 for t in range(48)]  # ppm, a trend and a season
    csv_file = Path(tmp_path / "recent.csv")
    csv_file.write_text(",".join(columns) + "\n" + "\n".join(f"{v:.3f}" for v in history) + "\n")
    expected = predict(co2, [csv_file], device="cpu")[0]["value"]
    got = Predictor.from_export(result.path)([csv_file])[0]["value"]
    assert len(got) == 12 and max(abs(a - b) for a, b in zip(got, expected)) < 1e-3
    assert 300 < got[0] < 320  # in ppm, not standardised units
