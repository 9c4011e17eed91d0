"""Maps of a data set in two dimensions: PCA, t-SNE (scikit-learn) and UMAP (when umap-learn is installed).

    features = representation(loaded, x, source="latent")   # raw inputs, latent codes or penultimate features
    result = embed_features(features, labels, methods=("pca", "tsne"))
    write_embedding(result, out_dir, class_names=..., images=...)

Each map is scored twice: **trustworthiness** (scikit-learn; 1 when the k nearest neighbours in the map
were neighbours in the original space too) and **k-NN accuracy** in the map (each point's class
predicted by the majority of its k nearest neighbours in 2-D, itself left out): how well the map keeps
the classes apart. The outputs are a scatter plot per method coloured by class (PNG), one
self-contained HTML page (inline SVG and script, no external files) where hovering over a point shows
the item, the coordinates as CSV, and with several methods a side-by-side figure.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from layerlab.errors import LayerLabError, UsageError, did_you_mean

METHODS = ("pca", "tsne", "umap")
NEIGHBOURS = 10  # k of trustworthiness and of the k-NN accuracy
PCA_BEFORE_TSNE = 50  # t-SNE runs on the first 50 principal components (as its authors advise), when wider
SOURCES = ("inputs", "latent", "features")


@dataclass
class Embedding:
    """Two-dimensional maps of the same N items, one per method, with their quality."""

    coords: dict[str, np.ndarray]  # method -> (N, 2)
    labels: np.ndarray  # (N,) class indices
    quality: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> trustworthiness, knn_accuracy
    seconds: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- features
def representation(model: nn.Module, x: Tensor, *, source: str, batch_size: int = 1024) -> np.ndarray:
    """Features (N, D) of inputs ``x`` (on the model's device): ``inputs`` (the inputs, flattened),
    ``latent`` (an autoencoder's codes, a VAE's posterior means) or ``features`` (the input of the
    model's last linear layer: a classifier's penultimate features)."""
    if source not in SOURCES:
        raise UsageError(f"--source: '{source}' is not a source{did_you_mean(source, SOURCES)} (known: {', '.join(SOURCES)})")
    if source == "inputs":
        return x.flatten(1).float().cpu().numpy()
    if source == "latent":
        if not hasattr(model, "encode"):
            raise UsageError("--source latent needs an autoencoder or VAE run; use --source features for other models")
        return _batched(model.encode, model, x, batch_size)
    return penultimate_features(model, x, batch_size=batch_size)


def penultimate_features(model: nn.Module, x: Tensor, *, batch_size: int = 1024) -> np.ndarray:
    """The input of the model's last ``nn.Linear`` (in module order) for each row of ``x``: (N, F)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise UsageError("this model has no linear layer whose input could serve as its features")
    captured: list[Tensor] = []
    handle = linears[-1].register_forward_hook(lambda module, args, output: captured.append(args[0].flatten(1).float()))
    try:
        _batched(model, model, x, batch_size)
    finally:
        handle.remove()
    return torch.cat(captured).cpu().numpy()


@torch.inference_mode()
def _batched(fn: Any, model: nn.Module, x: Tensor, batch_size: int) -> np.ndarray:
    was_training = model.training
    model.eval()
    outputs = [fn(x[i : i + batch_size]).float().flatten(1).cpu() for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(outputs).numpy()


# ------------------------------------------------------------------------------------ projecting
def available_methods() -> tuple[str, ...]:
    """pca and tsne, and umap when umap-learn is installed."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return METHODS[:2]
    return METHODS


def project(features: np.ndarray, method: str, *, seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of ``features`` (N, D) by ``method`` (pca, tsne, umap), seeded."""
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2 or len(features) < 3:
        raise LayerLabError(f"a map needs at least 3 items with features (N, D); got shape {features.shape}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(features)
    if method == "tsne":
        from sklearn.decomposition import PCA
        from sklearn.manifold import TSNE

        if features.shape[1] > PCA_BEFORE_TSNE and len(features) > PCA_BEFORE_TSNE:
            features = PCA(n_components=PCA_BEFORE_TSNE, random_state=seed).fit_transform(features)
        perplexity = min(30.0, (len(features) - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
    if method == "umap":
        if "umap" not in available_methods():
            raise UsageError("UMAP needs the package umap-learn (pip install umap-learn); pca and tsne need nothing more")
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(features)
    raise UsageError(f"'{method}' is not a projection method{did_you_mean(method, METHODS)} (known: {', '.join(METHODS)})")


def map_quality(features: np.ndarray, coords: np.ndarray, labels: np.ndarray, *, k: int = NEIGHBOURS) -> dict[str, float]:
    """``trustworthiness`` of the map (scikit-learn, ``k`` neighbours) and ``knn_accuracy``: the share of
    items whose class is the most common one among their ``k`` nearest other items in the map."""
    from sklearn.manifold import trustworthiness
    from sklearn.neighbors import NearestNeighbors

    k = min(k, (len(coords) - 1) // 2)
    trust = float(trustworthiness(np.asarray(features, dtype=np.float32), coords, n_neighbors=k))
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    neighbours = np.asarray(labels)[idx[:, 1:]]  # the first neighbour is the item itself
    votes = np.apply_along_axis(np.bincount, 1, neighbours, minlength=int(np.max(labels)) + 1)
    return {"trustworthiness": trust, "knn_accuracy": float((votes.argmax(1) == labels).mean())}


def embed_features(features: np.ndarray, labels: np.ndarray, *, methods: tuple[str, ...] = ("pca", "tsne"),
                   seed: int = 0) -> Embedding:
    """Each method's map of ``features`` (N, D), with its quality and the seconds it took."""
    import time

    from layerlab.progress import steps

    result = Embedding({}, np.asarray(labels).astype(np.int64))
    with steps(f"embedding {len(features):,} items", len(methods)) as advance:
        for method in methods:
            advance(method)
            start = time.perf_counter()
            result.coords[method] = project(features, method, seed=seed)
            result.seconds[method] = time.perf_counter() - start
            result.quality[method] = map_quality(features, result.coords[method], result.labels)
    return result


# -------------------------------------------------------------------------------------- writing
def write_embedding(result: Embedding, folder: str | Path, *, class_names: list[str] | None = None,
                    items: Tensor | None = None, title: str = "", compare: bool = False) -> dict[str, Any]:
    """Write, for each method, ``<method>.png`` (scatter coloured by class) and ``<method>.csv``
    (index, label, x, y); ``embedding.html`` (all methods; hover shows each item: a thumbnail when
    ``items`` are images (N, C, H, W) in [0, 1]); with ``compare`` also ``compare.png``, the methods side
    by side. Returns the files written and the quality table."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = class_names or [str(i) for i in range(int(result.labels.max()) + 1)]
    files: dict[str, str] = {}
    for method, coords in result.coords.items():
        stem = re.sub(r"[^\w.-]+", "-", method).strip("-")  # "pixels / tsne" -> pixels-tsne
        files[f"{stem}.csv"] = str(_write_csv(folder / f"{stem}.csv", coords, result.labels, names))
        files[f"{stem}.png"] = str(_scatter_png(folder / f"{stem}.png", {method: coords}, result, names, title))
    if compare:
        files["compare.png"] = str(_scatter_png(folder / "compare.png", result.coords, result, names, title))
    files["embedding.html"] = str(_write_html(folder / "embedding.html", result, names, items, title))
    table = {m: dict(q, seconds=round(result.seconds.get(m, 0.0), 2)) for m, q in result.quality.items()}
    (folder / "quality.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    files["quality.json"] = str(folder / "quality.json")
    return {"files": files, "quality": table, "n": len(result.labels)}


def _write_csv(path: Path, coords: np.ndarray, labels: np.ndarray, names: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "x", "y"])
        for i, (label, (x, y)) in enumerate(zip(labels.tolist(), coords.tolist())):
            writer.writerow([i, names[label], f"{x:.5g}", f"{y:.5g}"])
    return path


def _scatter_png(path: Path, maps: dict[str, np.ndarray], result: Embedding, names: list[str], title: str) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * len(maps), 5.0), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    cmap = _colormap(len(names))
    for ax, (method, coords) in zip(axes, maps.items()):
        for c, name in enumerate(names):
            chosen = result.labels == c
            if chosen.any():
                ax.scatter(coords[chosen, 0], coords[chosen, 1], s=4, color=cmap(c), label=name, alpha=0.8)
        q = result.quality.get(method, {})
        ax.set_title(f"{method}: trustworthiness {q.get('trustworthiness', float('nan')):.3f}, "
                     f"{NEIGHBOURS}-NN acc. {q.get('knn_accuracy', float('nan')):.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=3, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    return path


def _colormap(n: int) -> Any:
    from matplotlib import colormaps

    return colormaps["tab10" if n <= 10 else "tab20"]


def _write_html(path: Path, result: Embedding, names: list[str], items: Tensor | None, title: str) -> Path:
    cmap = _colormap(len(names))
    colours = ["#" + "".join(f"{int(255 * v):02x}" for v in cmap(c)[:3]) for c in range(len(names))]
    thumbs = _thumbnails(items) if items is not None else None
    maps = {}
    for method, coords in result.coords.items():
        low, high = coords.min(0), coords.max(0)
        unit = (coords - low) / np.where(high > low, high - low, 1)  # [0, 1] each axis
        maps[method] = [[round(float(x), 4), round(float(y), 4)] for x, y in unit]
    data = {"maps": maps, "labels": result.labels.tolist(), "names": names, "colours": colours,
            "thumbs": thumbs, "quality": result.quality}
    page = _HTML.replace("__TITLE__", html.escape(title or "LayerLab embedding"))
    page = page.replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    path.write_text(page, encoding="utf-8")
    return path


def _thumbnails(items: Tensor) -> list[str] | None:
    """A PNG data URI of each image item (N, C, H, W) in [0, 1]; None for other items."""
    if items.ndim != 4:
        return None
    from PIL import Image

    pixels = (items.detach().float().clamp(0, 1).cpu() * 255).round().to(torch.uint8)
    uris = []
    for image in pixels:
        array = image[0].numpy() if image.shape[0] == 1 else image[:3].permute(1, 2, 0).numpy()
        scale = max(1, math.ceil(56 / array.shape[0]))
        buffer = io.BytesIO()
        Image.fromarray(array).resize((array.shape[1] * scale, array.shape[0] * scale), Image.NEAREST).save(buffer, "PNG")
        uris.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))
    return uris


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font: 14px sans-serif; margin: 16px; } .map { display: inline-block; margin: 0 12px 12px 0; }
svg { border: 1px solid #ccc; background: #fff; } circle { stroke: none; } circle:hover { stroke: #000; stroke-width: 1.5; }
#tip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #888; padding: 4px; display: none; }
.legend span { display: inline-block; margin-right: 12px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
</style></head><body>
<h2>__TITLE__</h2><div class="legend" id="legend"></div><div id="maps"></div><div id="tip"></div>
<script>
const D = __DATA__;
const S = 460, NS = "http://www.w3.org/2000/svg";
const legend = document.getElementById("legend");
D.names.forEach((n, c) => { legend.innerHTML += `<span><i style="background:${D.colours[c]}"></i>${n}</span>`; });
const tip = document.getElementById("tip");
for (const [method, pts] of Object.entries(D.maps)) {
  const box = document.createElement("div"); box.className = "map";
  const q = D.quality[method] || {};
  box.innerHTML = `<b>${method}</b> trustworthiness ${(q.trustworthiness || 0).toFixed(3)},
    k-NN accuracy ${(q.knn_accuracy || 0).toFixed(3)}<br>`;
  const svg = document.createElementNS(NS, "svg"); svg.setAttribute("width", S); svg.setAttribute("height", S);
  pts.forEach(([x, y], i) => {
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", 6 + x * (S - 12)); c.setAttribute("cy", 6 + (1 - y) * (S - 12)); c.setAttribute("r", 2.5);
    c.setAttribute("fill", D.colours[D.labels[i]]); c.dataset.i = i; svg.appendChild(c);
  });
  svg.addEventListener("mousemove", e => {
    const i = e.target.dataset && e.target.dataset.i; if (i === undefined) { tip.style.display = "none"; return; }
    const img = D.thumbs ? `<img src="${D.thumbs[i]}"><br>` : "";
    tip.innerHTML = `${img}#${i}: ${D.names[D.labels[i]]}`; tip.style.display = "block";
    tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px";
  });
  svg.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  box.appendChild(svg); document.getElementById("maps").appendChild(box);
}
</script></body></html>
"""
