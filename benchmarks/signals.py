"""Benchmarks of the audio and time-series half: spoken digits and a real series.

    LAYERLAB_DATA=../shared/data python benchmarks/signals.py fsdd        # official split, fsdd-cnn
    LAYERLAB_DATA=../shared/data python benchmarks/signals.py loso        # leave one speaker out, each speaker
    python benchmarks/signals.py series                                   # sunspots-lstm (and co2) vs baselines

Each part trains the built-in recipe through ``layerlab.run`` (no report, given threads) and prints a
markdown table. Options: ``--epochs`` (LOSO and fsdd: override the recipe's), ``--threads``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import layerlab

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def train(recipe: str, overrides: list[str], out: Path) -> tuple[dict, float]:
    start = time.perf_counter()
    result = layerlab.run(recipe, [*overrides, "train.report=false"], out=out)
    return result.summary, time.perf_counter() - start


def fsdd(args: argparse.Namespace, work: Path) -> None:
    overrides = [f"train.threads={args.threads}"] + ([f"train.epochs={args.epochs}"] if args.epochs else [])
    summary, seconds = train("fsdd-cnn", overrides, work / "fsdd")
    test = summary["test"]
    print("| split | test accuracy | macro F1 | params | epochs | train s | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| official (indices 0-4 test; 2,430 train / 270 val / 300 test) | {test['accuracy']:.4f} | "
          f"{test['macro_f1']:.4f} | {summary['params']:,} | {summary['epochs']} | {summary['train_seconds']:.0f} | "
          f"{seconds:.0f} |")


def loso(args: argparse.Namespace, work: Path) -> None:
    rows = []
    for speaker in args.speakers or SPEAKERS:
        overrides = [f"data.test_speaker={speaker}", f"train.threads={args.threads}"]
        overrides += [f"train.epochs={args.epochs}"] if args.epochs else []
        summary, seconds = train("fsdd-cnn", overrides, work / f"loso-{speaker}")
        rows.append((speaker, summary["test"]["accuracy"], summary["test"]["macro_f1"], seconds))
        print(f"  {speaker}: accuracy {rows[-1][1]:.4f} ({seconds:.0f} s)", flush=True)
    print("| held-out speaker | test accuracy (500 recordings) | macro F1 | wall s |")
    print("| --- | --- | --- | --- |")
    for speaker, accuracy, f1, seconds in rows:
        print(f"| {speaker} | {accuracy:.4f} | {f1:.4f} | {seconds:.0f} |")
    mean = sum(r[1] for r in rows) / len(rows)
    print(f"| **mean** | **{mean:.4f}** | {sum(r[2] for r in rows) / len(rows):.4f} | {sum(r[3] for r in rows):.0f} |")


def series(args: argparse.Namespace, work: Path) -> None:
    runs = [("sunspots-lstm", "sunspots-lstm", []),
            ("co2, LSTM (window 36, 12 steps ahead)", "sunspots-lstm",
             ["data.name=co2", "data.window=36", "data.horizon=12", "train.epochs=60", "train.batch_size=32"]),
            ("co2-lstm (level-relative windows: task.relative)", "co2-lstm", []),
            ("sunspots, LSTM, level-relative windows (task.relative)", "sunspots-lstm", ["task.relative=true"]),
            ("co2, MLP (window 36, 12 steps ahead)", "sunspots-lstm",
             ["data.name=co2", "data.window=36", "data.horizon=12", "train.epochs=60", "train.batch_size=32",
              "model={name: mlp, hidden: [64]}"])]
    print("| series | forecaster | MSE | MAE | MAPE % | wall s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for i, (label, recipe, overrides) in enumerate(runs):
        summary, seconds = train(recipe, [*overrides, f"train.threads={args.threads}"], work / f"series-{i}")
        for name, values in summary["report"]["errors"].items():
            print(f"| {label} | {name} | {values['mse']:.3f} | {values['mae']:.3f} | {values['mape']:.2f} | "
                  f"{seconds:.0f} |" if name == "model" else
                  f"| {label} | {name.replace('_', '-')} | {values['mse']:.3f} | {values['mae']:.3f} | "
                  f"{values['mape']:.2f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["fsdd", "loso", "series"])
    parser.add_argument("--epochs", type=int, default=None, help="fsdd, loso: epochs (default: the recipe's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speakers", nargs="*", help="loso: only these speakers")
    parser.add_argument("--keep", metavar="DIR", help="keep the run directories here")
    args = parser.parse_args()
    print(f"# {args.part}: {platform.processor() or platform.machine()}, threads {args.threads}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        {"fsdd": fsdd, "loso": loso, "series": series}[args.part](args, work)
    print(json.dumps({"finished": time.strftime("%Y-%m-%d %H:%M:%S")}))


if __name__ == "__main__":
    main()
