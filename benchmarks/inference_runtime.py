"""Inference on the CPU: ONNX Runtime against eager PyTorch (inference mode), batch-1 latency and batch-256
throughput, on the same graph (the run's model with its standardisation built in) and the same threads.

    python benchmarks/inference_runtime.py                    # fashion-cnn, fsdd-cnn, polarity-cnn, a gpt forward
    python benchmarks/inference_runtime.py --runs runs/fashion-cnn-1 --threads 1
    python benchmarks/inference_runtime.py --recipes digits-cnn --calls 50 --set data.limit=500    # a quick try

Without --runs each recipe is trained briefly first (speed does not depend on what the weights learned).
The gpt forward is shakespeare-transformer's model on a window of token ids (the step function a runtime
would call while generating), exported as it is: ``layerlab export`` refuses language models.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from layerlab.runs import load_run
from layerlab.serve import formats
from layerlab.serve.graph import Servable, exportable

QUICK = ["train.epochs=1", "data.limit=2000", "train.report=false", "train.max_seconds=60"]
DEFAULT = ["fashion-cnn", "fsdd-cnn", "polarity-cnn", "shakespeare-transformer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=None, help=f"default {' '.join(DEFAULT)}")
    parser.add_argument("--runs", nargs="*", default=[])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--calls", type=int, default=300, help="batch-1 calls timed (after 20 to warm up)")
    parser.add_argument("--rounds", type=int, default=5, help="batch-256 passes timed (after 2 to warm up)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads {args.threads}; torch {torch.__version__}\n")
    print("| model | runtime | batch-1 p50 ms | batch-1 p90 ms | batch-256 examples/s |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="inference-runtime-") as tmp:
        runs = [Path(r) for r in args.runs]
        if args.recipes is not None or not runs:
            from layerlab.api import run

            for name in args.recipes if args.recipes is not None else DEFAULT:
                runs.append(run(name, [*QUICK, *args.set], out=Path(tmp) / name).run_dir)
        for run_dir in runs:
            _compare(run_dir, Path(tmp), args)


def _compare(run_dir: Path, tmp: Path, args: argparse.Namespace) -> None:
    loaded = load_run(run_dir, device="cpu")
    if loaded.task.name == "language_model":  # the step function: ids (B, T) -> logits (B, T, vocab)
        module, shape = Servable(loaded.model.eval(), None, None).eval(), (loaded.preprocessor.max_length,)
        make = lambda n: np.random.default_rng(0).integers(1, loaded.info.num_classes, (n, *shape))  # noqa: E731
    else:
        graph = exportable(loaded)
        module, shape = graph.module, graph.input_shape
        dtype = np.int64 if graph.input_dtype == "int64" else np.float32
        high = 50 if dtype == np.int64 else 1
        make = lambda n: np.random.default_rng(0).uniform(0, high, (n, *shape)).astype(dtype)  # noqa: E731
    path = tmp / f"{loaded.recipe.name}.onnx"
    formats.write(module, "onnx", path, torch.from_numpy(make(2)))
    session = formats.open_file(path, "onnx", threads=args.threads)

    def eager(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x)).numpy()

    for name, fn in (("eager", eager), ("onnx", session)):
        one, big = make(1), make(256)
        latencies = _times(fn, one, warm=20, n=args.calls)
        passes = _times(fn, big, warm=2, n=args.rounds)
        p90 = statistics.quantiles(latencies, n=10)[-1] if len(latencies) >= 10 else max(latencies)
        print(f"| {loaded.recipe.name} | {name} | {statistics.median(latencies) * 1e3:.3f} | {p90 * 1e3:.3f} | "
              f"{256 / statistics.median(passes):.0f} |", flush=True)


def _times(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, warm: int, n: int) -> list[float]:
    for _ in range(warm):
        fn(x)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - start)
    return out


if __name__ == "__main__":
    main()
