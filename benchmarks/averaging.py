"""Weight averaging (``train.ema``): the same recipe with and without it, seed by seed, side by side.

    .venv/bin/python benchmarks/averaging.py fashion-mlp --ema 0.999 --seeds 0 1 --set train.schedule=constant train.epochs=5

Each seed trains the recipe twice, once as it is and once with ``train.ema``; the table gives the best
validation accuracy (the epoch whose weights are kept) and the test accuracy of each. Both runs of a seed
share the split, the initialisation and the batch order, so the difference is the average's alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import layerlab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", help="a built-in recipe's name or a YAML file")
    parser.add_argument("--ema", type=float, default=0.999, help="train.ema of the averaged runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="recipe overrides for every run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-averaging"))
    args = parser.parse_args()
    started = time.perf_counter()
    rows = ["| seed | weights | epochs | train s | best val accuracy | test accuracy |", "| ---: | --- | ---: | ---: | ---: | ---: |"]
    means: dict[str, list[float]] = {"last": [], "average": []}
    for seed in args.seeds:
        for label, extra in (("last", []), ("average", [f"train.ema={args.ema}"])):
            overrides = [f"train.seed={seed}", f"train.threads={args.threads}", "train.report=false", *args.set, *extra]
            result = layerlab.run(args.recipe, overrides, out=args.runs / f"seed{seed}-{label}")
            s = result.summary
            best_val = max(r.get("val_accuracy", float("nan")) for r in result.history)
            means[label].append(s["test"]["accuracy"])
            rows.append(f"| {seed} | {label} | {s['epochs']} | {s['train_seconds']:.0f} | {best_val:.2%} | "
                        f"{s['test']['accuracy']:.2%} |".replace("%", " %"))
    for label, values in means.items():
        rows.append(f"| mean | {label} | | | | {sum(values) / len(values):.2%} |".replace("%", " %"))
    print("\n".join(rows))
    print(f"\n(total {time.perf_counter() - started:.0f} s; arguments {json.dumps({k: str(v) for k, v in vars(args).items()})})")


if __name__ == "__main__":
    main()
