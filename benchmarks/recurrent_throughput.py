"""Characters a second of the shakespeare-lstm network's training step, for several batch shapes.

    .venv/bin/python benchmarks/recurrent_throughput.py --threads 2

The network is built from the built-in recipe (65 characters, embedding 64, LSTM 384 x 2), trained with
AdamW under the recipe's precision (``auto``: bf16 where the CPU has it natively); each shape gets 3
warm-up steps, then the mean of ``--steps`` timed ones on random character ids. Used to ask whether a
larger batch would buy the LSTM more characters in its 15 minutes.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from layerlab.models import create_model
from layerlab.models.inference import autocast
from layerlab.recipe import load_recipe


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, precision: str) -> None:
    with autocast(x.device, precision):
        logits = model(x).float()  # (B, T, vocab)
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="shakespeare-lstm")
    parser.add_argument("--shapes", nargs="+", default=["64x128", "128x64", "128x128", "256x64"],
                        help="BATCHxLENGTH of each timing")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg, vocab = load_recipe(args.recipe), 65
    print(f"| batch x length | s / step | characters / s |  ({args.recipe}, precision {cfg.train.precision})")
    print("| --- | ---: | ---: |")
    for shape in args.shapes:
        batch, length = (int(v) for v in shape.split("x"))
        model = create_model(cfg.model, input_shape=(length,), num_outputs=vocab, data_fields={"vocab_size": vocab})
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
        x, y = torch.randint(1, vocab, (batch, length)), torch.randint(1, vocab, (batch, length))

        for _ in range(3):
            train_step(model, optimizer, x, y, cfg.train.precision)
        start = time.perf_counter()
        for _ in range(args.steps):
            train_step(model, optimizer, x, y, cfg.train.precision)
        seconds = (time.perf_counter() - start) / args.steps
        print(f"| {batch} x {length} | {seconds:.3f} | {batch * length / seconds:,.0f} |")


if __name__ == "__main__":
    main()
