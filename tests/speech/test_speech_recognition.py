"""speech_recognition end to end: a small acoustic model learns to transcribe digit strings (WER well below
100 %), the report holds both decoders and the worst utterances, and ``layerlab transcribe`` reads WAV files,
converts what it can (stated) and refuses what it cannot, in one line."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

import layerlab
from layerlab import cli
from layerlab.runs import load_run
from tests.conftest import SHARED_DATA
from tests.speech.small_runs import offline_run

# fsdd-ctc made small, ~20 s on 2 cores: 360 training utterances of 1-3 digits, a one-layer bidirectional GRU
# (over seeds 0-2 this reached a test WER of 16-27 %; the untrained model says nothing, WER 100 %)
OVERRIDES = ["data.utterances=400", "data.test_utterances=100", "data.max_digits=3", "data.clip_seconds=3.0",
             "model.channels=16", "model.hidden=64", "model.layers=1", "task.worst=5", "train.epochs=20",
             "train.batch_size=8", "train.lr=0.005", "train.schedule=constant", "train.report=false"]


@pytest.fixture(scope="module")
def ctc_run(tmp_path_factory):
    return offline_run(tmp_path_factory, "fsdd-ctc", OVERRIDES, "ctc")


def test_a_small_acoustic_model_learns_to_transcribe_digit_strings(ctc_run):
    test = ctc_run.summary["test"]
    assert test["wer"] < 0.5 and test["cer"] < 0.5, test  # an untrained model says nothing: WER 1.0
    report = ctc_run.summary["report"]
    assert report["utterances"] == 100 and report["beam"]["wer"] < 0.5
    assert report["greedy"]["wer"] == pytest.approx(test["wer"])
    worst = report["worst"]
    assert 0 < len(worst) <= 5 and worst == sorted(worst, key=lambda w: -w["errors"])
    assert all(w["reference"] != w["hypothesis"] for w in worst)
    for w in worst:  # named by the recordings they were joined from, whose digits are the reference's
        digits = [int(name.split("_")[0]) for name in w["id"].split("+")]
        assert w["reference"] == " ".join(WORDS[d] for d in digits)


WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _write(path, samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())


def _utterance() -> np.ndarray:
    """'three one four' by one speaker, from the official test recordings, as 16-bit samples at 8 kHz."""
    pause = np.zeros(800, dtype=np.int16)
    parts = [pause]
    for name in ("3_jackson_0", "1_jackson_1", "4_jackson_2"):
        with wave.open(str(SHARED_DATA / "fsdd" / "recordings" / f"{name}.wav")) as handle:
            parts += [np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2"), pause]
    return np.concatenate(parts)


def test_transcribe_prints_json_lines_and_states_its_conversions(ctc_run, tmp_path, capsys):
    from scipy.signal import resample_poly

    mono = _utterance()
    _write(tmp_path / "a.wav", mono, 8000)
    high = resample_poly(mono.astype(np.float64), 2, 1).round().astype(np.int16)
    _write(tmp_path / "stereo.wav", np.stack([high, high], 1).ravel(), 16000, channels=2)
    assert cli.main(["transcribe", str(ctc_run.run_dir), str(tmp_path / "a.wav"), str(tmp_path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in rows] == [str(tmp_path / n) for n in ("a.wav", "a.wav", "stereo.wav")]
    assert rows[0]["converted"] == [] and rows[0]["text"] and set(rows[0]["text"].split()) <= set(WORDS)
    assert rows[2]["converted"] == ["mixed 2 channels down to mono", "resampled from 16000 Hz to 8000 Hz"]
    # the same sound at twice the rate in two channels, brought back to the model's: the same words
    texts = [r["text"] for r in layerlab.api.transcribe(ctc_run.run_dir, [tmp_path], decoder="greedy")]
    assert texts[0] == texts[1]


@pytest.mark.parametrize(("name", "make", "message"), [
    ("empty.wav", lambda p: _write(p, np.zeros(0, np.int16), 8000), "has no samples"),
    ("long.wav", lambda p: _write(p, np.tile(_utterance(), 3), 8000), "longer than the 3 s this model takes"),
    ("silent.wav", lambda p: _write(p, np.zeros(800, np.int16), 8000), "silent"),
    ("text.wav", lambda p: p.write_bytes(b"not a recording" * 20), "not a readable WAV file"),
    ("adpcm.wav", lambda p: p.write_bytes(b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                                          + bytes.fromhex("02000100401f0000401f00000100040000") [:16] + b"data" + bytes(4)),
     "encoding 0x0002 is not supported"),
])
def test_transcribe_refuses_bad_wav_files_in_one_line(ctc_run, tmp_path, capsys, name, make, message):
    make(tmp_path / name)
    code = cli.main(["transcribe", str(ctc_run.run_dir), str(tmp_path / name)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and name in err and len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_transcribe_refuses_a_missing_file_in_one_line(ctc_run, tmp_path, capsys):
    assert cli.main(["transcribe", str(ctc_run.run_dir), str(tmp_path / "nowhere.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere.wav: no such file or folder" in err and len(err.splitlines()) == 1, err


def test_transcribe_refuses_a_run_of_another_task(tmp_path, capsys, shared_data):
    run = layerlab.run({"data": {"name": "digits", "limit": 200}, "model": {"name": "mlp", "hidden": [16]},
                        "train": {"epochs": 1, "report": False}}, out=tmp_path / "digits")
    assert cli.main(["transcribe", str(run.run_dir), str(tmp_path)]) == 2
    assert "needs a speech_recognition run" in capsys.readouterr().err
    assert load_run(run.run_dir).task.name == "classification"


def test_the_report_plays_the_worst_utterances(ctc_run, tmp_path):
    import base64
    import html
    import re

    from layerlab.analyze.report import report
    from layerlab.data.audio import read_wav

    page = report(ctc_run.run_dir, device="cpu").read_text()
    worst = ctc_run.summary["report"]["worst"]
    players = re.findall(r'<figure><audio controls preload="none" src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"></audio>'
                         r"<figcaption>([^<]*)</figcaption></figure>", page)
    assert len(players) == len(worst) > 0 and "the recordings themselves" in page
    for (encoded, caption), row in zip(players, worst):
        caption = html.unescape(caption)
        assert caption.startswith(row["id"]) and f"“{row['reference']}”" in caption and f"“{row['hypothesis']}”" in caption
        (tmp_path / "w.wav").write_bytes(base64.b64decode(encoded))
        samples, rate = read_wav(tmp_path / "w.wav")
        # the utterance itself, cut after its last sound: its recordings, each at least 0.2 s, and pauses
        assert rate == 8000 and samples.shape[0] == 1 and 0.2 * row["words"] < samples.shape[1] / rate <= 3.0
        assert np.abs(samples).max() > 0.8
