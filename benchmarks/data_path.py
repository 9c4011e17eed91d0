"""Benchmark 3: LayerLab's in-memory batched data path against torch's DataLoader.

Both produce the same thing: shuffled batches of 256 Fashion-MNIST training images with a random crop
(padding 2) and a random horizontal flip. LayerLab indexes tensors in memory and augments whole
batches; the reference is a map-style Dataset with per-sample torchvision transforms behind a
DataLoader (0 and 2 workers). Measured alternately in one process, best of several rounds.

    python benchmarks/data_path.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from layerlab.data import load_data
from layerlab.data.batching import BatchAugment, batches, epoch_order
from layerlab.recipe import AugmentConfig, DataConfig
from layerlab.train.device import step_generator

BATCH = 256


class PerSample(TorchDataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        from torchvision.transforms import v2

        self.x, self.y = x, y
        self.transform = v2.Compose([v2.RandomCrop(x.shape[-1], padding=2), v2.RandomHorizontalFlip()])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.transform(self.x[i]), self.y[i]


def layerlab_epoch(x, y, augment, epoch: int) -> int:
    count = 0
    for i, (xb, _yb) in enumerate(batches(x, y, batch_size=BATCH, order=epoch_order(len(x), seed=0, epoch=epoch))):
        xb = augment(xb, step_generator(0, epoch, i, xb.device))
        count += 1
    return count


def loader_epoch(loader) -> int:
    count = 0
    for _xb, _yb in loader:
        count += 1
    return count


def timed(fn) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n", type=int, default=None, help="training images (default all)")
    args = parser.parse_args()
    data = load_data(DataConfig(name="fashion-mnist", val_fraction=0.0, limit=args.n), task="classification", seed=0)
    x, y = data.train.x, data.train.y
    augment = BatchAugment(AugmentConfig(crop_padding=2, hflip=True))
    dataset = PerSample(x, y)
    candidates = {
        "layerlab (in-memory, batched augmentation)": lambda e: layerlab_epoch(x, y, augment, e),
        "DataLoader, per-sample transforms, 0 workers": lambda e: loader_epoch(DataLoader(dataset, BATCH, shuffle=True, num_workers=0)),
        "DataLoader, per-sample transforms, 2 workers": lambda e: loader_epoch(DataLoader(dataset, BATCH, shuffle=True, num_workers=2)),
    }
    best: dict[str, float] = {}
    for r in range(args.rounds):
        for name, fn in candidates.items():
            seconds, n = timed(lambda fn=fn, r=r: fn(r))
            best[name] = max(best.get(name, 0.0), n / seconds)
            print(f"round {r + 1}  {name:48s} {n / seconds:9.1f} batches/s")
    base = best["layerlab (in-memory, batched augmentation)"]
    print(f"\n{len(x):,} images, batches of {BATCH}, crop(pad 2) + flip; best of {args.rounds} rounds")
    for name, rate in best.items():
        print(f"  {name:48s} {rate:9.1f} batches/s   layerlab is {base / rate:6.1f}x")


if __name__ == "__main__":
    main()
