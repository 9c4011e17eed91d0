"""What choosing the best epoch on labelled validation images adds: each run's test accuracy with the
weights it kept (the best validation epoch's) beside the test accuracy of its last weights.

    python benchmarks/last_weights.py RUN_DIR [RUN_DIR ...] [--json FILE]

A semi-supervised run with ``data.labels_per_class: 40`` still validates on the split's 10 % (6,000
labelled Fashion-MNIST images), which a user with 400 labels would not have. Its last weights need no
validation labels at all, so the gap between the two test figures is what the labelled validation set
bought through model selection. The last weights are the checkpoint's (``checkpoints/last.ckpt``): the
moving average's where the run kept one (``train.ema``), as the run itself validated and tested them.
Each is tested by ``layerlab.evaluate`` on a copy of the run directory holding those weights. Runs without
a summary or a last checkpoint (unfinished ones) are skipped, with a line saying so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import layerlab
from layerlab.train.checkpoint import save_weights
from layerlab.train.state_io import load_state


def compare(run: Path, scratch: Path) -> dict:
    checkpoint = load_state(run / "checkpoints" / "last.ckpt")
    weights = checkpoint.get("average") or checkpoint["model"]
    copy = scratch / run.name
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("checkpoints"))
    save_weights(copy / "model.safetensors", dict(weights))
    last = layerlab.evaluate(copy)["metrics"]["accuracy"]
    summary = json.loads((run / "summary.json").read_text())
    history = checkpoint["trainer"]["history"]
    val = [row["val_accuracy"] for row in history]
    return {"run": str(run), "epochs": len(history), "best_epoch": summary.get("best_epoch"),
            "test_best_epoch": summary["test"]["accuracy"], "test_last": last,
            "val_best": max(val), "val_last": val[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, help="also append one JSON object a run here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for run in args.runs:
            if not (run / "summary.json").exists() or not (run / "checkpoints" / "last.ckpt").exists():
                print(f"{run}: skipped (no summary.json or checkpoints/last.ckpt: not a finished run)", file=sys.stderr)
                continue
            if "accuracy" not in json.loads((run / "summary.json").read_text()).get("test", {}):
                print(f"{run}: skipped (its summary has no test accuracy: not a classifier)", file=sys.stderr)
                continue
            rows.append(row := compare(run, Path(scratch)))
            if args.json:
                with args.json.open("a") as f:
                    f.write(json.dumps(row) + "\n")
    print("| run | best epoch | test, best-validation weights | test, last weights | difference |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        gap = 100 * (r["test_best_epoch"] - r["test_last"])
        print(f"| {r['run']} | {r['best_epoch']} of {r['epochs']} | {100 * r['test_best_epoch']:.1f} % "
              f"| {100 * r['test_last']:.1f} % | {gap:+.1f} |")


if __name__ == "__main__":
    main()
