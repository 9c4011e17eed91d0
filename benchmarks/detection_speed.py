"""Training images/s of a detection recipe through LayerLab against a plain torchvision loop.

Both train the recipe's model (same architecture, same data, same batch size, AdamW) for the same
number of images; the plain loop is torchvision's reference pattern (``model(images, targets)``,
sum the loss dict, backward, step) with nothing around it. Run on a quiet machine:

    python benchmarks/detection_speed.py [--recipe scenes-detection] [--images 512] [--batch-size 16]

Prints one line per side and their ratio. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def plain_loop(recipe: str, images: int, batch_size: int) -> float:
    """Images/s of torchvision's reference loop over the recipe's model and data."""
    from layerlab.data import load_data
    from layerlab.models import create_model
    from layerlab.recipe import load_recipe

    cfg = load_recipe(recipe, [f"data.train_scenes={images}", "data.val_fraction=0"])
    data = load_data(cfg.data, task="detection", seed=cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = create_model(cfg.model, input_shape=data.info.input_shape, num_outputs=data.info.num_classes).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    x, y = data.train.x, list(data.train.y)
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        losses = model(x[i:i + batch_size], y[i:i + batch_size])
        loss = sum(losses.values())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return len(x) / (time.perf_counter() - start)


def layerlab_run(recipe: str, images: int, batch_size: int) -> float:
    """Images/s of one epoch of ``layerlab run`` (its own history's examples_per_second)."""
    from layerlab.api import run

    with tempfile.TemporaryDirectory() as out:
        result = run(recipe, [f"data.train_scenes={images}", "data.val_fraction=0", "data.test_scenes=8",
                              "train.epochs=1", f"train.batch_size={batch_size}", "train.schedule=constant"],
                     runs_root=out)
    return result.history[0]["examples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="scenes-detection")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    plain = plain_loop(args.recipe, args.images, args.batch_size)
    ours = layerlab_run(args.recipe, args.images, args.batch_size)
    print(f"{args.recipe}: torchvision loop {plain:.1f} images/s, layerlab run {ours:.1f} images/s, "
          f"ratio {ours / plain:.2f}")


if __name__ == "__main__":
    main()
