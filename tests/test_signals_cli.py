"""The `layerlab` command on audio and time series: train, predict WAV files and CSV windows from the run
directory alone, the errors a user sees, and a spoken-digit model that beats chance on real recordings."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from layerlab.cli import main

RATE = 8000


@pytest.fixture(autouse=True)
def _keep_threads():
    """The runs here ask for one thread (tiny models run far faster so on a busy machine); put it back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def write_wav(path: Path, freq: float, *, rate: int = RATE, seconds: float = 0.4, seed: int = 0) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    noise = 0.02 * np.random.default_rng(seed).standard_normal(len(t))
    samples = np.round((0.5 * np.sin(2 * np.pi * freq * t) + noise) * 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path


def test_train_on_a_folder_of_tones_then_predict_wav_files(tmp_path, capsys):
    for label, freq in (("low", 300.0), ("high", 1500.0)):
        for i in range(12):
            write_wav(tmp_path / "clips" / label / f"{i}.wav", freq * (0.95 + 0.01 * i), seed=i)
    recipe = tmp_path / "tones.yaml"  # an MLP: pure tones differ only in the band they sit in, which a CNN's
    # global average pool discards
    recipe.write_text(f"""
name: tones
data: {{name: audio-folder, path: {tmp_path / 'clips'}, clip_seconds: 0.5, n_mels: 24, test_fraction: 0.2,
        augment: {{freq_mask: 2, time_mask: 3}}}}
model: {{name: mlp, hidden: [32]}}
train: {{epochs: 10, batch_size: 8, lr: 0.003, threads: 1, report: false}}
""")
    out = tmp_path / "run"
    assert main(["run", str(recipe), "--out", str(out), "-q"]) == 0
    assert "test: loss" in capsys.readouterr().out
    assert json.loads((out / "summary.json").read_text())["test"]["accuracy"] == 1.0

    # new files: one at the run's rate, one at 16 kHz (resampled), one stereo-free folder of them
    low = write_wav(tmp_path / "new" / "low.wav", 310.0, seed=99)
    high = write_wav(tmp_path / "new" / "high_16k.wav", 1450.0, rate=16000, seed=98)
    assert main(["predict", str(out), str(low), str(high), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(Path(r["input"]).name, r["label"]) for r in rows] == [("low.wav", "low"), ("high_16k.wav", "high")]
    assert main(["predict", str(out), str(tmp_path / "new")]) == 0
    printed = capsys.readouterr().out
    assert "high_16k.wav" in printed and "low.wav" in printed

    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    assert main(["predict", str(out), str(broken)]) == 1
    assert "broken.wav: not a readable WAV file" in capsys.readouterr().err


def test_forecast_recipe_runs_and_predicts_from_a_csv(tmp_path, capsys):
    out = tmp_path / "sun"
    assert main(["run", "sunspots-lstm", "train.epochs=2", "model.hidden=8", "train.threads=1", "train.report=false",
                 "data.horizon=2", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "mae" in printed and "naive_mae" in printed and "seasonal_naive_mae" in printed
    recent = tmp_path / "recent.csv"
    recent.write_text("sunspots\n" + "\n".join(str(v) for v in range(40)) + "\n")
    assert main(["predict", str(out), str(recent), "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["input"].endswith("recent.csv (after line 41)") and len(row["value"]) == 2  # two steps ahead
    assert main(["predict", str(out), str(recent)]) == 0  # the table prints both steps
    assert len([w for w in capsys.readouterr().out.split() if w.replace(".", "").replace("-", "").isdigit()]) >= 2
    assert main(["predict", str(out), str(tmp_path / "missing.csv")]) == 1
    assert "missing.csv" in capsys.readouterr().err


def test_the_co2_recipe_forecasts_from_level_relative_windows_and_predicts_a_year(tmp_path, capsys):
    out = tmp_path / "co2"
    assert main(["run", "co2-lstm", "train.epochs=2", "model.hidden=8", "train.threads=1", "train.report=false",
                 "--out", str(out), "-q"]) == 0
    assert json.loads((out / "model.json").read_text())["task"]["relative"] is True
    capsys.readouterr()
    recent = tmp_path / "recent.csv"
    recent.write_text("co2\n" + "\n".join(str(400 + 0.1 * i) for i in range(36)) + "\n")  # above every training value
    assert main(["predict", str(out), str(recent), "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(row["value"]) == 12 and all(395 < v < 410 for v in row["value"])  # near the last level, not the training range


def test_recipe_explain_lists_the_audio_and_series_fields():
    from layerlab.recipe import explain

    described = {key: text for key, _, _, text in explain("data")}
    for key in ("data.n_mels", "data.test_speaker", "data.window", "data.horizon", "data.augment.freq_mask"):
        assert described[key].startswith(("audio: ", "series: ")), key


def test_a_spoken_digit_cnn_beats_chance_on_a_few_hundred_recordings(shared_data, tmp_path):
    out = tmp_path / "fsdd"
    assert main(["run", "fsdd-cnn", "data.limit=400", "data.n_mels=24", "data.hop_ms=32", "model.width=8",
                 "model.convs_per_block=1", "train.epochs=10", "train.batch_size=32", "train.lr=0.005",
                 "train.threads=1", "train.report=false", "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data"]["test"] == 300 and summary["data"]["train"] + summary["data"]["val"] == 400
    # chance is 0.1 (+- 0.017 over 300 recordings); this tiny model, 2 minutes on 2 cores, reaches about 0.4
    assert summary["test"]["accuracy"] > 0.3, summary["test"]
