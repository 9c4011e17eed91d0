"""Which application serves a path, and serving it: a run directory or an exported file.

Above the applications (``server`` for ``/predict``, ``sequences`` for ``/generate`` and ``/translate``,
``transcribing`` for ``/transcribe``), so that none imports another.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from layerlab.serve.predictor import Predictor
from layerlab.serve.server import create_app


def app_for(path: str | Path, *, runtime: str = "torch", max_batch: int = 32, max_wait_ms: float = 2.0,
            precision: str = "fp32") -> FastAPI:
    """The application for a run directory or an exported file (with its JSON spec beside it): language
    models and translation runs get ``/generate`` and ``/translate`` (``layerlab.serve.sequences``), speech
    recognition runs ``/transcribe`` (``layerlab.serve.transcribing``), every other run ``/predict`` on its graph
    (PyTorch's forward at ``precision``: fp32, bf16 or auto; ``Predictor.from_run``)."""
    path = Path(path)
    if path.is_dir():
        from layerlab.runs import load_run
        from layerlab.serve.sequences import DECODED, create_sequence_app

        loaded = load_run(path, device="cpu")
        if loaded.task.name in DECODED:
            return create_sequence_app(loaded)
        if loaded.task.name == "speech_recognition":
            from layerlab.serve.transcribing import create_transcription_app

            return create_transcription_app(loaded)
        if runtime == "torch":
            predictor = Predictor.from_loaded(loaded, precision=precision)
        else:
            predictor = Predictor.from_run(path, runtime=runtime, precision=precision)
    else:
        predictor = Predictor.from_export(path)
    return create_app(predictor, max_batch=max_batch, max_wait_ms=max_wait_ms)


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
