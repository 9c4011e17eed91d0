"""Issue 34: a folder of 100,000 generated images trained through the memory-mapped cache (``data.cache: mmap``).

Generates ``--images`` PNGs of ``--size`` squared RGB pixels into a folder (ten classes, told apart by
the orientation and colour of a striped pattern, under a random shift, brightness and noise), then in
a child process:

1. ``load_data`` with ``data.cache: mmap`` decodes the folder into the cache: seconds and cache bytes;
2. ``load_data`` again: the cache reused (seconds);
3. ``api.run``: one epoch of a small CNN (crops and flips) through the cache, validation and test included.

It prints the child's peak resident memory (VmHWM, the kernel's high-water mark over all three steps)
beside its resident memory once torch and LayerLab are imported, the cache file's size (the decoded
uint8 images) and the four times larger float32 split they stood for before issue 34.

    python benchmarks/image_cache.py [--images 100000] [--size 64] [--folder DIR] [--keep] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES = 10


def generate(folder: Path, n: int, size: int, seed: int = 0) -> float | None:
    """Write ``n`` PNGs (``n // 10`` per class folder); returns the seconds it took (None: a folder of
    ``--folder`` that already holds them, kept from an earlier ``--keep`` run)."""
    from PIL import Image

    if folder.is_dir() and sum(1 for _ in folder.rglob("*.png")) == n:
        return None
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    for c in range(CLASSES):
        (folder / f"class{c}").mkdir(parents=True, exist_ok=True)
    for lo in range(0, n, 1000):
        labels = np.arange(lo, min(n, lo + 1000)) % CLASSES
        for i, image in zip(range(lo, lo + len(labels)), _images(labels, rows, cols, rng)):
            Image.fromarray(image).save(folder / f"class{labels[i - lo]}" / f"{i:06d}.png", compress_level=1)
    return time.perf_counter() - start


def _images(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(B, H, W, 3) uint8: class c's stripes run at c * 18 degrees, in its own colour."""
    angle = labels[:, None, None] * (np.pi / CLASSES)
    phase = rng.uniform(0, 2 * np.pi, (len(labels), 1, 1))
    wave = np.sin((np.cos(angle) * cols + np.sin(angle) * rows) * (2 * np.pi / 8) + phase)  # (B, H, W)
    colour = np.stack([np.cos(labels * 0.6), np.sin(labels * 0.9), np.cos(labels * 1.7)], 1) * 0.5 + 0.5  # (B, 3)
    bright = rng.uniform(0.6, 1.0, (len(labels), 1, 1, 1))
    image = (wave[..., None] * 0.5 + 0.5) * colour[:, None, None, :] * bright * 200
    image += rng.normal(0, 20, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def child(folder: Path, out: Path, batch_size: int) -> dict:
    from layerlab import api
    from layerlab.data import load_data
    from layerlab.recipe import DataConfig

    after_imports = _status_mb("VmRSS")
    data_section = {"name": "image-folder", "path": str(folder), "cache": "mmap", "test_fraction": 0.1}
    start = time.perf_counter()
    data = load_data(DataConfig(**data_section), task="classification", seed=0)
    build = time.perf_counter() - start
    array = data.train.x.rows.cache.paths.array
    splits = {name: len(getattr(data, name)) for name in ("train", "val", "test")}
    del data
    start = time.perf_counter()
    load_data(DataConfig(**data_section), task="classification", seed=0)
    reuse = time.perf_counter() - start
    recipe = {"name": "image-cache", "data": {**data_section, "augment": {"crop_padding": 4, "hflip": True}},
              "model": {"name": "cnn", "width": 8, "blocks": 1, "convs_per_block": 1},  # cheap: the data path is measured
              "train": {"epochs": 1, "batch_size": batch_size, "eval_batch_size": batch_size, "lr": 0.01, "report": False}}
    result = api.run(recipe, out=out)
    return {"splits": splits, "build_seconds": build, "reuse_seconds": reuse, "cache_bytes": array.stat().st_size,
            "train_seconds": result.summary.get("train_seconds"), "test_accuracy": result.summary["test"]["accuracy"],
            "rss_after_imports_mb": after_imports, "peak_rss_mb": _status_mb("VmHWM"), "rss_end_mb": _status_mb("VmRSS")}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="images of the small folder run first: the fixed cost")
    parser.add_argument("--size", type=int, default=64, help="side of the square images, pixels")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--folder", type=Path, help="work folder (default: a new temporary one, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the images, the caches and the runs")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child / "images", args.child / "run", args.batch_size)))
        return
    work = args.folder or Path(tempfile.mkdtemp(prefix="image-cache-"))
    try:
        figures = {name: _measure(work / name, n, args) for name, n in (("small", args.small), ("large", args.images))}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=1))
    small, large = figures["small"], figures["large"]
    decoded = large["cache_bytes"] / 2**20
    print(f"{args.images} images of {args.size}x{args.size}: generated in {large['generate_seconds']} s; cache built in "
          f"{large['build_seconds']:.1f} s ({decoded:.0f} MiB), reused in {large['reuse_seconds']:.1f} s; one epoch "
          f"{large['train_seconds']:.0f} s, test accuracy {large['test_accuracy']:.3f}")
    print(f"peak RSS {large['peak_rss_mb']:.0f} MiB, against {small['peak_rss_mb']:.0f} MiB for {args.small} images "
          f"(after imports {large['rss_after_imports_mb']:.0f} MiB): the {args.images - args.small} more images cost "
          f"{large['peak_rss_mb'] - small['peak_rss_mb']:.0f} MiB of resident memory; decoded they are {decoded:.0f} MiB "
          f"of uint8 ({4 * decoded:.0f} MiB as float32)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


def _measure(work: Path, n: int, args: argparse.Namespace) -> dict:
    """Generate ``n`` images under ``work/images``, then build, reuse and train in a child process."""
    figures = {"images": n, "size": args.size, "generate_seconds": generate(work / "images", n, args.size)}
    env = {**os.environ, "LAYERLAB_CACHE": str(work / "cache")}
    cmd = [sys.executable, __file__, "--child", str(work), "--batch-size", str(args.batch_size)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"the child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return figures | json.loads(done.stdout.splitlines()[-1])


if __name__ == "__main__":
    main()
