"""Benchmark: 2-D maps of 5,000 Fashion-MNIST test images, four representations side by side.

    raw pixels -> PCA      raw pixels -> t-SNE      autoencoder latent -> t-SNE      CNN features -> t-SNE

scored by trustworthiness (k = 10) and 10-NN accuracy in the map, in one table and one figure. The
autoencoder and the CNN are runs of benchmarks/generative.py (parts dae and classifier).

    python benchmarks/embeddings.py [--root runs/bench-generative] [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from layerlab.analyze.embed import Embedding, map_quality, project, representation, write_embedding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="runs/bench-generative")
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("LAYERLAB_DATA", "../shared/data")
    from layerlab.api import load_run
    from layerlab.data import load_data
    from layerlab.recipe import DataConfig

    root = Path(args.root)
    raw = load_data(DataConfig(name="fashion-mnist", normalize=False), task="classification", seed=0)
    take = torch.randperm(len(raw.test), generator=torch.Generator().manual_seed(0))[: args.n]
    pixels, labels = raw.test.x[take], raw.test.y[take].numpy()

    autoencoder = load_run(root / "dae", device="cpu")
    classifier = load_run(root / "classifier", device="cpu")
    cnn_inputs = classifier.preprocessor.transform(pixels.numpy() * classifier.preprocessor.scale)
    sources = {
        "pixels": pixels.flatten(1).numpy(),
        "autoencoder latent": representation(autoencoder.model, pixels, source="latent"),
        "CNN features": representation(classifier.model, cnn_inputs, source="features"),
    }
    rows = [("pixels", "pca"), ("pixels", "tsne"), ("autoencoder latent", "tsne"), ("CNN features", "tsne")]
    result = Embedding({}, labels.astype(np.int64))
    table = {}
    for source, method in rows:
        name = f"{source} / {method}"
        start = time.perf_counter()
        coords = project(sources[source], method, seed=0)
        seconds = time.perf_counter() - start
        result.coords[name], result.seconds[name] = coords, seconds
        result.quality[name] = map_quality(sources[source], coords, result.labels)
        table[name] = {**result.quality[name], "dims": sources[source].shape[1], "seconds": round(seconds, 1)}
        print(name, json.dumps(table[name]), flush=True)
    written = write_embedding(result, root / "embeddings", class_names=raw.info.class_names, items=pixels,
                              title=f"{args.n} Fashion-MNIST test images", compare=True)
    (root / "embeddings" / "table.json").write_text(json.dumps(table, indent=2) + "\n")
    print("| representation / method | dims | trustworthiness | 10-NN accuracy | seconds |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, q in table.items():
        print(f"| {name} | {q['dims']} | {q['trustworthiness']:.3f} | {q['knn_accuracy']:.3f} | {q['seconds']} |")
    print("figure:", written["files"]["compare.png"])


if __name__ == "__main__":
    main()
