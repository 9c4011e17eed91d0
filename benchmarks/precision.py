"""Training throughput of a registered model in fp32 and in bf16 autocast, alternated in one process.

    python benchmarks/precision.py cnn --input 1x28x28 --batch-size 256
    python benchmarks/precision.py resnet18 --input 1x28x28 --batch-size 128
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import torch.nn.functional as F

from layerlab.models import create_model, parse_input_shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--input", default="1x28x28")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shape = parse_input_shape(args.input)
    torch.manual_seed(0)
    model = create_model({"name": args.model}, input_shape=shape, num_outputs=10)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x, y = torch.randn(args.batch_size, *shape), torch.randint(0, 10, (args.batch_size,))

    def step(precision: str) -> None:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
        with ctx:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for r in range(args.rounds):
        for precision in ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32"):
            step(precision)  # warm-up: kernels for this precision
            start = time.perf_counter()
            for _ in range(args.steps):
                step(precision)
            rates[precision].append(args.steps * args.batch_size / (time.perf_counter() - start))
    fp32, bf16 = statistics.median(rates["fp32"]), statistics.median(rates["bf16"])
    print(f"{args.model} on {args.input}, batch {args.batch_size}: fp32 {fp32:.0f} img/s, bf16 {bf16:.0f} img/s "
          f"(bf16/fp32 {bf16 / fp32:.2f}), median of {args.rounds}")


if __name__ == "__main__":
    main()
