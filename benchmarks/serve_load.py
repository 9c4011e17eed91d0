"""A bounded loopback load test of ``layerlab serve`` (an asyncio + httpx client; it stops by itself).

For each run, four servers on 127.0.0.1, each in its own process, one after the other:
    batched     layerlab serve RUN --max-batch 64 --max-wait-ms 2        (micro-batching on)
    unbatched   layerlab serve RUN --max-batch 1                          (micro-batching off)
    baseline    a plain FastAPI endpoint calling the PyTorch model once per request (what a user would write)
    floor       the same plain FastAPI server answering without computing (the HTTP floor)
and for each, concurrency 1, 16 and 64: requests/s, p50 and p99 latency, errors, and wrong answers (a
label other than the one the run's model gives the same input alone).

    python benchmarks/serve_load.py --recipes fashion-cnn fashion-resnet18
    python benchmarks/serve_load.py --runs runs/fashion-cnn-1 --requests 3000
    python benchmarks/serve_load.py --recipes digits-cnn --requests 100 --concurrency 1 8 --set data.limit=500  # quick

Without --runs each recipe is trained briefly first. The server process of this script (``--plain``) is
started by the script itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUICK = ["train.epochs=1", "data.limit=2000", "train.report=false", "train.max_seconds=60"]
SERVERS = ("batched", "unbatched", "baseline", "floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=None, help="default fashion-cnn fashion-resnet18")
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--servers", nargs="*", default=list(SERVERS), choices=SERVERS)
    parser.add_argument("--concurrency", nargs="*", type=int, default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=2000, help="requests per (server, concurrency)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--plain", choices=("baseline", "floor"), help=argparse.SUPPRESS)  # the server process
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        return _plain_server(args.run, args.plain, args.port)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        runs = [Path(r) for r in args.runs]
        if args.recipes is not None or not runs:
            from layerlab.api import run

            for name in args.recipes if args.recipes is not None else ["fashion-cnn", "fashion-resnet18"]:
                runs.append(run(name, [*QUICK, *args.set], out=Path(tmp) / name).run_dir)
        print(f"{'run':22} {'server':10} {'conc':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'wrong':>6}")
        for run_dir in runs:
            inputs, labels = _examples(run_dir)
            for server in args.servers:
                with _started(server, run_dir, args.port):
                    for concurrency in args.concurrency:
                        row = asyncio.run(_load(args.port, inputs, labels if server != "floor" else None,
                                                concurrency, args.requests))
                        print(f"{run_dir.name:22} {server:10} {concurrency:>5} {row}", flush=True)


def _examples(run_dir: Path, n: int = 256) -> tuple[list[dict], list[str]]:
    """Request bodies of test inputs, and the label the run's model gives each alone."""
    from layerlab.serve._runs import load

    from layerlab.serve.graph import exportable
    from layerlab.serve.predictor import Predictor
    from layerlab.serve.rawdata import test_examples

    predictor = Predictor.from_run(run_dir)
    loaded = load(run_dir)
    x = test_examples(loaded, exportable(loaded), limit=n).graph.numpy()
    labels = [predictor(x[i])[0].get("label") for i in range(len(x))]
    return [{"inputs": [x[i].tolist()]} for i in range(len(x))], labels


class _started:
    """A server process on 127.0.0.1:port for the ``with`` block, stopped (by its own pid) after it."""

    def __init__(self, server: str, run_dir: Path, port: int):
        if server in ("batched", "unbatched"):
            batch = "64" if server == "batched" else "1"
            command = [sys.executable, "-m", "layerlab", "serve", str(run_dir), "--port", str(port),
                       "--max-batch", batch, "--max-wait-ms", "2"]
        else:
            command = [sys.executable, __file__, "--plain", server, "--run", str(run_dir), "--port", str(port)]
        self.command, self.port = command, port

    def __enter__(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, env=dict(os.environ))
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server stopped: {' '.join(self.command)}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.5)
        raise SystemExit(f"the server did not answer within 300 s: {' '.join(self.command)}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def _load(port: int, inputs: list[dict], labels: list[str] | None, concurrency: int, total: int) -> str:
    """``total`` requests from ``concurrency`` clients; a row of the table. ``labels``: the right answers
    (None: the floor, which answers without computing)."""
    import httpx

    latencies: list[float] = []
    errors = wrong = 0
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal next_index, errors, wrong
            while next_index < total:
                i = next_index % len(inputs)
                next_index += 1
                start = time.perf_counter()
                try:
                    response = await client.post("/predict", json=inputs[i])
                    latencies.append(time.perf_counter() - start)
                    if response.status_code != 200:
                        errors += 1
                    elif labels is not None and response.json()["predictions"][0].get("label") != labels[i]:
                        wrong += 1
                except httpx.HTTPError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - started
    p50 = statistics.median(latencies) * 1e3 if latencies else float("nan")
    p99 = float(np.quantile(latencies, 0.99)) * 1e3 if latencies else float("nan")
    return f"{total / seconds:>9.1f} {p50:>8.2f} {p99:>8.2f} {errors:>7} {wrong:>6}"


def _plain_server(run_dir: str, kind: str, port: int) -> None:
    """The baseline (the model once per request, in a plain ``def`` endpoint taking the JSON body) or the
    floor (the same endpoint, no model): what a user writes by hand."""
    import torch
    import uvicorn
    from fastapi import FastAPI

    from layerlab.serve.predictor import Predictor

    predictor = Predictor.from_run(run_dir)  # its graph: the model with the standardisation built in
    module = predictor.runner
    names = predictor.classes or []
    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/predict")
    def predict(body: dict) -> dict:  # a plain ``def``: FastAPI runs it in its thread pool, one request each
        if kind == "floor":
            return {"predictions": [{"label": "-"}]}
        x = np.asarray(body["inputs"], dtype=np.float32)
        with torch.inference_mode():
            out = module(x)
        return {"predictions": [{"label": names[int(out[0].argmax())] if names else "-"}]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
