"""Serving the runs whose answer is a decoding loop: a language model (``POST /generate``: a prompt
continued) and a translation model (``POST /translate``: sentences translated). Their loops sample or
search token by token in Python, so they run in PyTorch, not exported; one request at a time (the loop
of one request is already many forward passes), in a thread so that the server keeps answering.

Why requests are not gathered into batches here, as ``/predict``'s are (``batching``):
- /generate: each request has its own prompt length, token count, temperature, top-k and seed. The language
  models take a prompt unpadded (``x[:, -context:]``, no mask for left padding), so prompts of other lengths
  cannot share a forward without changing the model's inputs. And a forward at another batch shape rounds
  the logits differently in the last bits (see ``exact``); one sampled token that flips changes the rest of
  the text, so a batched answer would not be the answer alone.
- /translate: a request's sentences are already decoded together (``translate_ids``: one beam search over
  them, shortest first). Gathering requests would mix beam widths, change each batch's trimmed source width
  and the shapes of every decoder step. A beam search keeps hypotheses by comparing scores, so a change in
  the last bits can change a translation. That would break "the answer of each request is exactly what it
  would get alone", and the gain is small: one request is already many forward passes.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from layerlab.serve.metrics import Metrics
from layerlab.serve.predictor import InputError
from layerlab.serve.server import MAX_BODY_BYTES, describe, instrument

DECODED = ("language_model", "seq2seq")
MAX_TOKENS = 2000
MAX_SENTENCES = 64


class GenerateText(BaseModel):
    prompt: str = Field("", max_length=10_000, description="the text to continue (empty: from the start)")
    tokens: int = Field(200, ge=1, le=MAX_TOKENS, description="tokens to sample")
    temperature: float = Field(0.8, ge=0.0, le=10.0, description="0: always the likeliest token")
    top_k: int | None = Field(40, ge=1, description="sample among the k likeliest tokens (null: all)")
    seed: int = Field(0, description="the same seed, the same text")


class Translate(BaseModel):
    sentences: list[str] = Field(min_length=1, max_length=MAX_SENTENCES, description="sentences in the source language")
    beam: int | None = Field(None, ge=1, le=16, description="beam width (default: the run's task.beam_size)")


def create_sequence_app(loaded: Any, *, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The application of a language-model or translation run (a ``LoadedRun``)."""
    from layerlab import __version__

    task, pre = loaded.task, loaded.preprocessor
    summary = loaded.run.read_json(loaded.run.summary) if loaded.run.summary.exists() else {}
    spec = {"format": "torch", "exported": "not exported: the model's decoding loop runs in PyTorch",
            "recipe": loaded.recipe.name, "run": str(loaded.run.path), "task": task.name, "classes": None,
            "input": {"kind": "text", "shape": ["batch", pre.max_length], "dtype": "int64",
                      "endpoint": "/generate" if task.name == "language_model" else "/translate"},
            "output": {"kind": "text"}, "metrics": summary.get("test", {})}
    metrics, lock = Metrics(), threading.Lock()  # one decoding loop at a time; the model is shared
    app = FastAPI(title=f"LayerLab: {loaded.recipe.name}", version=__version__,
                  description=f"{task.name} run {loaded.run.path}: its decoding loop, served.")
    instrument(app, metrics, max_body_bytes=max_body_bytes)

    def only(name: str, endpoint: str) -> None:
        if task.name != name:
            raise InputError("body", f"this run is a {task.name} run; use {spec['input']['endpoint']}, not {endpoint}")

    @app.post("/generate", summary="a language model continues a prompt")
    async def generate(body: GenerateText) -> dict[str, Any]:
        only("language_model", "/generate")

        def work() -> dict[str, Any]:
            with lock:
                return task.generate(loaded.model, preprocessor=pre, device=loaded.device, prompt=body.prompt,
                                     tokens=body.tokens, temperature=body.temperature, top_k=body.top_k, seed=body.seed)

        return await asyncio.to_thread(work)

    @app.post("/translate", summary="a translation model translates sentences")
    async def translate(body: Translate) -> dict[str, Any]:
        only("seq2seq", "/translate")
        for i, sentence in enumerate(body.sentences):
            if not sentence.strip() or len(sentence) > 10_000:
                raise InputError(f"sentences[{i}]", "must be a non-empty sentence of at most 10,000 characters")
        return {"translations": await asyncio.to_thread(_translate, loaded, body, lock)}

    @app.post("/predict", summary="(not for this run: see /generate or /translate)")
    async def predict() -> None:
        only("-", "/predict")

    describe(app, spec, metrics, {"max_body_bytes": max_body_bytes, "max_tokens": MAX_TOKENS,
                                  "max_sentences": MAX_SENTENCES})
    return app


def _translate(loaded: Any, body: Translate, lock: threading.Lock) -> list[str]:
    """As ``layerlab translate`` does, with the run loaded once; the beam width is the request's."""
    task, pre = loaded.task, loaded.preprocessor
    with lock:
        saved = task.beam_size
        task.beam_size = body.beam if body.beam is not None else saved
        try:
            src = pre.encode_sources(list(body.sentences)).to(loaded.device)
            return task.translate_ids(loaded.model, src, max_length=pre.target_max_length + 1,
                                      batch_size=loaded.recipe.train.eval_batch_size)
        finally:
            task.beam_size = saved
