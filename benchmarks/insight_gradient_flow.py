"""Gradient flow: a 10-layer sigmoid MLP against a 10-layer ReLU MLP with batch norm, on Fashion-MNIST.

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/insight_gradient_flow.py

Both runs record per-layer gradient norms (train.diagnostics_every) and write their report; a
side-by-side figure of the two gradient-flow curves goes to runs/bench-insight-gradient-flow.png.
Prints a markdown section.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import layerlab
from layerlab.analyze.plots import new_figure, save_png
from layerlab.train.diagnostics import read_diagnostics

MODELS = {
    "sigmoid, no batch norm": ["model.activation=sigmoid", "model.batch_norm=false"],
    "ReLU + batch norm": ["model.activation=relu", "model.batch_norm=true"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    common = ["model.hidden=[128,128,128,128,128,128,128,128,128,128]", f"data.limit={args.limit}",
              f"train.epochs={args.epochs}", "train.optimizer=sgd", "train.lr=0.05", "train.schedule=constant",
              "train.diagnostics_every=10"]
    fig = new_figure(8.0, 4.5)
    ax = fig.add_subplot()
    rows = []
    for label, overrides in MODELS.items():
        out = Path("runs") / f"bench-insight-flow-{label.split(',')[0].split(' ')[0].lower()}"
        result = layerlab.run("fashion-mlp", [*common, *overrides], out=out)
        diag = read_diagnostics(out / "diagnostics")
        linear = [n for n in diag["meta"]["layers"] if diag["meta"]["layer_types"][n] == "Linear"]
        norms = np.array([[row[n] for n in linear] for row in diag["gradients"]])
        median = np.median(norms, axis=0)
        ax.plot(range(1, len(linear) + 1), median, marker="o", label=label)
        rows.append((label, result.summary["test"]["accuracy"], median[0], median[-1], out))
    ax.set_yscale("log")
    ax.set_xlabel("linear layer (1 = input side, 11 = output)")
    ax.set_ylabel("median gradient L2 norm over training")
    ax.set_title("Gradient flow: 10-layer MLPs on Fashion-MNIST")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    figure = save_png(fig, Path("runs/bench-insight-gradient-flow.png"))
    print(f"### Gradient flow: 10-layer MLPs ({args.limit} Fashion-MNIST examples, {args.epochs} epochs, SGD lr 0.05)\n")
    print("| model | test accuracy | median grad norm, first layer | last layer | first / last |")
    print("| --- | --- | --- | --- | --- |")
    for label, accuracy, first, last, _ in rows:
        print(f"| {label} | {accuracy:.4f} | {first:.2e} | {last:.2e} | {first / last:.1e} |")
    print(f"\nFigure: {figure}; each run's report ({', '.join(str(r[4]) + '/report.html' for r in rows)}) has the "
          "gradient-flow, per-layer norm and activation (saturation / dead ReLU) plots.")


if __name__ == "__main__":
    main()
