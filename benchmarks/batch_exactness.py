"""Does an example's answer depend on the batch it is computed in? For each run: the groups of batch sizes
at which the PyTorch graph gives identical bits (``serve.exact.SIZES``), the largest difference between an
example alone and in batches of 3 to 100 with the plain runner, and the same with the server's padded runner
(``serve.exact``: it must be 0). Also ONNX Runtime's plain runner. An accuracy check, not a timing.

    python benchmarks/batch_exactness.py --runs runs/fashion-cnn-1 runs/polarity-cnn-1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from layerlab.runs import load_run
from layerlab.serve.exact import SIZES, Padded
from layerlab.serve.predictor import Predictor

BATCHES = (3, 7, 13, 32, 50, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--examples", type=int, default=100, help="test examples compared")
    args = parser.parse_args()
    print(f"threads {torch.get_num_threads()}; torch {torch.__version__}\n")
    print("| run | runtime | groups of batch sizes with identical bits | ladder | max diff plain | max diff served |")
    print("|---|---|---|---|---:|---:|")
    for run_dir in args.runs:
        x = load_run(run_dir, device="cpu").split("test").x[: args.examples].numpy()
        for runtime in ("torch", "onnx"):
            predictor = Predictor.from_run(run_dir, runtime=runtime)
            served = predictor.runner
            plain = served.runner if isinstance(served, Padded) else served
            ladder = served.sizes if isinstance(served, Padded) else "-"
            print(f"| {run_dir} | {runtime} | {_groups(plain, x[:SIZES[-1]])} | {ladder} | "
                  f"{_worst(plain, x):.3g} | {_worst(served, x):.3g} |", flush=True)


def _outputs(runner, x: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([np.asarray(runner(np.ascontiguousarray(x[i : i + size]))) for i in range(0, len(x), size)])


def _groups(runner, x: np.ndarray) -> str:
    groups: list[tuple[np.ndarray, list[int]]] = []
    for size in SIZES:
        out = _outputs(runner, x, size)
        same = next((g for g in groups if np.array_equal(g[0], out)), None)
        if same is None:
            groups.append((out, [size]))
        else:
            same[1].append(size)
    return " / ".join(",".join(map(str, sizes)) for _, sizes in groups)


def _worst(runner, x: np.ndarray) -> float:
    alone = _outputs(runner, x, 1)
    return max(float(np.abs(_outputs(runner, x, size) - alone).max()) for size in BATCHES)


if __name__ == "__main__":
    main()
