"""Benchmark 1: the cost of LayerLab's Trainer over a plain hand-written PyTorch loop.

Same CNN, same data (Fashion-MNIST training images), same batch order, same seed and optimiser. The
two loops run alternately in child processes (plain, layerlab, layerlab, plain, ...) so each gets its
own peak-memory reading and both see the same machine noise. Prints images per second, peak RSS, and
the ratios; also whether both ended with the same weights (they should: the same arithmetic).

    python benchmarks/trainer_overhead.py [--n 20000] [--epochs 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

MODEL = {"name": "cnn", "width": 32, "blocks": 3}


def child(mode: str, n: int, epochs: int, batch_size: int) -> dict:
    import hashlib

    import torch
    import torch.nn.functional as F

    from layerlab.data import load_data
    from layerlab.data.batching import batches, epoch_order
    from layerlab.models import create_model
    from layerlab.recipe import DataConfig, TaskConfig, TrainConfig
    from layerlab.tasks import create_task
    from layerlab.train.trainer import Trainer

    data = load_data(DataConfig(name="fashion-mnist", val_fraction=0.0, limit=n), task="classification", seed=0)
    train = data.train
    torch.manual_seed(0)
    model = create_model(MODEL, input_shape=data.info.input_shape, num_outputs=10)
    rss_before = _rss("VmRSS")
    start = time.perf_counter()
    if mode == "plain":
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
        model.train()
        for epoch in range(epochs):
            order = epoch_order(len(train), seed=0, epoch=epoch)
            for x, y in batches(train.x, train.y, batch_size=batch_size, order=order):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    else:
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adamw", lr=1e-3, weight_decay=0.0, seed=0)
        task = create_task(TaskConfig(), num_classes=10, class_names=data.info.class_names, train_targets=train.y)
        Trainer(model, task, cfg, device=torch.device("cpu")).fit(train, None)
    seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()[:16]
    return {"mode": mode, "images_per_s": epochs * len(train) / seconds, "seconds": seconds,
            "peak_rss_mb": _rss("VmHWM"), "rss_before_mb": rss_before, "weights": digest}


def _rss(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="training images")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=["plain", "layerlab"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.epochs, args.batch_size)))
        return
    results: dict[str, list[dict]] = {"plain": [], "layerlab": []}
    for r in range(args.rounds):
        for mode in (("plain", "layerlab") if r % 2 == 0 else ("layerlab", "plain")):
            cmd = [sys.executable, __file__, "--child", mode, "--n", str(args.n), "--epochs", str(args.epochs),
                   "--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))
            row = results[mode][-1]
            print(f"round {r + 1} {mode:8s} {row['images_per_s']:8.1f} img/s  peak {row['peak_rss_mb']:.0f} MB  weights {row['weights']}")
    med = {m: statistics.median(x["images_per_s"] for x in rows) for m, rows in results.items()}
    peak = {m: statistics.median(x["peak_rss_mb"] for x in rows) for m, rows in results.items()}
    extra = {m: statistics.median(x["peak_rss_mb"] - x["rss_before_mb"] for x in rows) for m, rows in results.items()}
    same = {x["weights"] for rows in results.values() for x in rows}
    print(f"\nmedian images/s: plain {med['plain']:.1f}, layerlab {med['layerlab']:.1f}; "
          f"ratio {med['layerlab'] / med['plain']:.3f} (target >= 0.98)")
    print(f"median peak RSS: plain {peak['plain']:.0f} MB, layerlab {peak['layerlab']:.0f} MB; "
          f"ratio {peak['layerlab'] / peak['plain']:.3f} (target <= 1.1)")
    print(f"median growth during training: plain {extra['plain']:.0f} MB, layerlab {extra['layerlab']:.0f} MB")
    print(f"identical final weights in every run: {len(same) == 1}")


if __name__ == "__main__":
    main()
