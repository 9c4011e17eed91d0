"""Issue 34's character GPT against a nanoGPT-style loop at equal wall time, and tokens/s of the same model.

    PYTHONPATH=src LAYERLAB_DATA=/work/shared/data python benchmarks/gpt_budget.py [--seconds 60,300,900]
        [--json out.json]

For each budget S (seconds of training):

layerlab   ``layerlab run shakespeare-transformer train.max_seconds=S data.test_fraction=0.1`` (only the
           budget set: ``train.budget: auto`` sizes batch, rate, warm-up and schedule; the probe's time is
           inside S); its held-out loss is the test loss on the text's last 10 %.
nanogpt    nanoGPT's README CPU configuration written as a plain loop (``gpu_peers.MiniGPT``: 4 layers,
           4 heads, 128 wide, context 64, batch 12, AdamW lr 1e-3 with 100 warm-up steps and a cosine
           decay to 1e-4 over max_iters 2000, no dropout), trained for S seconds on the text LayerLab trains
           on (the first 90 % less the recipe's validation 5 % of it, which lies just before the test text);
           its held-out loss is the mean over every window of the last 10 % (the same text LayerLab tests on).
           Until 2026-12-06 it trained on the whole first 90 %, the validation text included.

Then tokens/s of the recipe's GPT at its batch (64) and context (128): LayerLab's Trainer steps against
the same-sized MiniGPT in the plain loop (``--rate-steps`` timed steps after 5 untimed). The issue's
targets: a lower held-out loss than nanogpt at 60 s, 5 and 15 minutes; tokens/s >= 1.3x nanoGPT's loop.
Each job runs in a process of its own; run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NANO = {"layers": 4, "heads": 4, "dim": 128, "context": 64, "batch": 12, "lr": 1e-3, "min_lr": 1e-4,
        "warmup": 100, "max_iters": 2000}
VAL_FRACTION = 0.05  # shakespeare-transformer's data.val_fraction: LayerLab never trains on that text


def layerlab_budget(seconds: float) -> dict:
    from layerlab import api

    with tempfile.TemporaryDirectory() as out:
        result = api.run("shakespeare-transformer", [f"train.max_seconds={seconds}", "data.test_fraction=0.1",
                                                     "train.report=false"], out=Path(out) / "run")
        saved = (result.run_dir / "recipe.yaml").read_text()
    return {"held_out_loss": result.summary["test"]["loss"], "steps": result.summary["steps"],
            "train_seconds": result.summary["train_seconds"], "recipe": saved}


def nanogpt_budget(seconds: float) -> dict:
    import gpu_peers as peers
    import torch
    import torch.nn.functional as F

    torch.manual_seed(1337)
    ids, vocab = peers.shakespeare(Path(os.environ.get("LAYERLAB_DATA", "data")), torch.device("cpu"))
    cut = int(0.9 * len(ids))
    # The same training text as LayerLab's: the recipe keeps the last 5 % before the test text for validation.
    train, held = ids[: cut - round(VAL_FRACTION * cut)], ids[cut:]
    model = peers.MiniGPT(vocab, NANO["context"], NANO["dim"], NANO["heads"], NANO["layers"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=NANO["lr"], betas=(0.9, 0.99), weight_decay=0.1)
    step = peers.train_step(model, optimizer, torch.device("cpu"), "fp32", grad_clip=1.0)
    batches = peers.text_batches(train, NANO["batch"], NANO["context"])
    start, it = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        for group in optimizer.param_groups:
            group["lr"] = nano_lr(it)
        step(*next(batches))
        it += 1
    trained = time.perf_counter() - start
    model.eval()
    windows = held[: (len(held) - 1) // NANO["context"] * NANO["context"] + 1]
    x = windows[:-1].view(-1, NANO["context"])
    y = windows[1:].view(-1, NANO["context"])
    with torch.no_grad():
        loss = sum(F.cross_entropy(model(x[i:i + 256]).flatten(0, 1), y[i:i + 256].flatten(), reduction="sum").item()
                   for i in range(0, len(x), 256)) / y.numel()
    return {"held_out_loss": loss, "steps": it, "train_seconds": trained}


def nano_lr(it: int) -> float:
    """nanoGPT's get_lr: linear warm-up, cosine decay to min_lr at max_iters, then min_lr."""
    if it < NANO["warmup"]:
        return NANO["lr"] * (it + 1) / (NANO["warmup"] + 1)
    if it > NANO["max_iters"]:
        return NANO["min_lr"]
    ratio = (it - NANO["warmup"]) / (NANO["max_iters"] - NANO["warmup"])
    return NANO["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (NANO["lr"] - NANO["min_lr"])


def rates(steps: int) -> dict:
    """tokens/s of the recipe's GPT (batch 64, context 128): LayerLab's Trainer against the plain loop."""
    import gpu_peers as peers
    import torch

    from layerlab.models import create_model
    from layerlab.recipe import load_recipe
    from layerlab.tasks import create_task
    from layerlab.train.trainer import Trainer

    cfg = load_recipe("shakespeare-transformer")
    ids, vocab = peers.shakespeare(Path(os.environ.get("LAYERLAB_DATA", "data")), torch.device("cpu"))
    batch, context = cfg.train.batch_size, cfg.data.max_length
    out = {}
    for name, precision in (("fp32", "fp32"), ("auto", cfg.train.precision)):
        model = create_model(cfg.model_config_object(), input_shape=(context,), num_outputs=vocab,
                             data_fields={"vocab_size": vocab})
        task = create_task(cfg.task, num_classes=vocab, class_names=[str(i) for i in range(vocab)], train_targets=torch.empty(0))
        trainer = Trainer(model, task, cfg.train.model_copy(update={"precision": precision, "max_seconds": None}),
                          device=torch.device("cpu"))
        batches = peers.text_batches(ids, batch, context)
        out[f"layerlab_{name}"] = peers.time_steps(trainer.train_step, batches, torch.device("cpu"),
                                                   warmup=5, steps=steps, rounds=3, examples=batch * context)["value"]
    model = peers.MiniGPT(vocab, context, cfg.model["dim"], cfg.model["heads"], cfg.model["layers"])
    step = peers.train_step(model, torch.optim.AdamW(model.parameters(), lr=1e-3), torch.device("cpu"), "fp32", grad_clip=1.0)
    out["nanogpt_loop_fp32"] = peers.time_steps(step, peers.text_batches(ids, batch, context), torch.device("cpu"),
                                                warmup=5, steps=steps, rounds=3, examples=batch * context)["value"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="60,300,900", help="comma-separated training budgets")
    parser.add_argument("--rate-steps", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--job", help=argparse.SUPPRESS)  # internal: KIND:ARG in this process
    args = parser.parse_args()
    if args.job:
        sys.path.insert(0, str(HERE))
        kind, _, value = args.job.partition(":")
        result = {"layerlab": layerlab_budget, "nanogpt": nanogpt_budget}[kind](float(value)) if kind != "rates" else rates(int(value))
        print("RESULT " + json.dumps(result))
        return
    results: dict = {}
    jobs = [f"{kind}:{s}" for s in args.seconds.split(",") for kind in ("nanogpt", "layerlab")] + [f"rates:{args.rate_steps}"]
    for job in jobs:
        proc = subprocess.run([sys.executable, __file__, "--job", job], capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        results[job] = json.loads(line[7:]) if line else {"failed": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
        shown = {k: v for k, v in results[job].items() if k != "recipe"}
        print(f"{job}: {json.dumps(shown)}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
