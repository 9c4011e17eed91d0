"""Issue 34's CNN side by side on the CPU, images/s: peers and LayerLab's fast-path parts, on and off.

    PYTHONPATH=src LAYERLAB_DATA=/work/shared/data python benchmarks/cnn_peers.py [--epochs 2] [--limit N]
        [--only plain-fp32,layerlab-fp32,...] [--json out.json]

The CNN of issue 34 (``gpu_peers.CNN_MODEL``: conv 32 and 64 with batch norm, dense 128, dropout), Adam,
batch 128, ``--epochs`` passes over Fashion-MNIST's training images (``--limit`` for a smoke run). Each
job runs in a process of its own, one after another (run it on a quiet machine; take several runs'
medians for a figure). A job's rate is its images over its training seconds; torch.compile's compile
time is reported apart and left out of the rate. Jobs:

plain-fp32, plain-bf16, plain-fp32-nchw   a plain PyTorch loop (gpu_peers.py), channels-last weights
                                           except -nchw (the contiguous layout: channels-last off)
lightning, keras                           PyTorch Lightning 2 and Keras 3 on torch, where installed
                                           (else the row says "not installed")
layerlab-fp32                              `layerlab run` with default settings (fp32, default optimiser)
layerlab-auto                              precision: auto (bf16 where native)
layerlab-fused, layerlab-compile           train.optimizer_impl=fused; train.compile=true (fp32)
layerlab-fastest                           auto + fused + compile

Ratios are to plain-fp32 (the issue's targets: the fastest path >= 2.0x, default settings >= 1.0x).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
JOBS = ("plain-fp32", "plain-fp32-nchw", "plain-bf16", "lightning", "keras", "layerlab-fp32", "layerlab-auto",
        "layerlab-fused", "layerlab-compile", "layerlab-fastest")
LAYERLAB = {"layerlab-fp32": {}, "layerlab-auto": {"precision": "auto"}, "layerlab-fused": {"optimizer_impl": "fused"},
            "layerlab-compile": {"compile": True},
            "layerlab-fastest": {"precision": "auto", "optimizer_impl": "fused", "compile": True}}
BATCH, LR = 128, 1e-3


def data_dir() -> Path:
    return Path(os.environ.get("LAYERLAB_DATA", "data"))


def plain(job: str, epochs: int, limit: int | None) -> dict:
    import gpu_peers as peers
    import torch

    x, y = peers.fashion_mnist(data_dir(), torch.device("cpu"), limit)
    model = peers.fashion_cnn()
    if job != "plain-fp32-nchw":
        model = model.to(memory_format=torch.channels_last)
    step = peers.train_step(model, torch.optim.Adam(model.parameters(), lr=LR), torch.device("cpu"),
                            "bf16" if job == "plain-bf16" else "fp32")
    batches, steps = peers.image_batches(x, y, BATCH), epochs * (len(x) // BATCH)
    model.train()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(*next(batches))
    return {"images": steps * BATCH, "seconds": time.perf_counter() - start, "final_loss": float(loss)}


def lightning(epochs: int, limit: int | None) -> dict:
    import gpu_peers as peers
    import lightning as L  # noqa: N812
    import torch
    import torch.nn.functional as F

    x, y = peers.fashion_mnist(data_dir(), torch.device("cpu"), limit)

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = peers.fashion_cnn()

        def training_step(self, batch, _):  # noqa: ANN001
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):  # noqa: ANN202
            return torch.optim.Adam(self.parameters(), lr=LR)

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH, shuffle=True, drop_last=True)
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    start = time.perf_counter()
    trainer.fit(Module(), loader)
    return {"images": epochs * (len(x) // BATCH) * BATCH, "seconds": time.perf_counter() - start}


def keras(epochs: int, limit: int | None) -> dict:
    os.environ["KERAS_BACKEND"] = "torch"
    import gpu_peers as peers
    import keras as K  # noqa: N812
    import torch

    x, y = peers.fashion_mnist(data_dir(), torch.device("cpu"), limit)
    x, y = x.permute(0, 2, 3, 1).numpy(), y.numpy()  # Keras: channels last
    layers = K.layers
    model = K.Sequential([
        K.Input((28, 28, 1)),
        layers.Conv2D(32, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.GlobalAveragePooling2D(), layers.Dropout(0.25), layers.Dense(128, activation="relu"), layers.Dropout(0.25),
        layers.Dense(10)])
    model.compile(optimizer=K.optimizers.Adam(LR), loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, verbose=0)
    return {"images": epochs * len(x), "seconds": time.perf_counter() - start}


def layerlab(job: str, epochs: int, limit: int | None) -> dict:
    import gpu_peers as peers

    from layerlab import api

    recipe = {"name": job, "data": {"name": "fashion-mnist", "val_fraction": 0.0, "limit": limit},
              "model": peers.CNN_MODEL, "task": {"name": "classification"},
              "train": {"epochs": epochs, "batch_size": BATCH, "optimizer": "adam", "lr": LR, "report": False,
                        "diagnostics_every": 0, **LAYERLAB[job]}}
    with tempfile.TemporaryDirectory() as out:
        summary = api.run(recipe, out=Path(out) / "run").summary
    compile_s = summary.get("compile_seconds", 0.0)
    return {"images": epochs * summary["data"]["train"], "seconds": summary["train_seconds"] - compile_s,
            "compile_seconds": compile_s, "test_accuracy": summary["test"].get("accuracy")}


def run_job(job: str, epochs: int, limit: int | None) -> dict:
    sys.path.insert(0, str(HERE))
    try:
        if job.startswith("plain"):
            return plain(job, epochs, limit)
        if job in ("lightning", "keras"):
            return (lightning if job == "lightning" else keras)(epochs, limit)
        return layerlab(job, epochs, limit)
    except ModuleNotFoundError as exc:
        return {"skipped": f"{exc.name} not installed"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="training images (a smoke run)")
    parser.add_argument("--only", default=",".join(JOBS), help="comma-separated jobs")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one job in this process
    args = parser.parse_args()
    if args.job:
        print("RESULT " + json.dumps(run_job(args.job, args.epochs, args.limit)))
        return
    results = {}
    for job in args.only.split(","):
        cmd = [sys.executable, __file__, "--job", job, "--epochs", str(args.epochs)] + (["--limit", str(args.limit)] if args.limit else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        results[job] = json.loads(line[7:]) if line else {"failed": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
        print(row(job, results[job], results.get("plain-fp32")), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def row(job: str, result: dict, base: dict | None) -> str:
    if "images" not in result:
        return f"| {job} | {result.get('skipped') or result.get('failed')} | | |"
    rate = result["images"] / result["seconds"]
    ratio = f"{rate / (base['images'] / base['seconds']):.2f}x" if base and "images" in base else ""
    extra = f"compile {result['compile_seconds']:.1f} s" if result.get("compile_seconds") else ""
    return f"| {job} | {rate:,.0f} images/s | {ratio} | {extra} |"


if __name__ == "__main__":
    main()
