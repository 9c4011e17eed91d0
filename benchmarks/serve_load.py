"""A bounded loopback load test of ``layerlab serve`` (an asyncio + aiohttp client; it stops by itself).

For each run, four servers on 127.0.0.1 (a fifth, ``onnx``, where ``--servers`` names it), each in its own
process, one after the other:
    batched     layerlab serve RUN --max-batch 64 --max-wait-ms 2        (micro-batching on)
    onnx        the same with --runtime onnx                              (ONNX Runtime; not by default)
    bf16        the batched server with --precision bf16                  (bf16 autocast; not by default)
    unbatched   layerlab serve RUN --max-batch 1                          (micro-batching off)
    baseline    a plain FastAPI endpoint calling the PyTorch model once per request (what a user would write)
    floor       the same plain FastAPI server answering without computing (the HTTP floor)
and for each, concurrency 1, 16 and 64: requests/s, p50 and p99 latency, errors, and wrong answers (a
label other than the one the run's model gives the same input alone, at the server's precision).

    python benchmarks/serve_load.py --recipes fashion-cnn fashion-resnet18
    python benchmarks/serve_load.py --runs runs/fashion-cnn-1 --requests 3000
    python benchmarks/serve_load.py --recipes digits-cnn --requests 100 --concurrency 1 8 --set data.limit=500  # quick

Without --runs each recipe is trained briefly first. The server process of this script (``--plain``) is
started by the script itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUICK = ["train.epochs=1", "data.limit=2000", "train.report=false", "train.max_seconds=60"]
SERVERS = ("batched", "unbatched", "baseline", "floor", "onnx", "bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=None, help="default fashion-cnn fashion-resnet18")
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--servers", nargs="*", default=list(SERVERS[:4]), choices=SERVERS)
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
        print("| run | server | concurrency | requests/s | p50 ms | p99 ms | errors | wrong |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        results: dict[tuple[str, str, int], dict[str, float]] = {}
        for run_dir in runs:
            inputs, labels = _examples(run_dir)
            bf16_labels = _examples(run_dir, precision="bf16")[1] if "bf16" in args.servers else None
            for server in args.servers:
                right = None if server == "floor" else bf16_labels if server == "bf16" else labels
                with _started(server, run_dir, args.port):
                    for concurrency in args.concurrency:
                        row = asyncio.run(_load(args.port, inputs, right,
                                                concurrency, args.requests))
                        results[run_dir.name, server, concurrency] = row
                        print(f"| {run_dir.name} | {server} | {concurrency} | {row['rps']:.1f} | {row['p50']:.2f} | "
                              f"{row['p99']:.2f} | {row['errors']} | {row['wrong']} |", flush=True)
        _targets(results, max(args.concurrency))


def _targets(results: dict[tuple[str, str, int], dict[str, float]], concurrency: int) -> None:
    """The issue's targets at the highest concurrency: micro-batching against the baseline (>= 3x requests/s,
    p99 no worse) and against the HTTP floor (within 1.3x), and errors or wrong answers anywhere."""
    print()
    for name in sorted({key[0] for key in results}):
        batched, baseline, floor = (results.get((name, s, concurrency)) for s in ("batched", "baseline", "floor"))
        for other in ("onnx", "bf16"):
            row = results.get((name, other, concurrency))
            if row and baseline:
                print(f"- {name}, concurrency {concurrency}: {other}/baseline {row['rps'] / baseline['rps']:.2f}x "
                      f"requests/s, p99 {row['p99']:.1f} ms")
        if batched and baseline:
            print(f"- {name}, concurrency {concurrency}: batched/baseline {batched['rps'] / baseline['rps']:.2f}x "
                  f"requests/s (target >= 3x), p99 {batched['p99']:.1f} ms against {baseline['p99']:.1f} ms "
                  "(target: no worse)")
        if batched and floor:
            print(f"- {name}, concurrency {concurrency}: floor/batched {floor['rps'] / batched['rps']:.2f}x "
                  "requests/s (target <= 1.3x)")
    bad = sum(row["errors"] + row["wrong"] for row in results.values())
    print(f"- errors and wrong answers over all {len(results)} rows: {bad} (target 0)")


def _examples(run_dir: Path, n: int = 256, precision: str = "fp32") -> tuple[list[dict], list[str]]:
    """Request bodies of test inputs, and the label the run's model gives each alone at ``precision``."""
    from layerlab.runs import load_run
    from layerlab.serve.graph import exportable
    from layerlab.serve.predictor import Predictor
    from layerlab.serve.rawdata import test_examples

    predictor = Predictor.from_run(run_dir, precision=precision)
    loaded = load_run(run_dir, device="cpu")
    x = test_examples(loaded, exportable(loaded), limit=n).graph.numpy()
    labels = [predictor(x[i])[0].get("label") for i in range(len(x))]
    return [{"inputs": [x[i].tolist()]} for i in range(len(x))], labels


class _started:
    """A server process on 127.0.0.1:port for the ``with`` block, stopped (by its own pid) after it."""

    def __init__(self, server: str, run_dir: Path, port: int):
        if server in ("batched", "unbatched", "onnx", "bf16"):
            batch = "1" if server == "unbatched" else "64"
            command = [sys.executable, "-m", "layerlab", "serve", str(run_dir), "--port", str(port),
                       "--max-batch", batch, "--max-wait-ms", "2", "--runtime", "onnx" if server == "onnx" else "torch",
                       "--precision", "bf16" if server == "bf16" else "fp32"]
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


async def _load(port: int, inputs: list[dict], labels: list[str] | None, concurrency: int,
                total: int) -> dict[str, float]:
    """``total`` requests from ``concurrency`` clients: requests/s, p50 and p99 ms, errors, wrong answers. ``labels``: the right answers
    (None: the floor, which answers without computing). The client is aiohttp with the bodies encoded once
    beforehand: on 2 cores the client shares the CPU with the server, and httpx's client alone held the HTTP
    floor to 136-168 requests/s at concurrency 64 (BENCHMARKS.md, history), which measured the client."""
    import aiohttp

    latencies: list[float] = []
    errors = wrong = 0
    next_index = 0
    bodies = [json.dumps(body).encode() for body in inputs]
    headers = {"content-type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as client:

        async def worker() -> None:
            nonlocal next_index, errors, wrong
            while next_index < total:
                i = next_index % len(inputs)
                next_index += 1
                start = time.perf_counter()
                try:
                    async with client.post("/predict", data=bodies[i], headers=headers) as response:
                        payload = await response.read()
                    latencies.append(time.perf_counter() - start)
                    if response.status != 200:
                        errors += 1
                    elif labels is not None and json.loads(payload)["predictions"][0].get("label") != labels[i]:
                        wrong += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        seconds = time.perf_counter() - started
    p50 = statistics.median(latencies) * 1e3 if latencies else float("nan")
    p99 = float(np.quantile(latencies, 0.99)) * 1e3 if latencies else float("nan")
    return {"rps": total / seconds, "p50": p50, "p99": p99, "errors": errors, "wrong": wrong}


def _plain_server(run_dir: str, kind: str, port: int) -> None:
    """The baseline (the model once per request, in a plain ``def`` endpoint taking the JSON body) or the
    floor (the same endpoint, no model): what a user writes by hand."""
    import torch
    import uvicorn
    from fastapi import FastAPI

    from layerlab.runs import load_run
    from layerlab.serve.graph import exportable

    loaded = load_run(run_dir, device="cpu")
    module = exportable(loaded).module  # the model with the standardisation built in, called as it is
    names = loaded.info.class_names or []
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
            out = module(torch.from_numpy(x))
        return {"predictions": [{"label": names[int(out[0].argmax())] if names else "-"}]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
