"""The HTTP server of a run: FastAPI, with dynamic micro-batching, run by uvicorn (``layerlab serve``).

    POST /predict    JSON or multipart files (see ``layerlab.serve.requests``) -> {"predictions": [...]}
    POST /generate   VAE and GAN runs: {"n": 4, "seed": 0} -> {"images": [base64 PNG, ...]}
    GET  /health     {"status": "ok"}
    GET  /metadata   task, classes, input and output spec, recipe, test metrics, serving limits
    GET  /metrics    Prometheus text: requests by status, latency and batch-size histograms
    GET  /docs       the OpenAPI page (FastAPI's)
    GET  /           a page to try the model by hand (``layerlab.serve.page``)

Every mistake in a request is a 4xx with ``{"error": {"field": ..., "message": ...}}``: 415 for a content
type other than JSON or multipart, 413 for a body over ``max_body_bytes``, 422 for an input that does not
fit (undecodable image or WAV, wrong shape, missing column, too many items, bad JSON).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from layerlab.errors import LayerLabError
from layerlab.serve.batching import MicroBatcher
from layerlab.serve.metrics import Metrics
from layerlab.serve.page import PAGE
from layerlab.serve.predictor import InputError, Predictor
from layerlab.serve.requests import JSON_KEYS, from_files, from_json

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 2**20
MAX_ITEMS = 256
MAX_GENERATED = 64

_PREDICT_BODY = {
    "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "description": "exactly one key of: " + ", ".join(JSON_KEYS),
                                        "properties": {k: {"type": "array"} for k in JSON_KEYS}}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
    }}
}


def create_app(predictor: Predictor, *, max_batch: int = 32, max_wait_ms: float = 2.0, max_items: int = MAX_ITEMS,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI application serving ``predictor``; ``max_batch=1`` serves each request alone."""
    from layerlab import __version__

    spec = predictor.spec
    metrics = Metrics()
    batcher = MicroBatcher(predictor.run, max_batch=max_batch, max_wait_ms=max_wait_ms, on_batch=metrics.batch)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await batcher.close()  # the worker starts with the first request (``MicroBatcher.submit``)

    app = FastAPI(title=f"LayerLab: {spec.get('recipe')}", version=__version__, lifespan=lifespan,
                  description=f"{spec.get('task')} with {spec.get('exported')} of the run {spec.get('run')}.")
    limits = {"max_batch": max_batch, "max_wait_ms": max_wait_ms, "max_items": max_items,
              "max_body_bytes": max_body_bytes}
    app.state.batcher, app.state.metrics = batcher, metrics
    instrument(app, metrics, max_body_bytes=max_body_bytes)

    @app.post("/predict", openapi_extra=_PREDICT_BODY, summary="predictions for the inputs of one request")
    async def predict(request: Request) -> dict[str, Any]:
        with batcher.arrival():
            x = await _inputs(request, predictor, max_items=max_items, max_body_bytes=max_body_bytes)
        outputs = await batcher.submit(x)
        return JSONResponse({"predictions": predictor.decode(outputs)})

    @app.post("/generate", summary="images from a VAE's decoder or a GAN's generator, as base64 PNGs")
    async def generate(body: GenerateRequest) -> dict[str, Any]:
        if predictor.input_kind != "noise":
            raise InputError("body", f"this run ({spec.get('task')}) does not generate; /generate serves VAE and GAN "
                             "runs (language models and translation are not served in this version)")
        z = np.random.default_rng(body.seed).standard_normal((body.n, *predictor.input_shape)).astype(np.float32)
        images = await batcher.submit(z)
        return {"images": [png_base64(image) for image in images], "shape": list(images.shape[1:]), "seed": body.seed}

    describe(app, spec, metrics, limits)
    return app


PATHS = {"/", "/predict", "/generate", "/translate", "/health", "/metadata", "/metrics", "/docs", "/openapi.json"}


def instrument(app: FastAPI, metrics: Metrics, *, max_body_bytes: int) -> None:
    """Count every request (path, status, time), refuse bodies over ``max_body_bytes`` by their
    Content-Length (413), and answer errors as JSON naming the field."""
    app.add_middleware(_Counting, metrics=metrics, max_body_bytes=max_body_bytes)
    _answer_errors(app)


class _Counting:
    """The counting and the 413 of ``instrument`` as a plain ASGI middleware: Starlette's
    ``@app.middleware("http")`` passes every response through a stream of its own, which on 2 cores cost
    the batched server a third of its requests/s (BENCHMARKS.md, serving)."""

    def __init__(self, app: Any, *, metrics: Metrics, max_body_bytes: int):
        self.app, self.metrics, self.max_body_bytes = app, metrics, max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500  # 500: an exception before any answer
        length = dict(scope.get("headers") or ()).get(b"content-length", b"")

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if length.isdigit() and int(length) > self.max_body_bytes:
                await error(413, "body", f"{int(length):,} bytes; at most {self.max_body_bytes:,} per request")(
                    scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        finally:
            path = scope["path"] if scope["path"] in PATHS else "other"  # a scanner's paths stay one series
            self.metrics.request(path, status, time.perf_counter() - started)


def describe(app: FastAPI, spec: dict[str, Any], metrics: Metrics, limits: dict[str, Any]) -> None:
    """The routes that tell about the server: the page, health, metadata, metrics."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/health", summary="whether the server answers")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "recipe": spec.get("recipe")}

    @app.get("/metadata", summary="the model: task, classes, input and output spec, recipe, test metrics")
    async def metadata() -> dict[str, Any]:
        inputs = {k: v for k, v in spec["input"].items() if k != "preprocessor"}  # a tokenizer is large
        return {**{k: v for k, v in spec.items() if k != "input"}, "input": inputs, "serving": limits}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")


def _answer_errors(app: FastAPI) -> None:
    """Mistakes in a request as JSON naming the field; anything else (a bug) as a 500 without a traceback."""

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return error(getattr(exc, "status", 422), exc.field, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
        return error(422, field, str(first.get("msg", "invalid request")))

    @app.exception_handler(LayerLabError)
    async def layerlab_error(request: Request, exc: LayerLabError) -> JSONResponse:
        return error(422, "inputs", str(exc))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return error(500, None, f"internal error ({type(exc).__name__}); the server goes on answering")


async def _inputs(request: Request, predictor: Predictor, *, max_items: int, max_body_bytes: int) -> Any:
    kind, payload = await read_body(request, max_items=max_items, max_body_bytes=max_body_bytes)
    if kind == "json":  # inline: json.loads of the same body has already run on the loop
        return from_json(predictor, payload, max_items=max_items)
    return await asyncio.to_thread(from_files, predictor, payload, max_items=max_items)


async def read_body(request: Request, *, max_items: int, max_body_bytes: int) -> tuple[str, Any]:
    """``("json", value)`` for a JSON body, ``("files", [(field, filename, content), ...])`` for a multipart
    one; a 415 for another content type, a 413 for a body over ``max_body_bytes``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/json", "multipart/form-data"):
        raise _Status(415, "content-type", f"{kind or 'none'}; send application/json or multipart/form-data")
    body = await request.body()  # a body sent without Content-Length is measured once read
    if len(body) > max_body_bytes:
        raise _Status(413, "body", f"{len(body):,} bytes; at most {max_body_bytes:,} per request")
    if kind == "application/json":
        try:
            return "json", json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError("body", f"not valid JSON ({exc})") from None
    try:
        form = await request.form(max_files=max_items, max_fields=max_items)
    except Exception as exc:  # starlette's MultiPartException, or an HTTPException it raises for limits
        raise InputError("files", f"not a readable multipart form ({getattr(exc, 'detail', exc)})") from None
    files = [(value.filename or "", await value.read()) for _, value in form.multi_items()
             if isinstance(value, UploadFile)]
    if not files:
        raise InputError("files", "no files in the form; send images, WAV, CSV or text files")
    return "files", [(f"files[{i}]", name, content) for i, (name, content) in enumerate(files)]


class GenerateRequest(BaseModel):
    n: int = Field(4, ge=1, le=MAX_GENERATED, description="images to generate")
    seed: int = Field(0, description="the noise's seed: the same seed, the same images")


def png_base64(image: np.ndarray) -> str:
    """An image (C, H, W) in [0, 1] as a base64-encoded PNG."""
    from PIL import Image

    pixels = (np.clip(image, 0.0, 1.0) * 255).round().astype(np.uint8)
    picture = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class _Status(InputError):
    """An input error answered with its own HTTP status (415, 413) instead of 422."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(field, message)
        self.status = status


def error(status: int, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "message": message}}, status_code=status)
