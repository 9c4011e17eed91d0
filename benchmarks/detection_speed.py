"""Training images/s of the detection recipes through LayerLab against a plain torchvision loop, side by side.

Both sides train the recipe's model (same architecture, same seed, same data, same batch size, AdamW) with the
recipe's augmentation off (the plain loop has none) and the recipe's gradient clipping on both sides; the plain
loop is torchvision's reference pattern (``model(images, targets)``, sum the loss dict, backward, clip, step)
with nothing around it. LayerLab runs with its per-layer diagnostics off (on a 2-epoch run they would sample
nearly every step). Each side makes two passes
over the same images and is timed on the second, so start-up costs (first allocations, autocast caches, the
first epoch's set-up) count on neither. Precisions: fp32 on both sides, and bf16 autocast on both sides where the
CPU computes it natively (what the recipes' ``precision: auto`` picks there). Run on a quiet machine:

    python benchmarks/detection_speed.py [--recipes scenes-detection pennfudan-detection] [--images 2048]
        [--json detection_speed.json]

Prints one row per recipe and precision: images/s of each side and their ratio. Not a test: the figures depend
on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time

import torch

# The recipe's augmentation off, so that both sides see the same pixels (the plain loop augments nothing).
NO_AUGMENT = ["data.augment.hflip=false", "data.augment.crop_padding=0", "data.augment.zoom=0"]


def data_overrides(recipe: str, images: int) -> list[str]:
    """No validation split, and for generated scenes the number of training scenes."""
    extra = [f"data.train_scenes={images}", "data.test_scenes=8"] if recipe.startswith("scenes") else []
    return ["data.val_fraction=0", *extra, *NO_AUGMENT]


def plain_loop(recipe: str, images: int, batch_size: int, precision: str) -> float:
    """Images/s of torchvision's reference loop over the recipe's model and data (second pass timed)."""
    from layerlab.data import load_data
    from layerlab.models import create_model
    from layerlab.recipe import load_recipe

    cfg = load_recipe(recipe, data_overrides(recipe, images))
    data = load_data(cfg.data, task="detection", seed=cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    model = create_model(cfg.model, input_shape=data.info.input_shape, num_outputs=data.info.num_classes).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    x, y = data.train.x, list(data.train.y)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
                else contextlib.nullcontext())
    seconds = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            with autocast:
                losses = model(x[i:i + batch_size], y[i:i + batch_size])
            loss = sum(losses.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.train.grad_clip:  # the recipe's clipping, as LayerLab applies it
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
            optimizer.step()
        seconds = time.perf_counter() - start
    return len(x) / seconds


def layerlab_run(recipe: str, images: int, batch_size: int, precision: str) -> float:
    """Images/s of ``layerlab run``'s second epoch (its own history's examples_per_second)."""
    from layerlab.api import run

    # diagnostics off: by default a run records per-layer statistics about 100 times, which on these 2-epoch runs
    # would be nearly every step (on the recipes' real runs, every ~100th)
    overrides = [*data_overrides(recipe, images), "train.epochs=2", "train.max_seconds=null", "train.budget=off",
                 "train.diagnostics_every=0", "train.report=false",
                 f"train.batch_size={batch_size}", "train.schedule=constant", f"train.precision={precision}"]
    with tempfile.TemporaryDirectory() as out:
        result = run(recipe, overrides, runs_root=out)
    return result.history[-1]["examples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["scenes-detection", "pennfudan-detection"])
    parser.add_argument("--images", type=int, default=2048, help="training scenes for the scenes recipes")
    parser.add_argument("--batch-size", type=int, default=None, help="default: each recipe's own")
    parser.add_argument("--precisions", nargs="+", default=None, help="default: fp32, and bf16 where native")
    parser.add_argument("--json", default=None, help="write the rows here too")
    args = parser.parse_args()
    from layerlab.models.inference import native_bf16
    from layerlab.recipe import load_recipe

    precisions = args.precisions or (["fp32", "bf16"] if native_bf16(torch.device("cpu")) else ["fp32"])
    rows = []
    for recipe in args.recipes:
        batch_size = args.batch_size or load_recipe(recipe).train.batch_size
        for precision in precisions:
            plain = plain_loop(recipe, args.images, batch_size, precision)
            ours = layerlab_run(recipe, args.images, batch_size, precision)
            rows.append({"recipe": recipe, "precision": precision, "batch_size": batch_size,
                         "torchvision_loop": plain, "layerlab": ours, "ratio": ours / plain})
            print(f"{recipe} {precision} batch {batch_size}: torchvision loop {plain:.1f} images/s, "
                  f"layerlab run {ours:.1f} images/s, ratio {ours / plain:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": torch.get_num_threads(), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
