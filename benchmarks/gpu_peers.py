"""The plain-PyTorch peers of benchmarks/gpu_bench.py: models, device-resident data and a timed loop.

Written as a user who knows PyTorch would write them, without LayerLab: the data set as tensors on the
device, a random permutation per pass, ``torch.cuda.synchronize()`` around each timed window.

- ``fashion_cnn``: issue 34's CNN as an ``nn.Sequential``, layer for layer the LayerLab model
  ``CNN_MODEL`` (conv 32 -> BN -> ReLU -> max-pool -> conv 64 -> BN -> ReLU -> global average pool ->
  dropout -> dense 128 -> ReLU -> dropout -> dense 10); gpu_bench checks the parameter counts agree.
- ``MiniGPT``: a nanoGPT-style causal transformer (pre-norm blocks, one fused q/k/v projection,
  ``scaled_dot_product_attention(is_causal=True)``, learned positions, tied output weights).
- ``time_steps``: warm-up steps, then ``rounds`` windows of ``steps`` timed steps; the median rate.
"""

from __future__ import annotations

import contextlib
import gzip
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The LayerLab model of issue 34's CNN (its `cnn` family: global average pooling, not a flatten).
CNN_MODEL = {"name": "cnn", "width": 32, "blocks": 2, "convs_per_block": 1, "head_hidden": 128, "dropout": 0.25}


# ------------------------------------------------------------------------------------------ data
def find_file(data_dir: Path, folder: str, name: str) -> Path:
    """``name`` in ``data_dir/folder``, ``data_dir`` or Debian's ``/usr/share/datasets/folder`` (as LayerLab looks)."""
    for directory in (data_dir / folder, data_dir, Path("/usr/share/datasets") / folder):
        for candidate in (directory / name, directory / name.removesuffix(".gz")):
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(f"{name} not found in {data_dir / folder}, {data_dir} or /usr/share/datasets/{folder}")


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist(data_dir: Path, device: torch.device, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images standardised, (N, 1, 28, 28) float32, and labels (N,) int64, on ``device``."""
    images = _read_idx(find_file(data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz"))[:limit]
    labels = _read_idx(find_file(data_dir, "fashion-mnist", "train-labels-idx1-ubyte.gz"))[:limit]
    x = torch.from_numpy(images.copy()).to(device).float().div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    x = (x - x.mean()) / x.std()
    return x, torch.from_numpy(labels.astype(np.int64)).to(device)


def shakespeare(data_dir: Path, device: torch.device) -> tuple[torch.Tensor, int]:
    """tiny-shakespeare's characters as token ids (N,) int64 on ``device``, and the vocabulary size."""
    text = find_file(data_dir, "tinyshakespeare", "input.txt").read_text(encoding="utf-8")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    return torch.from_numpy(ids).to(device), len(vocab)


def image_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Endless full batches, a fresh random permutation on the device for each pass."""
    while True:
        order = torch.randperm(len(x), device=x.device)
        for start in range(0, len(x) - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]


def text_batches(ids: torch.Tensor, batch_size: int, context: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """nanoGPT's get_batch, on the device: random windows of ``context + 1`` tokens, inputs and next tokens."""
    offsets = torch.arange(context + 1, device=ids.device)
    while True:
        starts = torch.randint(len(ids) - context - 1, (batch_size, 1), device=ids.device)
        windows = ids[starts + offsets]  # (B, T + 1)
        yield windows[:, :-1], windows[:, 1:]


# ---------------------------------------------------------------------------------------- models
def fashion_cnn(dropout: float = CNN_MODEL["dropout"]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),  # (B, 32, 28, 28)
        nn.MaxPool2d(2),  # (B, 32, 14, 14)
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),  # (B, 64, 14, 14)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 64)
        nn.Dropout(dropout), nn.Linear(64, 128), nn.ReLU(),
        nn.Dropout(dropout), nn.Linear(128, 10),  # (B, 10)
    )


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float, bias: bool):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2 = nn.LayerNorm(dim, bias=bias), nn.LayerNorm(dim, bias=bias)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim, bias=bias), nn.Linear(dim, dim, bias=bias)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim, bias=bias), nn.GELU(), nn.Linear(4 * dim, dim, bias=bias),
                                 nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, T, D) each
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + self.drop(self.proj(y))
        return x + self.mlp(self.ln2(x))


class MiniGPT(nn.Module):
    """tokens (B, T) -> logits (B, T, vocab); nanoGPT's model in about 20 lines."""

    def __init__(self, vocab: int, context: int, dim: int, heads: int, layers: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.embed, self.pos = nn.Embedding(vocab, dim), nn.Embedding(context, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(_Block(dim, heads, dropout, bias) for _ in range(layers)))
        self.ln = nn.LayerNorm(dim, bias=bias)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight  # tied, as GPT-2 and nanoGPT
        self.apply(lambda m: nn.init.normal_(m.weight, std=0.02) if isinstance(m, (nn.Linear, nn.Embedding)) else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.embed(x) + self.pos.weight[: x.shape[1]])  # (B, T, C)
        return self.head(self.ln(self.blocks(h)))  # (B, T, V)


# ------------------------------------------------------------------------------------ the loop
def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device, precision: str,
               grad_clip: float | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """One optimiser step on a batch: forward under autocast, cross-entropy, backward (loss-scaled for fp16), step."""
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision):
            out = model(x)
        loss = F.cross_entropy(out.flatten(0, -2).float(), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if grad_clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        return loss.detach()

    return step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step: Callable, batches: Iterator, device: torch.device, *, warmup: int, steps: int, rounds: int,
               examples: int) -> dict:
    """``warmup`` untimed steps (the first one's time reported apart: it holds compilation or cuDNN's
    autotuning), then ``rounds`` windows of ``steps`` steps; ``examples`` per step. Median rate per second."""
    sync(device)
    start = time.perf_counter()
    step(*next(batches))
    sync(device)
    first = time.perf_counter() - start
    for _ in range(max(0, warmup - 1)):
        step(*next(batches))
    rates = []
    for _ in range(rounds):
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            loss = step(*next(batches))
        sync(device)
        rates.append(steps * examples / (time.perf_counter() - start))
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the training loss became {loss.item()}")
    return {"value": statistics.median(rates), "rounds": rates, "first_step_s": first, "final_loss": loss.item()}
