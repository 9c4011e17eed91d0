"""``layerlab explain RUN INPUT...``: why a trained run predicts what it does, for chosen inputs.

Inputs are files the run's preprocessing reads (images, CSV rows, text files with one sentence per
line) or examples of the run's own data named ``test:5``, ``val:0``, ``train:12``. For each input:

- images: saliency, integrated gradients and (for convolutional models) Grad-CAM, laid over the image;
- token ids (text models with an ``nn.Embedding``): integrated-gradient scores per token, shown as
  highlighted text, and the attention maps of attention layers, when the model has any;
- table rows: integrated-gradient attributions per feature, as bars.

The PNGs go to ``RUN/explain/`` with ``index.json`` describing them; the run's report shows them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.analyze import explain as methods
from layerlab.analyze.findings import EXPLAIN_DIR
from layerlab.analyze.plots import new_figure, save_png
from layerlab.errors import UsageError
from layerlab.progress import steps
from layerlab.runs import LoadedRun, load_run

SPLIT_REF = re.compile(r"^(train|val|test):(\d+)$")
MAX_FEATURES = 20  # table features drawn, by largest attribution


def explain(run_dir: str | Path, inputs: list[str], *, target: str | None = None, device: str = "auto",
            report: bool = True) -> list[dict[str, Any]]:
    """Explain each input's prediction (module docstring); ``target`` is the class to explain (default:
    the predicted one). Returns one JSON-able dict per input with the files written; with ``report``
    the run's report is rewritten to include them. Raises UsageError for no inputs, a bad split
    reference, or an unknown target class."""
    if not inputs:
        raise UsageError("explain needs at least one input: image, CSV or text files, or test:N for the run's data")
    loaded = load_run(run_dir, device=device)
    x, ids = _inputs(loaded, inputs)
    model, task = loaded.model, loaded.task
    x = x.to(loaded.device)
    with torch.no_grad():
        outputs = model(x).float()
    predictions = task.predict(outputs.cpu())
    out_dir = loaded.run.path / EXPLAIN_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with steps("explaining", len(ids)) as advance:
        for i, (example, name, prediction) in enumerate(zip(x, ids, predictions)):
            advance(str(name))
            index = _target_index(loaded, target, prediction, outputs[i])
            entry = {"input": name, **{k: v for k, v in prediction.items() if k != "top"}, "target": index,
                     "target_name": _class_name(loaded, index)}
            entry.update(_explain_one(model, example, index, out_dir / _file_stem(name), loaded))
            results.append(entry)
    _write_index(out_dir, results)
    if report:
        from layerlab.analyze.report import report as write_report

        write_report(loaded.run.path, device=device)
    return results


def _explain_one(model: torch.nn.Module, x: torch.Tensor, target: int, stem: Path, loaded: LoadedRun) -> dict[str, Any]:
    title = f"explaining '{_class_name(loaded, target)}'"
    if not x.dtype.is_floating_point:  # token ids
        tokens = _token_texts(loaded.preprocessor, x)
        pad = int(getattr(loaded.info, "pad_id", 0) or 0)
        scores, delta = methods.token_attributions(model, x, target, pad_id=pad)
        keep = (x != pad).cpu().numpy()
        shown_tokens = [t for t, k in zip(tokens, keep) if k]
        shown_scores = [float(s) for s, k in zip(scores, keep) if k]
        files = [str(_plot_token_scores(shown_tokens, shown_scores, stem.with_suffix(".tokens.png"), title))]
        for j, (layer, weights) in enumerate(methods.attention_maps(model, x)):
            files.append(str(_plot_attention(weights, tokens, layer, stem.with_name(f"{stem.name}.attention{j}.png"))))
        return {"kind": "tokens", "tokens": shown_tokens, "scores": shown_scores, "ig_delta": delta, "files": files}
    if x.ndim == 3:  # an image
        from layerlab.analyze.image_grid import plot_overlays

        maps = {"saliency": methods.saliency(model, x, target)}
        attributions, delta = methods.integrated_gradients(model, x, target)
        maps["integrated gradients"] = attributions.abs().amax(0).cpu().numpy()
        if any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
            maps["Grad-CAM"] = methods.grad_cam(model, x, target)
        path = plot_overlays(x.cpu(), maps, stem.with_suffix(".png"), title=title)
        return {"kind": "image", "methods": list(maps), "ig_delta": delta, "files": [str(path)]}
    attributions, delta = methods.integrated_gradients(model, x, target)
    names = loaded.info.feature_names or [str(j) for j in range(x.numel())]
    values = attributions.flatten().cpu().numpy()
    path = _plot_features(names, values, stem.with_suffix(".png"), title)
    return {"kind": "features", "features": dict(zip(names, values.tolist())), "ig_delta": delta, "files": [str(path)]}


# ------------------------------------------------------------------------------------------ inputs
def _inputs(loaded: LoadedRun, inputs: list[str]) -> tuple[torch.Tensor, list[str]]:
    refs = [SPLIT_REF.match(item) for item in inputs]
    if all(refs):
        data = loaded.dataset(group_balance=False)
        rows, names = [], []
        for ref, item in zip(refs, inputs):
            split = getattr(data, ref.group(1))
            index = int(ref.group(2))
            if index >= len(split):
                raise UsageError(f"{item}: the {ref.group(1)} split has {len(split)} examples (0..{len(split) - 1})")
            rows.append(split.x[index])
            names.append(f"{item} ({split.ids[index]})" if split.ids is not None and split.ids[index] != item else item)
        return torch.stack(rows), names
    if any(refs):
        raise UsageError("give either files or split references (test:N), not both")
    return loaded.preprocessor.load_inputs([Path(p) for p in inputs])


def _target_index(loaded: LoadedRun, target: str | None, prediction: dict[str, Any], output: torch.Tensor) -> int:
    names = loaded.info.class_names
    if target is None:
        return int(prediction.get("index", 0))
    if names and target in names:
        return names.index(target)
    if target.isdigit() and int(target) < output.shape[-1]:
        return int(target)
    from layerlab.errors import did_you_mean

    raise UsageError(f"--target: '{target}' is not a class of this run{did_you_mean(target, names or [])}")


def _class_name(loaded: LoadedRun, index: int) -> str:
    names = loaded.info.class_names
    return names[index] if names and index < len(names) else str(index)


def _token_texts(preprocessor: Any, ids: torch.Tensor) -> list[str]:
    tokenizer = getattr(preprocessor, "tokenizer", None)
    vocab = tokenizer.tokens() if tokenizer is not None and hasattr(tokenizer, "tokens") else None
    return [vocab[i] if vocab is not None and i < len(vocab) else str(i) for i in ids.tolist()]


def _file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name.split(" ")[0]).name).strip("_")[:80] or "input"


def _write_index(out_dir: Path, results: list[dict[str, Any]]) -> None:
    from layerlab.train.state_io import atomic_write_text

    index_path = out_dir / "index.json"
    known = json.loads(index_path.read_text(encoding="utf-8")) if index_path.exists() else []
    fresh = {r["input"] for r in results}
    merged = [r for r in known if r.get("input") not in fresh] + results
    atomic_write_text(index_path, json.dumps(merged, indent=2) + "\n")


# ------------------------------------------------------------------------------------------- plots
def _plot_token_scores(tokens: list[str], scores: list[float], path: Path, title: str) -> Path:
    fig = new_figure(max(5.0, 0.32 * len(tokens) + 1.5), 3.0)
    ax = fig.add_subplot()
    ax.bar(range(len(tokens)), scores, color=["tab:green" if s >= 0 else "tab:red" for s in scores])
    ax.set_xticks(range(len(tokens)), tokens, rotation=60, ha="right", fontsize="small")
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylabel("attribution")
    ax.set_title(f"Token attributions (integrated gradients), {title}", fontsize=9)
    return save_png(fig, path)


def _plot_attention(weights: np.ndarray, tokens: list[str], layer: str, path: Path) -> Path:
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    image = ax.imshow(weights, cmap="viridis", aspect="auto")
    if weights.shape[0] == len(tokens) and len(tokens) <= 40:
        ax.set_yticks(range(len(tokens)), tokens, fontsize="x-small")
    if weights.shape[1] == len(tokens) and len(tokens) <= 40:
        ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize="x-small")
    ax.set_xlabel("attended position")
    ax.set_ylabel("query position")
    ax.set_title(f"Attention of {layer} (heads averaged)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return save_png(fig, path)


def _plot_features(names: list[str], values: np.ndarray, path: Path, title: str) -> Path:
    order = np.argsort(-np.abs(values))[:MAX_FEATURES][::-1]
    fig = new_figure(6.0, 0.25 * len(order) + 1.2)
    ax = fig.add_subplot()
    ax.barh(range(len(order)), values[order], color=["tab:green" if v >= 0 else "tab:red" for v in values[order]])
    ax.set_yticks(range(len(order)), [names[j] for j in order], fontsize="small")
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("attribution (integrated gradients)")
    ax.set_title(f"Feature attributions, {title}", fontsize=9)
    return save_png(fig, path)
