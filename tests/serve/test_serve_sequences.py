"""Language-model and translation runs: served through their decoding loops (``/generate``, ``/translate``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from layerlab.api import generate, run
from layerlab.runs import load_run
from layerlab.serve.launch import app_for
from layerlab.serve.sequences import create_sequence_app


async def _post_all(app, calls):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await asyncio.gather(*[client.post(path, json=body) for path, body in calls])


@pytest.fixture
def data_env(monkeypatch, shared_data_dir):
    monkeypatch.setenv("LAYERLAB_DATA", str(shared_data_dir))


def test_a_language_model_generates_as_layerlab_generate_does(tmp_path, data_env):
    overrides = ["data.limit=3000", "model.hidden=16", "model.layers=1", "train.epochs=1", "train.report=false",
                 "train.max_seconds=30", "data.max_length=32"]
    lm = run("shakespeare-rnn", overrides, out=tmp_path / "lm").run_dir
    app = app_for(lm)  # a run directory of a language model gets the sequence application
    options = {"prompt": "ROMEO:", "tokens": 40, "temperature": 0.8, "top_k": 10, "seed": 3}
    first, again, bad, wrong = asyncio.run(_post_all(app, [
        ("/generate", options), ("/generate", options), ("/generate", {"tokens": 0}),
        ("/translate", {"sentences": ["hallo"]})]))
    expected = generate(lm, device="cpu", **options)["text"]
    assert first.status_code == 200 and first.json()["text"] == again.json()["text"] == expected
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "tokens"
    assert wrong.status_code == 422 and "/generate" in wrong.json()["error"]["message"]
    meta = asyncio.run(_get(app, "/metadata")).json()
    assert meta["task"] == "language_model" and meta["input"]["endpoint"] == "/generate"


async def _get(app, path):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve") as client:
        return await client.get(path)


@pytest.mark.slow  # multi30k's tokenizers and a seq2seq run: minutes on two shared cores
def test_a_translation_run_translates_as_layerlab_translate_does(tmp_path, data_env):
    from layerlab.runs import translate

    mt = run("multi30k-gru-attention", ["data.limit=500", "train.epochs=1", "train.report=false",
                                        "train.max_seconds=20"], out=tmp_path / "mt").run_dir
    app = create_sequence_app(load_run(mt, device="cpu"))
    sentences = ["ein mann fährt fahrrad .", "zwei hunde spielen im schnee ."]
    good, greedy, empty, none, predict = asyncio.run(_post_all(app, [
        ("/translate", {"sentences": sentences}), ("/translate", {"sentences": sentences, "beam": 1}),
        ("/translate", {"sentences": ["ok", "  "]}), ("/translate", {"sentences": []}), ("/predict", {})]))
    assert good.json()["translations"] == [r["translation"] for r in translate(mt, sentences, device="cpu")]
    assert greedy.json()["translations"] == [r["translation"] for r in translate(mt, sentences, beam_size=1,
                                                                                  device="cpu")]
    assert (empty.status_code, empty.json()["error"]["field"]) == (422, "sentences[1]")
    assert (none.status_code, none.json()["error"]["field"]) == (422, "sentences")
    assert predict.status_code == 422 and "/translate" in predict.json()["error"]["message"]
