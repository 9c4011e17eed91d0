"""The generative verbs on run directories: ``reconstruct``, ``interpolate``, ``embed``, ``frechet``.

Each reads only run directories (and the data their recipes name), like every command after training;
``layerlab.api`` names them for the CLI (``layerlab.commands.generative``). They build on the runs layer's
``load_run``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from layerlab.errors import UsageError
from layerlab.runs import load_run


def reconstruct(run_dir: str | Path, *, out: str | Path | None = None, n: int = 16, split: str = "test",
                device: str = "auto") -> dict[str, Any]:
    """A PNG of ``n`` images of a split beside their reconstructions by an autoencoder or VAE run: a row
    of originals, (for a denoising run) a row of their noisy versions, and a row of the outputs, repeated
    in blocks of up to 16 columns. Returns ``{"path", "n", "metrics"}`` (the metrics of those images)."""
    from layerlab.tasks.imaging import save_grid

    loaded = load_run(run_dir, device=device)
    if not hasattr(loaded.model, "decode"):
        raise UsageError(f"{run_dir} is not an autoencoder or VAE run; reconstruct needs one")
    chosen = loaded.split(split)
    x = chosen.x[:n].to(loaded.device)
    if x.ndim != 4:
        raise UsageError("reconstruct draws images; this run's inputs are not images")
    task = loaded.task
    if hasattr(task, "reconstruct"):  # reconstruction task: with its (denoising) noise
        output = task.reconstruct(loaded.model, x, batch_size=256)
        rows = [x] + ([output.noisy] if output.noisy is not None else []) + [torch.sigmoid(output.logits)]
        metrics = task.metrics(output, chosen.y[:n])
    else:  # a VAE: decode the posterior means
        with torch.inference_mode():
            rows = [x, torch.sigmoid(loaded.model(x).float())]
        metrics = {}
    columns = min(16, len(x))
    blocks = [torch.cat([row[i : i + columns] for row in rows]) for i in range(0, len(x), columns)]
    path = save_grid(torch.cat(blocks), out or loaded.run.path / "reconstructions.png", columns=columns)
    return {"path": str(path), "n": len(x), "rows": ["original", *(["noisy"] if len(rows) == 3 else []), "output"],
            "metrics": metrics}


def interpolate(run_dir: str | Path, *, out: str | Path | None = None, pairs: int = 4, steps: int = 10,
                split: str = "test", seed: int = 0, device: str = "auto") -> dict[str, Any]:
    """Latent interpolation of a VAE (or autoencoder) run: for ``pairs`` random pairs of images of a
    split, decode ``steps`` evenly spaced points on the line between their codes (posterior means).
    Writes one row per pair, the two real images at its ends. Returns ``{"path", "pairs", "steps"}``."""
    from layerlab.tasks.imaging import save_grid

    if pairs < 1 or steps < 2:
        raise UsageError(f"interpolate needs at least 1 pair and 2 steps, got {pairs} and {steps}")
    loaded = load_run(run_dir, device=device)
    model = loaded.model
    if not hasattr(model, "encode"):
        raise UsageError(f"{run_dir} is not a VAE or autoencoder run; interpolate needs a latent space")
    chosen = loaded.split(split)
    picks = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed))[: 2 * pairs]
    x = chosen.x[picks].to(loaded.device)
    if len(x) < 2 * pairs:
        raise UsageError(f"the {split} split has only {len(chosen)} images, too few for {pairs} pairs")
    t = torch.linspace(0, 1, steps, device=loaded.device).view(1, steps, 1)
    with torch.inference_mode():
        codes = model.encode(x).float().view(pairs, 2, -1)  # (pairs, 2, latent)
        line = codes[:, :1] * (1 - t) + codes[:, 1:] * t  # (pairs, steps, latent)
        images = torch.sigmoid(model.decode(line.flatten(0, 1)).float()).view(pairs, steps, *x.shape[1:])
    ends = x.view(pairs, 2, *x.shape[1:])
    rows = torch.cat([ends[:, :1], images, ends[:, 1:]], dim=1)  # (pairs, steps + 2, C, H, W)
    path = save_grid(rows.flatten(0, 1), out or loaded.run.path / "interpolation.png", columns=steps + 2)
    return {"path": str(path), "pairs": pairs, "steps": steps}


def embed(target: str | Path | None = None, *, data: str | None = None, source: str = "auto",
          methods: tuple[str, ...] = ("pca", "tsne"), n: int = 2000, split: str = "test", out: str | Path | None = None,
          compare: bool = False, seed: int = 0, device: str = "auto") -> dict[str, Any]:
    """Two-dimensional maps of ``n`` items of a split (see ``layerlab.analyze.embed``).

    ``target`` is a run directory; its items are represented by ``source``: ``inputs`` (the raw
    inputs), ``latent`` (an autoencoder's or VAE's codes) or ``features`` (the model's penultimate
    features); ``auto`` is latent for autoencoders, else features. Without a run, ``data`` names a data
    source whose raw inputs are mapped. Writes into ``out`` (default RUN/embedding, or
    embedding-<data>). Returns the files and the quality table.
    """
    from layerlab.analyze.embed import embed_features, representation, write_embedding

    if (target is None) == (data is None):
        raise UsageError("give either a run directory or --data NAME (the raw inputs of a data source)")
    if target is not None:
        loaded = load_run(target, device=device)
        chosen, info = loaded.split(split), loaded.info
        model = loaded.model
        source = ("latent" if hasattr(model, "encode") else "features") if source == "auto" else source
        folder = Path(out) if out else loaded.run.path / "embedding"
    else:
        from layerlab.data import SOURCES, load_data
        from layerlab.recipe import DataConfig

        if data not in SOURCES:
            raise UsageError(f"--data: {SOURCES.unknown_message(data)}")
        dataset = load_data(DataConfig(name=data, normalize=False), task="classification", seed=seed)
        chosen, info, model = getattr(dataset, split), dataset.info, None
        if source not in ("auto", "inputs"):
            raise UsageError("--data maps raw inputs only; give a run directory for latent codes or features")
        source, folder = "inputs", Path(out) if out else Path(f"embedding-{data}")
    take = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed))[:n]
    x, labels = chosen.x[take], chosen.y[take].long()
    features = representation(model, x.to(loaded.device) if model is not None else x, source=source)
    result = embed_features(features, labels.numpy(), methods=tuple(methods), seed=seed)
    items = _pixels(x, loaded.preprocessor) if model is not None else x
    title = f"{source} of {len(x)} {split} items" + (f" ({Path(target).name})" if target else f" ({data})")
    written = write_embedding(result, folder, class_names=info.class_names, items=items, title=title, compare=compare)
    return {**written, "source": source, "folder": str(folder)}


def _pixels(x: torch.Tensor, preprocessor: Any) -> torch.Tensor:
    """Model inputs back to pixels in [0, 1], for the thumbnails (standardised images are undone)."""
    if x.ndim != 4:
        return x
    mean, std = getattr(preprocessor, "mean", None), getattr(preprocessor, "std", None)
    if mean is None or std is None:
        return x
    return x * torch.tensor(std).view(1, -1, 1, 1) + torch.tensor(mean).view(1, -1, 1, 1)


def frechet(generator_run: str | Path, classifier_run: str | Path, *, n: int | None = None, seed: int = 0,
            features: str = "classifier", device: str = "auto") -> dict[str, Any]:
    """Fréchet distance of a GAN's or VAE's images to the real test images, on the features of a
    classification run trained on the same data (see ``layerlab.analyze.frechet``)."""
    from layerlab.analyze.frechet import frechet_report

    generator, classifier = load_run(generator_run, device=device), load_run(classifier_run, device=device)
    return frechet_report(generator, classifier, n=n, seed=seed, features=features)
