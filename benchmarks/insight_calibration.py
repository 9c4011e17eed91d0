"""Fashion-MNIST: expected calibration error before and after temperature scaling, and Grad-CAM on a
few test images, from one short fashion-cnn run.

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/insight_calibration.py [--limit 15000 --epochs 3]

Prints a markdown section; the run directory (report.html with the reliability diagrams and the
Grad-CAM overlays) is left in runs/bench-insight-fashion.
"""

from __future__ import annotations

import argparse
import time

import torch

import layerlab
from layerlab.analyze.calibration import expected_calibration_error
from layerlab.analyze.explain_run import explain
from layerlab.analyze.temperature import unwrapped
from layerlab.api import load_run
from layerlab.data import load_data
from layerlab.models.inference import predict_outputs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=15000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="runs/bench-insight-fashion")
    args = parser.parse_args()
    started = time.perf_counter()
    result = layerlab.run("fashion-cnn", [f"data.limit={args.limit}", f"train.epochs={args.epochs}",
                                          "task.calibrate=temperature"], out=args.out)
    loaded = load_run(args.out)
    data = load_data(loaded.recipe.data, task="classification", seed=loaded.recipe.train.seed,
                     preprocessor=loaded.preprocessor)
    raw = predict_outputs(unwrapped(loaded.model), data.test.x, batch_size=1024)
    temperature = float(loaded.model.temperature)
    ece_before = expected_calibration_error(raw.softmax(1), data.test.y)
    ece_after = expected_calibration_error((raw / temperature).softmax(1), data.test.y)
    nll_before = torch.nn.functional.cross_entropy(raw, data.test.y).item()
    nll_after = torch.nn.functional.cross_entropy(raw / temperature, data.test.y).item()
    cam_started = time.perf_counter()
    explained = explain(args.out, [f"test:{i}" for i in range(6)])
    cam_seconds = time.perf_counter() - cam_started
    cal = result.summary["calibration"]
    print(f"### Fashion-MNIST: temperature scaling (fashion-cnn, {args.limit} training examples, {args.epochs} epochs)\n")
    print(f"Test accuracy {result.summary['test']['accuracy']:.4f} (unchanged by scaling); temperature "
          f"T = {temperature:.3f} fitted on {result.summary['data']['val']} validation examples.\n")
    print("| split | ECE before | ECE after | NLL before | NLL after |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| validation (fit) | {cal['val_ece_before']:.4f} | {cal['val_ece_after']:.4f} | "
          f"{cal['val_nll_before']:.4f} | {cal['val_nll_after']:.4f} |")
    print(f"| test (10,000) | {ece_before:.4f} | {ece_after:.4f} | {nll_before:.4f} | {nll_after:.4f} |\n")
    print(f"Grad-CAM, saliency and integrated gradients on test images 0-5 in {cam_seconds:.1f} s "
          f"(report rewrite included): " + ", ".join(f"{e['input'].split(' ')[0]} predicted {e['label']} "
                                                     f"({e['probability']:.2f})" for e in explained))
    print(f"\nFiles: {args.out}/report.html, {args.out}/explain/test_*.png. Total {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
