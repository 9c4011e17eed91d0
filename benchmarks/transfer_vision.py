"""Transfer on Fashion-MNIST: pretrain on classes 0-4, fine-tune on classes 5-9 with few labels.

    python benchmarks/transfer_vision.py --out /tmp/transfer-vision

1. A small ResNet (``resnet18``, width 8, 1x28x28 inputs) is trained on all 30,000 training images of
   classes 0-4 (T-shirt, trouser, pullover, dress, coat): ``--pretrain-epochs`` epochs, optionally within
   ``--pretrain-seconds``.
2. For 10, 50 and 100 labelled training images per class of classes 5-9 (sandal, shirt, sneaker, bag,
   ankle boot), the same network is trained four ways at the same budget (epochs, optimiser, schedule):
   **frozen** (``model.from_run``, only the new head trains), **fine-tuned** (``from_run`` and
   ``train.fine_tune``: head first, then everything at lower, discriminative rates), **one rate**
   (``from_run``, everything trains at the scratch runs' rate from the first step: the source weights as
   an initialisation only) and **scratch** (random initialisation, everything trains). Each cell is repeated for ``--seeds`` seeds: seed s draws
   its own labelled images and is the runs' ``train.seed``.
3. Test accuracy on the 5,000 test images of classes 5-9: one table of mean ± standard error over the
   seeds; every run's figure is in OUT/results.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import struct
from pathlib import Path

import numpy as np

from layerlab import api
from layerlab.data.idx import read_idx

FASHION = Path("/usr/share/datasets/fashion-mnist")
MODEL = {"name": "resnet18", "width": 8}
COMMON_TRAIN = {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0005, "schedule": "cosine",
                "precision": "auto", "seed": 0, "report": False, "diagnostics_every": 0}


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=1))


def subset(folder: Path, x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", x)
    write_idx(folder / "train-labels-idx1-ubyte.gz", y)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", tx)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", ty)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/transfer-vision"))
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--pretrain-seconds", type=float, default=None,
                        help="a wall-clock budget for the pretraining (train.max_seconds; default: none)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of every few-label run")
    parser.add_argument("--shots", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seeds", type=int, default=3, help="draws of the labelled images (and train.seed) per cell")
    parser.add_argument("--pretrained", type=Path, help="reuse this pretraining run directory instead of training one")
    args = parser.parse_args()

    x, y = read_idx(FASHION / "train-images-idx3-ubyte.gz"), read_idx(FASHION / "train-labels-idx1-ubyte.gz")
    tx, ty = read_idx(FASHION / "t10k-images-idx3-ubyte.gz"), read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")
    pre = pretrained(args, x, y, tx, ty)
    results: dict = {"pretrain": {"accuracy": pre.summary["test"]["accuracy"], "seconds": pre.summary["seconds"],
                                  "epochs": pre.summary["epochs"], "train_images": int((y < 5).sum())}}
    print(f"pretrained on classes 0-4: test accuracy {results['pretrain']['accuracy']:.4f} "
          f"in {results['pretrain']['seconds']:.0f} s ({results['pretrain']['epochs']} epochs)", flush=True)

    modes = {
        "frozen": {"model": {**MODEL, "from_run": str(pre.run_dir)},
                   "train": {"stages": [{"epochs": args.epochs, "trainable": "head"}]}},
        "fine-tuned": {"model": {**MODEL, "from_run": str(pre.run_dir)},
                       "train": {"epochs": args.epochs, "fine_tune": args.epochs // 3}},
        "one-rate": {"model": {**MODEL, "from_run": str(pre.run_dir)}, "train": {"epochs": args.epochs}},
        "scratch": {"model": MODEL, "train": {"epochs": args.epochs}},
    }
    for shots in args.shots:
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            picked = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:shots] for c in range(5, 10)])
            folder = subset(args.out / f"data-5-9-{shots}-seed{seed}", x[picked], y[picked] - 5, tx[ty >= 5], ty[ty >= 5] - 5)
            for mode, parts in modes.items():
                name = f"{mode}-{shots}-seed{seed}"
                recipe = {"name": name, "data": {"name": "fashion-mnist", "path": str(folder), "val_fraction": 0},
                          "model": parts["model"],
                          "train": {**COMMON_TRAIN, "seed": seed, "batch_size": 16, **parts["train"]}}
                run = api.run(recipe, out=args.out / "runs" / name)
                results[name] = {"accuracy": run.summary["test"]["accuracy"], "train_seconds": run.summary["train_seconds"]}
                print(f"{shots:>4} per class  seed {seed}  {mode:<10}  test accuracy {results[name]['accuracy']:.4f}  "
                      f"(training {results[name]['train_seconds']:.1f} s)", flush=True)

    print(f"\n| labelled images per class | frozen backbone | fine-tuned | fine-tuned, one rate | from scratch |"
          f"   (mean ± s.e. of {args.seeds} seeds)")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for shots in args.shots:
        cells = []
        for mode in modes:
            accs = 100 * np.array([results[f"{mode}-{shots}-seed{seed}"]["accuracy"] for seed in range(args.seeds)])
            sem = accs.std(ddof=1) / np.sqrt(len(accs)) if len(accs) > 1 else float("nan")
            cells.append(f"{accs.mean():.1f} ± {sem:.1f} %")
        print(f"| {shots} | " + " | ".join(cells) + " |")
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


def pretrained(args: argparse.Namespace, x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray) -> api.RunResult:
    """The source model: ``--pretrained``'s run, or a new run on every training image of classes 0-4."""
    if args.pretrained:
        return api.RunResult(args.pretrained, json.loads((args.pretrained / "summary.json").read_text()))
    source = subset(args.out / "data-0-4", x[y < 5], y[y < 5], tx[ty < 5], ty[ty < 5])
    return api.run({"name": "pretrain-0-4", "data": {"name": "fashion-mnist", "path": str(source), "val_fraction": 0.05},
                    "model": MODEL,
                    "train": {**COMMON_TRAIN, "epochs": args.pretrain_epochs, "batch_size": 128,
                              "max_seconds": args.pretrain_seconds, "schedule": "onecycle"}},
                   out=args.out / "runs" / "pretrain")


if __name__ == "__main__":
    main()
