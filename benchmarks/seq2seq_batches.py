"""Training steps a second of the Multi30k translation recipes: batches padded to the data's length, cut
to their longest sentence, and cut after grouping sentences of about one length.

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/seq2seq_batches.py --threads 2

The three ways see the same model (the recipe's, same seed) and data (the recipe's BPE Multi30k):

- **padded**: every batch as long as ``data.max_length`` (how the task computed it before ``trim``);
- **trimmed**: the columns that are padding in every row dropped (``Seq2SeqTask.forward``);
- **trimmed + grouped**: the same, with ``train.group_by_length``'s order of the examples.

Each gets 2 warm-up steps and then ``--steps`` timed ones (AdamW, the recipe's precision and clipping),
taken from the start of epoch 1's order; "real" is the share of the computed target positions that are
real tokens. One machine, one process, one way after the other.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from layerlab.data import load_data
from layerlab.data.batching import batches, epoch_order, length_grouped, token_lengths
from layerlab.models import create_model
from layerlab.models.inference import autocast
from layerlab.recipe import load_recipe
from layerlab.tasks import create_task
from layerlab.tasks.seq2seq import PAD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["multi30k-transformer", "multi30k-gru-attention"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("| recipe | batches | s / step (median) | sentence pairs / s | real target positions | speed-up |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in args.recipes:
        cfg = load_recipe(name)
        data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed)
        task = create_task(cfg.task, num_classes=data.info.num_classes, class_names=data.info.class_names,
                           train_targets=data.train.y, preprocessor=data.preprocessor)
        train, batch = data.train, cfg.train.batch_size
        order = epoch_order(len(train), seed=cfg.train.seed, epoch=0)
        grouped = length_grouped(order, token_lengths(train.x, train.y), batch_size=batch, seed=cfg.train.seed, epoch=0)

        def padded_forward(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return model(x, y[:, :-1])

        ways = [("padded", order, padded_forward), ("trimmed", order, task.forward),
                ("trimmed + grouped", grouped, task.forward)]
        base = None
        for way, way_order, forward in ways:
            torch.manual_seed(cfg.train.seed)
            model = create_model(cfg.model, input_shape=data.info.input_shape, num_outputs=task.num_outputs(),
                                 data_fields=data.info.model_hints())
            optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
            times, real, computed = [], 0, 0
            for i, (x, y) in enumerate(batches(train.x, train.y, batch_size=batch, order=way_order)):
                if i == args.steps + 2:
                    break
                start = time.perf_counter()
                with autocast(x.device, cfg.train.precision):
                    output = forward(model, x, y)
                    loss = task.loss(output, y)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip or float("inf"))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if i >= 2:
                    times.append(time.perf_counter() - start)
                    real += int((y[:, 1:] != PAD).sum())
                    computed += output.shape[0] * output.shape[1]
            seconds = statistics.median(times)
            base = base or seconds
            print(f"| {name} | {way} | {seconds:.3f} | {batch / seconds:.0f} | {real / computed:.0%} | "
                  f"{base / seconds:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
