"""Data-parallel communication overhead (issue 29): examples/s of one process against torchrun's ranks.

    python benchmarks/ddp_overhead.py                 # CPU: 1 process x 2 threads against 2 processes x 1 thread
    python benchmarks/ddp_overhead.py --gpu           # one GPU: no process group against NCCL at world size 1
    python benchmarks/ddp_overhead.py --nproc 4 --gpu # several GPUs: 1 GPU against 4 (the scaling figure)

Each line trains a built-in recipe (default fashion-cnn and shakespeare-transformer) for ``--epochs``
epochs on ``--limit`` examples through the CLI, exactly as a user would (``layerlab run`` and ``layerlab
run --nproc N``), and reads examples/s of the last epoch from history.csv (rank 0's, of the global
batch; the first epoch is warm-up). On 2 CPU cores 2 ranks x 1 thread use the cores a single 2-thread
process uses, so the ratio is the cost of the ranks' all-reduces and duplicated work (validation on each
rank), not a speed-up. Needs a quiet machine: nothing else running.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RECIPES = ("fashion-cnn", "shakespeare-transformer")


def examples_per_second(recipe: str, out: Path, overrides: list[str], nproc: int | None) -> float:
    """Train ``recipe`` once (``--nproc`` when given) and return the last epoch's examples/s."""
    command = [sys.executable, "-m", "layerlab", "run", recipe, *overrides, f"--out={out}", "-q"]
    if nproc is not None:
        command.append(f"--nproc={nproc}")
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")})
    with open(out / "history.csv", newline="") as f:
        return float(list(csv.DictReader(f))[-1]["examples_per_second"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000, help="data.limit: examples loaded (then split)")
    parser.add_argument("--gpu", action="store_true", help="train on cuda (default: cpu)")
    parser.add_argument("--nproc", type=int, default=None, help="ranks to compare against (default: 2 on the CPU, 1 on a GPU)")
    args = parser.parse_args()
    nproc = args.nproc or (1 if args.gpu else 2)
    root = Path(tempfile.mkdtemp(prefix="ddp-overhead-"))
    common = [f"train.epochs={args.epochs}", f"data.limit={args.limit}", "train.report=false",
              "train.diagnostics_every=0", "track.index=false", f"train.device={'cuda' if args.gpu else 'cpu'}"]
    single = ["train.threads=2"] if not args.gpu else []
    ranks = [f"train.threads={max(1, 2 // nproc)}"] if not args.gpu else []
    print(f"| recipe | 1 process{' x 2 threads' if not args.gpu else ''} (ex/s) | "
          f"{nproc} process(es) through torchrun (ex/s) | ratio |")
    print("|---|---|---|---|")
    for recipe in args.recipes:
        one = examples_per_second(recipe, root / f"{recipe}-1", [*common, *single], None)
        many = examples_per_second(recipe, root / f"{recipe}-{nproc}", [*common, *ranks], nproc)
        print(f"| {recipe} | {one:,.0f} | {many:,.0f} | {many / one:.2f} |", flush=True)


if __name__ == "__main__":
    main()
