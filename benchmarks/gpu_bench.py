"""LayerLab's first GPU figures (issues 34 and 29), in one run of a few minutes on one GPU.

    PYTHONPATH=src python benchmarks/gpu_bench.py --data .gpudata --out $OUT/gpu.json [--only cnn,gpt,ddp]

Sections (each job one at a time, in this process; every rate a median of --rounds windows of timed
steps after --warmup untimed ones, each window between two ``torch.cuda.synchronize()``):

cnn  issue 34's CNN on Fashion-MNIST, images/s: a plain PyTorch loop (gpu_peers.py) in fp32, bf16 and
     fp16 autocast, channels-last and torch.compile (compilation timed apart), against LayerLab's
     Trainer through ``layerlab.api.run`` in fp32, bf16 and fp16; at batch 128, then 512.
gpt  the ``shakespeare-transformer`` recipe's GPT, tokens/s: LayerLab fp32 and bf16 against a
     nanoGPT-style MiniGPT of the same size in a plain loop, and LayerLab's own GPT module in the same
     hand loop (which separates the model from the trainer); then nanoGPT's GPU configuration (6
     layers, 6 heads, 384 wide, context 256, batch 64, dropout 0.2) in the plain loop and in LayerLab.
ddp  issue 29: the plain CNN loop with no process group, then with NCCL initialised (world size 1,
     env://) and the model in DistributedDataParallel, then again without (the two bracket it).

LayerLab's rate is timed by a callback on the trainer's own steps (``StepTimer``), as the plain loop
is timed, in every epoch after the first (epochs of min(--warmup, 5) untimed + --steps timed steps,
sized by data.limit; diagnostics and the HTML report off, as they are not training); the run's ``examples_per_second`` of its last epoch (the
whole epoch, unsynchronised ends) is recorded beside it. Ratios are to the plain fp32 loop at the same
batch size (gpt: the plain MiniGPT fp32). First the core jobs of every section, then the extras;
when --budget-s runs out the rest is skipped and listed. A job that fails is recorded with its reason.
The JSON file is rewritten after every job, so a killed run keeps what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gpu_peers as peers
import torch

SECTIONS = ("cnn", "gpt", "ddp")
FASHION_TRAIN = 60_000  # Fashion-MNIST's training images
NANOGPT = {"dim": 384, "heads": 6, "layers": 6, "context": 256, "batch": 64, "dropout": 0.2}  # config/train_shakespeare_char.py


class BudgetExceeded(Exception):
    pass


@dataclass
class Job:
    section: str
    name: str
    tier: int  # 1: the core figures, run first in every section; 2: the extras
    run: Callable[[], dict]
    unit: str = "images/s"
    baseline: str | None = None  # the job whose value this one's ratio is taken to


@dataclass
class Bench:
    args: argparse.Namespace
    device: torch.device
    workdir: Path
    deadline: float
    results: list[dict] = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    # --------------------------------------------------------------------------- data, once
    def images(self) -> tuple[torch.Tensor, torch.Tensor]:
        if "images" not in self.cache:
            self.cache["images"] = peers.fashion_mnist(self.args.data, self.device, limit=self.args.limit)
        return self.cache["images"]

    def text(self) -> tuple[torch.Tensor, int]:
        if "text" not in self.cache:
            self.cache["text"] = peers.shakespeare(self.args.data, self.device)
        return self.cache["text"]

    def timing(self, steps: int) -> dict:
        return {"warmup": self.args.warmup, "steps": steps, "rounds": self.args.rounds}

    # -------------------------------------------------------------------------- plain loops
    def plain_cnn(self, batch: int, precision: str, *, compile: bool = False, channels_last: bool = False) -> dict:
        torch.manual_seed(0)
        model = peers.fashion_cnn().to(self.device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        forward = torch.compile(model) if compile else model
        step = peers.train_step(forward, optimizer, self.device, precision)
        x, y = self.images()
        out = peers.time_steps(step, peers.image_batches(x, y, batch), self.device, examples=batch,
                               **self.timing(self.args.steps))
        out["parameters"] = sum(p.numel() for p in model.parameters())
        if compile:
            out["compile_s"] = out["first_step_s"]  # the first call compiles forward and backward
        return out

    def plain_gpt(self, precision: str, *, model: str = "mini", nanogpt: bool = False, compile: bool = False) -> dict:
        ids, vocab = self.text()
        recipe = self.gpt_recipe()
        if nanogpt:
            shape, batch, dropout = NANOGPT, NANOGPT["batch"], NANOGPT["dropout"]
        else:
            shape = {"dim": recipe.model["dim"], "heads": recipe.model["heads"], "layers": recipe.model["layers"],
                     "context": recipe.data.max_length}
            batch, dropout = recipe.train.batch_size, recipe.model.get("dropout", 0.0)
        torch.manual_seed(0)
        if model == "layerlab":
            from layerlab.models import create_model

            net = create_model({**recipe.model, "vocab_size": vocab}, input_shape=(shape["context"],), num_outputs=vocab)
        else:  # nanoGPT's shakespeare-char model has no biases; the recipe's GPT has them
            net = peers.MiniGPT(vocab, shape["context"], shape["dim"], shape["heads"], shape["layers"], dropout, bias=not nanogpt)
        net = net.to(self.device).train()
        fused = {"fused": True} if self.device.type == "cuda" and nanogpt else {}  # nanoGPT's train.py asks for it
        optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.train.lr, betas=tuple(recipe.train.betas),
                                      weight_decay=recipe.train.weight_decay, **fused)
        forward = torch.compile(net) if compile else net
        step = peers.train_step(forward, optimizer, self.device, precision, grad_clip=recipe.train.grad_clip)
        with tf32(nanogpt):  # nanoGPT's train.py turns TF32 on; the recipe's runs keep PyTorch's default
            out = peers.time_steps(step, peers.text_batches(ids, batch, shape["context"]), self.device,
                                   examples=batch * shape["context"], **self.timing(self.args.gpt_steps))
        out["parameters"] = sum(p.numel() for p in net.parameters())
        if compile:
            out["compile_s"] = out["first_step_s"]
        return out

    def gpt_recipe(self):
        from layerlab.recipe import load_recipe

        return load_recipe("shakespeare-transformer")

    # ---------------------------------------------------------------------------- LayerLab
    def layerlab(self, recipe: str | dict, overrides: dict, *, batch: int, per_example: int, steps: int) -> dict:
        """``layerlab.api.run`` with a StepTimer on the trainer: epochs of just over warm-up + steps batches."""
        from layerlab.api import run

        timer = step_timer(self.layerlab_warmup(), steps, self.device)
        overrides = {"train.epochs": self.args.rounds + 1, "train.batch_size": batch, "train.device": str(self.device),
                     "train.report": False, "train.diagnostics_every": 0, "data.download": False, **overrides}
        out = self.workdir / f"run-{len(self.results)}"
        result = run(recipe, overrides, out=out, callbacks=[timer])
        rates = timer.rates[1:] or timer.rates  # the first epoch warms cuDNN and the allocator up
        if not rates:
            raise RuntimeError(f"no epoch reached {self.layerlab_warmup()} + {steps} steps; raise data.limit")
        history = result.history[-1]
        return {"value": statistics.median(rates) * per_example, "rounds": [r * per_example for r in rates],
                "history_rate": history["examples_per_second"] * per_example, "epochs": len(result.history),
                "parameters": sum(p.numel() for p in result.model.parameters()), "final_loss": history["train_loss"],
                "steps": steps}

    def layerlab_warmup(self) -> int:
        """Untimed steps at the start of each LayerLab epoch: few, as the first epoch (all warm-up) is dropped."""
        return min(self.args.warmup, 5)

    def layerlab_cnn(self, batch: int, precision: str) -> dict:
        if precision == "fp16" and self.device.type != "cuda":
            return {"status": "skipped", "reason": "fp16 with loss scaling needs CUDA in LayerLab"}
        val_fraction = 0.05
        batches = int(FASHION_TRAIN * (1 - val_fraction)) // batch  # an epoch of every training image
        steps = min(self.args.steps, batches - self.layerlab_warmup() - 2)  # batch 512: 111 batches
        limit = int((self.layerlab_warmup() + steps + 2) * batch / (1 - val_fraction)) + 1
        recipe = {"name": "gpu-bench-cnn", "data": {"name": "fashion-mnist", "val_fraction": val_fraction, "limit": limit},
                  "model": dict(peers.CNN_MODEL), "task": {"name": "classification"},
                  "train": {"optimizer": "adam", "lr": 1e-3, "precision": precision}}
        return self.layerlab(recipe, {}, batch=batch, per_example=1, steps=steps)

    def layerlab_gpt(self, precision: str, *, nanogpt: bool = False) -> dict:
        recipe = self.gpt_recipe()
        context, batch = (NANOGPT["context"], NANOGPT["batch"]) if nanogpt else (recipe.data.max_length, recipe.train.batch_size)
        held_out = recipe.data.val_fraction + recipe.data.test_fraction
        batches = int(len(self.text()[0]) * (1 - held_out) / (context + 1)) // batch  # an epoch of the whole text
        steps = min(self.args.gpt_steps, batches - self.layerlab_warmup() - 2)  # nanoGPT's context: 60 batches
        limit = int((self.layerlab_warmup() + steps + 2) * batch * (context + 1) / (1 - held_out)) + 1
        overrides = {"train.precision": precision, "train.max_seconds": 120, "data.limit": limit}
        if nanogpt:
            overrides |= {"model.dim": NANOGPT["dim"], "model.heads": NANOGPT["heads"], "model.layers": NANOGPT["layers"],
                          "model.dropout": NANOGPT["dropout"], "data.max_length": context}
        return self.layerlab("shakespeare-transformer", overrides, batch=batch, per_example=context, steps=steps)

    # ---------------------------------------------------------------------------------- DDP
    def ddp_cnn(self, batch: int) -> dict:
        if self.device.type != "cuda":
            return {"status": "skipped", "reason": "no CUDA: NCCL needs a GPU"}
        import torch.distributed as dist

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0")
        os.environ.setdefault("NCCL_SOCKET_IFNAME", "lo")  # one process on one machine: no other interface is needed
        dist.init_process_group("nccl", init_method="env://", device_id=self.device)
        try:
            torch.manual_seed(0)
            model = peers.fashion_cnn().to(self.device)
            wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=[self.device.index])
            step = peers.train_step(wrapped, torch.optim.Adam(wrapped.parameters(), lr=1e-3), self.device, "fp32")
            x, y = self.images()
            out = peers.time_steps(step, peers.image_batches(x, y, batch), self.device, examples=batch,
                                   **self.timing(self.args.steps))
            out["backend"], out["world_size"] = dist.get_backend(), dist.get_world_size()
            return out
        finally:
            dist.destroy_process_group()


@contextlib.contextmanager
def tf32(enabled: bool):
    """TF32 matmuls and convolutions on inside (when ``enabled``), PyTorch's settings restored after."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    if enabled:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def step_timer(warmup: int, steps: int, device: torch.device):
    """A LayerLab callback timing, in each epoch, the trainer's steps ``warmup + 1`` to ``warmup + steps``."""
    from layerlab.train.callbacks import Callback

    class StepTimer(Callback):
        name = "gpu_bench_step_timer"

        def __init__(self) -> None:
            self.rates: list[float] = []
            self.count, self.start = 0, 0.0

        def on_epoch_start(self, trainer) -> None:
            self.count = 0

        def on_step_end(self, trainer, loss) -> None:
            self.count += 1
            if self.count in (warmup, warmup + steps):
                peers.sync(device)
                now = time.perf_counter()
                if self.count == warmup:
                    self.start = now
                else:
                    self.rates.append(steps * trainer.cfg.batch_size / (now - self.start))

    return StepTimer()


# ------------------------------------------------------------------------------------------ jobs
def jobs(bench: Bench, sections: set[str]) -> list[Job]:
    """Every job of the chosen sections, core figures (tier 1) before extras (tier 2), compile last."""
    a = bench.args
    b0, big = a.batch_sizes[0], a.batch_sizes[1:]
    out: list[Job] = []
    if "cnn" in sections:
        base = f"plain fp32 b{b0}"
        out += [Job("cnn", base, 1, lambda: bench.plain_cnn(b0, "fp32"), baseline=base),
                Job("cnn", f"plain bf16 b{b0}", 1, lambda: bench.plain_cnn(b0, "bf16"), baseline=base)]
        out += [Job("cnn", f"layerlab {p} b{b0}", 1, lambda p=p: bench.layerlab_cnn(b0, p), baseline=base)
                for p in ("fp32", "bf16", "fp16")]
        out += [Job("cnn", f"plain fp16 b{b0}", 2, lambda: bench.plain_cnn(b0, "fp16"), baseline=base),
                Job("cnn", f"plain fp32 channels-last b{b0}", 2, lambda: bench.plain_cnn(b0, "fp32", channels_last=True), baseline=base),
                Job("cnn", f"plain bf16 channels-last b{b0}", 2, lambda: bench.plain_cnn(b0, "bf16", channels_last=True), baseline=base)]
        for b in big:
            out += [Job("cnn", f"plain fp32 b{b}", 2, lambda b=b: bench.plain_cnn(b, "fp32"), baseline=f"plain fp32 b{b}"),
                    Job("cnn", f"plain bf16 b{b}", 2, lambda b=b: bench.plain_cnn(b, "bf16"), baseline=f"plain fp32 b{b}")]
            out += [Job("cnn", f"layerlab {p} b{b}", 2, lambda b=b, p=p: bench.layerlab_cnn(b, p), baseline=f"plain fp32 b{b}")
                    for p in ("fp32", "bf16", "fp16")]
    if "gpt" in sections:
        base = "plain MiniGPT fp32"
        out += [Job("gpt", base, 1, lambda: bench.plain_gpt("fp32"), "tokens/s", base),
                Job("gpt", "plain MiniGPT bf16", 1, lambda: bench.plain_gpt("bf16"), "tokens/s", base),
                Job("gpt", "layerlab fp32", 1, lambda: bench.layerlab_gpt("fp32"), "tokens/s", base),
                Job("gpt", "layerlab bf16", 1, lambda: bench.layerlab_gpt("bf16"), "tokens/s", base),
                Job("gpt", "plain loop, layerlab GPT fp32", 2, lambda: bench.plain_gpt("fp32", model="layerlab"), "tokens/s", base),
                Job("gpt", "plain loop, layerlab GPT bf16", 2, lambda: bench.plain_gpt("bf16", model="layerlab"), "tokens/s", base)]
        nano = "nanoGPT-gpu plain bf16"
        out += [Job("gpt", nano, 2, lambda: bench.plain_gpt("bf16", nanogpt=True), "tokens/s", nano),
                Job("gpt", "nanoGPT-gpu plain fp32 (tf32)", 2, lambda: bench.plain_gpt("fp32", nanogpt=True), "tokens/s", nano),
                Job("gpt", "nanoGPT-gpu layerlab bf16", 2, lambda: bench.layerlab_gpt("bf16", nanogpt=True), "tokens/s", nano)]
    if "ddp" in sections:
        out += [Job("ddp", f"no process group fp32 b{b0}", 1, lambda: bench.plain_cnn(b0, "fp32"), baseline=f"no process group fp32 b{b0}"),
                Job("ddp", f"NCCL world 1 + DDP fp32 b{b0}", 1, lambda: bench.ddp_cnn(b0), baseline=f"no process group fp32 b{b0}"),
                Job("ddp", f"no process group fp32 b{b0} (again)", 1, lambda: bench.plain_cnn(b0, "fp32"), baseline=f"no process group fp32 b{b0}")]
    if not a.no_compile:
        if "cnn" in sections:
            out += [Job("cnn", f"plain fp32 compiled b{b0}", 3, lambda: bench.plain_cnn(b0, "fp32", compile=True), baseline=f"plain fp32 b{b0}"),
                    Job("cnn", f"plain bf16 compiled b{b0}", 3, lambda: bench.plain_cnn(b0, "bf16", compile=True), baseline=f"plain fp32 b{b0}")]
        if "gpt" in sections:
            out.append(Job("gpt", "nanoGPT-gpu plain bf16 compiled", 3, lambda: bench.plain_gpt("bf16", nanogpt=True, compile=True),
                           "tokens/s", "nanoGPT-gpu plain bf16"))
    out = [j for j in out if not any(word and word in j.name for word in a.skip.split(","))]
    return sorted(out, key=lambda j: j.tier)  # stable: each tier keeps the order above


def run_job(bench: Bench, job: Job) -> dict:
    """One job under the remaining budget (SIGALRM ends it when the budget runs out); never raises."""
    row = {"section": job.section, "name": job.name, "unit": job.unit, "tier": job.tier}
    left = bench.deadline - time.monotonic()
    if left < 1:
        return {**row, "status": "skipped", "reason": "the time budget ran out before it started"}
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        out = job.run()
        row |= {"status": "ok", **out} if "status" not in out else out
    except BudgetExceeded:
        row |= {"status": "stopped", "reason": f"the time budget ran out after {time.monotonic() - start:.0f} s"}
    except Exception as exc:  # one failure must not end the others
        row |= {"status": "failed", "reason": f"{type(exc).__name__}: {exc}".strip()[:500],
                "traceback": traceback.format_exc(limit=6)[-2000:]}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    row["wall_s"] = round(time.monotonic() - start, 2)
    if "compiled" in job.name:
        torch._dynamo.reset()  # later jobs must not find this job's compiled graphs
    if bench.device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def with_ratios(rows: list[dict], all_jobs: list[Job]) -> None:
    """Each ok row's value over its baseline's; where the baseline was run again (ddp), over the mean of both."""
    baseline = {j.name: j.baseline for j in all_jobs}
    ok = {r["name"]: r["value"] for r in rows if r.get("status") == "ok"}
    for r in rows:
        base = baseline.get(r["name"])
        references = [ok[n] for n in (base, f"{base} (again)") if n in ok]
        if r.get("status") == "ok" and base in ok:
            r["ratio"] = r["value"] / statistics.mean(references)


# ------------------------------------------------------------------------------------- output
def header(args: argparse.Namespace, device: torch.device) -> dict:
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "python": platform.python_version(), "gpu": gpu, "device": str(device), "cpu_threads": torch.get_num_threads(),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "cnn_model": peers.CNN_MODEL, "nanogpt_config": NANOGPT,
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}}


def print_row(r: dict) -> None:
    name = f"{r['section']:4s} {r['name']:36s}"
    if r["status"] != "ok":
        print(f"{name} {r['status']}: {r.get('reason', '')}", flush=True)
        return
    extra = f"  first step {r['first_step_s']:.2f} s" if "first_step_s" in r else ""
    extra += f"  compile {r['compile_s']:.1f} s" if "compile_s" in r else ""
    extra += f"  (history {r['history_rate']:,.0f})" if "history_rate" in r else ""
    spread = f"{min(r['rounds']):,.0f}-{max(r['rounds']):,.0f}" if r.get("rounds") else ""
    print(f"{name} {r['value']:>12,.0f} {r['unit']:9s} [{spread}]{extra}  {r['wall_s']:.0f} s wall", flush=True)


def print_table(rows: list[dict]) -> None:
    print(f"\n{'section':7s} {'measurement':38s} {'median':>12s} {'unit':9s} {'ratio':>6s}  note")
    for r in rows:
        if r["status"] == "ok":
            ratio = f"{r['ratio']:.2f}x" if "ratio" in r else ""
            note = f"compile {r['compile_s']:.1f} s" if "compile_s" in r else ""
            print(f"{r['section']:7s} {r['name']:38s} {r['value']:>12,.0f} {r['unit']:9s} {ratio:>6s}  {note}")
        else:
            print(f"{r['section']:7s} {r['name']:38s} {r['status']:>12s} {'':9s} {'':6s}  {r.get('reason', '')[:90]}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the JSON file to write")
    parser.add_argument("--data", type=Path, default=Path(".gpudata"),
                        help="folder with Fashion-MNIST's four IDX .gz files and tinyshakespeare's input.txt, "
                             "each directly in it or in fashion-mnist/ and tinyshakespeare/")
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run, of cnn,gpt,ddp")
    parser.add_argument("--budget-s", type=float, default=300.0, help="wall-clock seconds for all jobs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before the timed ones (>= 1)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per round, cnn and ddp")
    parser.add_argument("--gpt-steps", type=int, default=50, help="timed steps per round, gpt")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; the median is reported")
    parser.add_argument("--batch-sizes", default="128,512", help="cnn and ddp: the first is the core one")
    parser.add_argument("--limit", type=int, default=None, help="plain cnn loops: use only this many images")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile jobs")
    parser.add_argument("--skip", default="", help="skip the jobs whose names contain one of these comma-separated words")
    args = parser.parse_args(argv)
    args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    unknown = set(args.only.split(",")) - set(SECTIONS)
    if unknown or args.warmup < 1 or not args.batch_sizes:
        parser.error(f"--only takes {','.join(SECTIONS)} (got {sorted(unknown)}); --warmup >= 1; --batch-sizes not empty")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    # LayerLab finds the data through its search path, offline, and never writes outside workdir
    os.environ["LAYERLAB_DATA"] = os.pathsep.join([str(args.data.resolve()), os.environ.get("LAYERLAB_DATA", "")]).rstrip(os.pathsep)
    os.environ.update(LAYERLAB_OFFLINE="1", LAYERLAB_CACHE=str(workdir / "cache"))
    device = torch.device(args.device)
    if device.type == "cuda":
        device = torch.device("cuda", device.index if device.index is not None else torch.cuda.current_device())
        torch.backends.cudnn.benchmark = True  # as LayerLab's trainer sets it, and a user tuning a loop would

    def out_of_time(signum, frame):
        raise BudgetExceeded

    signal.signal(signal.SIGALRM, out_of_time)
    info = header(args, device)
    print(json.dumps({k: v for k, v in info.items() if k != "settings"}))
    print("settings:", json.dumps(info["settings"]), flush=True)
    bench = Bench(args, device, workdir, deadline=began + args.budget_s)
    all_jobs = jobs(bench, set(args.only.split(",")))
    for job in all_jobs:
        bench.results.append(run_job(bench, job))
        print_row(bench.results[-1])
        with_ratios(bench.results, all_jobs)
        write(args.out, {**info, "results": bench.results, "wall_s": time.monotonic() - began, "complete": False})
    print_table(bench.results)
    skipped = [r["name"] for r in bench.results if "budget" in r.get("reason", "")]
    if skipped:
        print(f"\nthe {args.budget_s:.0f} s budget ran out: not measured: {', '.join(skipped)}")
    write(args.out, {**info, "results": bench.results, "wall_s": time.monotonic() - began, "complete": True})
    print(f"\nwrote {args.out} ({time.monotonic() - began:.0f} s)")


def write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
