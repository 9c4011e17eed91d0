"""Serving a speech recognition run (``layerlab run fsdd-ctc``): ``POST /transcribe`` takes WAV files
(multipart, or JSON ``{"audio": [base64, ...], "decoder": "beam"}``) and answers their transcripts, as
``layerlab transcribe`` gives them (``runs.transcription``), with the run loaded once.

Its model is not exported: the answer is a CTC decoding (a beam search in Python) of the acoustic model's
outputs. A request's files are transcribed together in one forward pass; requests are not gathered into
batches (the beam search of each utterance dominates the forward), and run one at a time in a thread, so that
the server keeps answering.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fastapi import FastAPI, Request

from layerlab.data.speech import read_utterance
from layerlab.runs.transcription import transcribe_waves
from layerlab.serve.metrics import Metrics
from layerlab.serve.predictor import InputError
from layerlab.serve.requests import base64_files, read_each
from layerlab.serve.server import MAX_BODY_BYTES, MAX_ITEMS, describe, instrument, read_body

DECODERS = ("beam", "greedy")
_TRANSCRIBE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "required": ["audio"], "properties": {
        "audio": {"type": "array", "items": {"type": "string", "description": "a base64-encoded WAV file"}},
        "decoder": {"type": "string", "enum": list(DECODERS), "description": "default: the run's task.decoder"}}}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
}}}


def create_transcription_app(loaded: Any, *, max_items: int = MAX_ITEMS,
                             max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The application of a speech recognition run (a ``LoadedRun``)."""
    from layerlab import __version__

    pre = loaded.preprocessor
    summary = loaded.run.read_json(loaded.run.summary) if loaded.run.summary.exists() else {}
    spec = {"format": "torch", "exported": "not exported: its CTC decoding runs in PyTorch and Python",
            "recipe": loaded.recipe.name, "run": str(loaded.run.path), "task": loaded.task.name, "classes": None,
            "input": {"kind": "audio", "shape": ["batch", pre.samples], "dtype": "float32", "endpoint": "/transcribe",
                      "sample_rate": pre.sample_rate, "seconds": pre.samples / pre.sample_rate},
            "output": {"kind": "text", "decoder": loaded.task.decoder}, "metrics": summary.get("test", {})}
    metrics, lock = Metrics(), threading.Lock()
    app = FastAPI(title=f"LayerLab: {loaded.recipe.name}", version=__version__,
                  description=f"speech recognition run {loaded.run.path}: WAV files to text.")
    instrument(app, metrics, max_body_bytes=max_body_bytes)

    @app.post("/transcribe", openapi_extra=_TRANSCRIBE_BODY, summary="the transcripts of WAV files")
    async def transcribe(request: Request) -> dict[str, Any]:
        kind, payload = await read_body(request, max_items=max_items, max_body_bytes=max_body_bytes)
        files, decoder = _files(kind, payload, max_items=max_items)

        def work() -> list[dict[str, Any]]:
            waves = read_each(files, lambda path: read_utterance(path, rate=pre.sample_rate, samples=pre.samples))
            with lock:
                texts = transcribe_waves(loaded, [wave for wave, _ in waves], decoder=decoder)
            return [{"text": text, "converted": notes} for text, (_, notes) in zip(texts, waves)]

        return {"transcripts": await asyncio.to_thread(work)}

    @app.post("/predict", summary="(not for this run: see /transcribe)")
    async def predict() -> None:
        raise InputError("body", "this run is a speech_recognition run; use /transcribe, not /predict")

    describe(app, spec, metrics, {"max_body_bytes": max_body_bytes, "max_items": max_items})
    return app


def _files(kind: str, payload: Any, *, max_items: int) -> tuple[list[tuple[str, str, bytes]], str | None]:
    """The request's WAV files as ``(field, filename, content)`` and the decoder it asks for (None: the run's)."""
    if kind == "files":
        files, decoder = payload, None
    else:
        if not isinstance(payload, dict) or not isinstance(payload.get("audio"), list) or not payload["audio"]:
            raise InputError("audio", 'needs a JSON object {"audio": [base64 WAV, ...]}, a non-empty list')
        unknown = sorted(set(payload) - {"audio", "decoder"})
        if unknown:
            raise InputError(unknown[0], "unknown key; the keys are audio and decoder")
        decoder = payload.get("decoder")
        if decoder is not None and decoder not in DECODERS:
            raise InputError("decoder", f"{decoder!r}; choose beam or greedy")
        if len(payload["audio"]) > max_items:
            raise InputError("audio", f"{len(payload['audio'])} items; at most {max_items} per request")
        files = base64_files("audio", payload["audio"])
    return files, decoder
