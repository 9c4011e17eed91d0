"""``POST /transcribe`` of a speech recognition run (a small fsdd-ctc): WAV files as multipart or base64 JSON
get the transcripts ``layerlab transcribe`` gives, and bad WAV files or keys a 4xx naming the field."""

from __future__ import annotations

import asyncio
import base64
import io
import wave

import httpx
import numpy as np
import pytest

import layerlab
from layerlab.serve.launch import app_for
from tests.speech.test_speech_recognition import OVERRIDES, WORDS

RECORDINGS = ("3_jackson_0", "1_jackson_1", "4_jackson_2")


@pytest.fixture(scope="module")
def ctc_run(tmp_path_factory, shared_data_dir):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LAYERLAB_DATA", str(shared_data_dir))
        env.setenv("LAYERLAB_OFFLINE", "1")
        env.setenv("LAYERLAB_CACHE", str(tmp_path_factory.mktemp("cache")))
        return layerlab.run("fsdd-ctc", OVERRIDES, out=tmp_path_factory.mktemp("runs") / "ctc").run_dir


def wav_bytes(samples: np.ndarray, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


def utterances(shared_data_dir) -> list[bytes]:
    """'three one four' joined from three recordings, and the 'one' alone."""
    pause = np.zeros(800, dtype=np.int16)
    parts = []
    for name in RECORDINGS:
        with wave.open(str(shared_data_dir / "fsdd" / "recordings" / f"{name}.wav")) as handle:
            parts.append(np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2"))
    return [wav_bytes(np.concatenate([pause, parts[0], pause, parts[1], pause, parts[2], pause])), wav_bytes(parts[1])]


async def _post_all(app, path, bodies):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await asyncio.gather(*[client.post(path, **body) for body in bodies])


def test_transcribe_answers_as_the_transcribe_command_and_names_bad_fields(ctc_run, shared_data_dir, tmp_path):
    files = utterances(shared_data_dir)
    for i, content in enumerate(files):
        (tmp_path / f"u{i}.wav").write_bytes(content)
    paths = [tmp_path / "u0.wav", tmp_path / "u1.wav"]
    beam = [r["text"] for r in layerlab.api.transcribe(ctc_run, paths, device="cpu")]
    greedy = [r["text"] for r in layerlab.api.transcribe(ctc_run, paths, device="cpu", decoder="greedy")]
    assert beam[0] and set(beam[0].split()) <= set(WORDS)  # the small model says digits
    app = app_for(ctc_run)
    encoded = [base64.b64encode(f).decode() for f in files]
    good = {"files": [("files", (f"u{i}.wav", f, "audio/wav")) for i, f in enumerate(files)]}
    answers = asyncio.run(_post_all(app, "/transcribe", [
        good, {"json": {"audio": encoded, "decoder": "greedy"}},
        {"files": [("files", ("u0.wav", files[0], "audio/wav")), ("files", ("cut.wav", files[0][:30], "audio/wav"))]},
        {"files": {"files": ("silent.wav", wav_bytes(np.zeros(800)), "audio/wav")}},
        {"json": {"audio": ["not base64!"]}}, {"json": {"audio": encoded, "decoder": "viterbi"}},
        {"json": {"audio": encoded, "beam": 3}}, {"json": {"sentences": ["one"]}},
        {"content": b"RIFF", "headers": {"content-type": "audio/wav"}}, good,
    ]))
    assert [t["text"] for t in answers[0].json()["transcripts"]] == beam
    assert [t["text"] for t in answers[1].json()["transcripts"]] == greedy
    assert answers[0].json()["transcripts"][0]["converted"] == []
    expected = [(422, "files[1]", "cut.wav"), (422, "files[0]", "silent"), (422, "audio[0]", "base64"),
                (422, "decoder", "viterbi"), (422, "beam", "unknown key"), (422, "audio", "non-empty list"),
                (415, "content-type", "audio/wav")]
    for response, (status, field, words) in zip(answers[2:-1], expected):
        error = response.json()["error"]
        assert (response.status_code, error["field"]) == (status, field) and words in error["message"], error
    assert [t["text"] for t in answers[-1].json()["transcripts"]] == beam  # still answering, and the same


def test_the_transcription_server_describes_itself(ctc_run):
    app = app_for(ctc_run)

    async def get_all():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
            return [await client.get(p) for p in ("/metadata", "/openapi.json", "/")] + [await client.post(
                "/predict", json={"inputs": [[0.0]]})]

    meta, schema, page, predict = asyncio.run(get_all())
    assert meta.json()["task"] == "speech_recognition" and meta.json()["input"]["endpoint"] == "/transcribe"
    assert meta.json()["input"]["sample_rate"] == 8000 and "wer" in meta.json()["metrics"]
    assert "/transcribe" in schema.json()["paths"] and "/transcribe" in page.text
    assert predict.status_code == 422 and "/transcribe" in predict.json()["error"]["message"]
