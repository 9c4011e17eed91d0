"""Benchmark: generative models on Fashion-MNIST (denoising AE, VAE, DCGAN, conditional GAN, low data).

Each part trains the built-in recipe and measures what BENCHMARKS.md reports:

- classifier  fashion-cnn (2 epochs): the feature extractor of the Fréchet distance and the judge of
              conditional samples (run first; the GAN parts and lowdata read it)
- dae         fashion-dae: PSNR of denoised over noisy test images at Gaussian sigma 0.3 (target >= 6 dB)
- vae         fashion-vae: test ELBO (nats per image), its two terms, a sample grid and an interpolation
- dcgan       fashion-dcgan: Fréchet distance on the classifier's features; real held-out images as floor
- cgan        fashion-cgan: the same, and the classifier's accuracy on samples of each requested class
- lowdata     100 labelled images per class, with and without 500 cGAN samples per class

    python benchmarks/generative.py PART [PART ...] [--root runs/bench-generative] [KEY=VALUE ...]

Results go to ROOT/results.json (one entry per part, merged across invocations).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import layerlab.api as api
from layerlab.analyze.generated import frechet, interpolate, reconstruct

PARTS = ("classifier", "dae", "vae", "dcgan", "cgan", "lowdata")
LOWDATA = ["data.limit=1100", "data.val_fraction=0.1", "train.epochs=40", "train.batch_size=64", "train.report=false"]


def train(recipe: str, root: Path, name: str, overrides: list[str]) -> api.RunResult:
    out = root / name
    start = time.perf_counter()
    result = api.run(recipe, ["train.report=false", *overrides], out=out)
    print(f"{name}: {time.perf_counter() - start:.0f} s, test {json.dumps(result.summary['test'])}", flush=True)
    return result


def part(name: str, root: Path, extra: list[str]) -> dict:
    classifier = root / "classifier"
    if name == "classifier":
        r = train("fashion-cnn", root, "classifier", ["train.epochs=2", *extra])
        return {"test_accuracy": r.summary["test"]["accuracy"], "train_seconds": r.summary["train_seconds"]}
    if name == "dae":
        r = train("fashion-dae", root, "dae", extra)
        shown = reconstruct(r.run_dir, n=16)
        return {**{k: r.summary["test"][k] for k in ("psnr", "noisy_psnr", "psnr_gain", "ssim")},
                "train_seconds": r.summary["train_seconds"], "grid": shown["path"]}
    if name == "vae":
        r = train("fashion-vae", root, "vae", extra)
        grid = api.generate(r.run_dir, n=64, out=str(r.run_dir / "generated.png"))
        walk = interpolate(r.run_dir, pairs=4, steps=8)
        fd = frechet(r.run_dir, classifier, n=5000)
        return {**{k: r.summary["test"][k] for k in ("elbo", "reconstruction", "kl", "psnr")},
                "fd": fd["fd"], "fd_real_floor": fd["fd_real_floor"], "train_seconds": r.summary["train_seconds"],
                "grid": grid["path"], "interpolation": walk["path"]}
    if name in ("dcgan", "cgan"):
        r = train(f"fashion-{name}", root, name, extra)
        grid = api.generate(r.run_dir, n=100, out=str(r.run_dir / "generated.png"))
        fd = frechet(r.run_dir, classifier, n=5000)
        result = {"fd": fd["fd"], "fd_real_floor": fd["fd_real_floor"], "train_seconds": r.summary["train_seconds"],
                  "val_diversity": r.history[-1].get("val_diversity"), "grid": grid["path"]}
        if "class_accuracy" in fd:
            result.update(class_accuracy=fd["class_accuracy"], per_class_accuracy=fd["per_class_accuracy"],
                          classifier_accuracy_on_real=fd["real_accuracy"])
        return result
    if name == "lowdata":
        without = train("fashion-cnn", root, "lowdata-real", [*LOWDATA, *extra])
        with_gan = train("fashion-cnn", root, "lowdata-real+cgan",
                         [*LOWDATA, f"data.generated={root / 'cgan'}", "data.generated_per_class=500", *extra])
        return {"real_only": without.summary["test"]["accuracy"], "with_cgan": with_gan.summary["test"]["accuracy"],
                "train_images": without.summary["data"]["train"], "with_cgan_train_images": with_gan.summary["data"]["train"]}
    raise SystemExit(f"unknown part {name!r}; parts: {', '.join(PARTS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="+", metavar="PART|KEY=VALUE")
    parser.add_argument("--root", default="runs/bench-generative")
    args = parser.parse_args()
    os.environ.setdefault("LAYERLAB_DATA", "../shared/data")
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    overrides = [p for p in args.parts if "=" in p]
    results_file = root / "results.json"
    for name in (p for p in args.parts if "=" not in p):
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
        results[name] = part(name, root, overrides)
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        print(name, json.dumps(results[name], indent=2), flush=True)


if __name__ == "__main__":
    main()
