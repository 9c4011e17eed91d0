"""What a trained run does from its directory alone: ``evaluate`` on a split, ``predict`` for new
inputs, ``generate`` new examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from layerlab.errors import UsageError
from layerlab.progress import steps
from layerlab.runs.loaded import load_run


def evaluate(run_dir: str | Path, *, data: str | Path | None = None, split: str = "test",
             device: str = "auto") -> dict[str, Any]:
    """Metrics of a trained run on a split of its data (or of other data given by ``data``: a path).

    The inputs are prepared with the preprocessing fitted when the run trained. ``split`` is train,
    val, test or all. Returns ``{"split": ..., "n": ..., "metrics": {...}, "report": {...}}``. Raises
    UsageError for an unknown or empty split.
    """
    with steps("evaluate", 2) as advance:
        advance(f"reading the {split} split")
        loaded = load_run(run_dir, device=device)
        chosen = loaded.split(split, data).to(loaded.device)
        advance(f"{len(chosen):,} examples")
        metrics, report = loaded.task.evaluate(loaded.model, chosen, batch_size=loaded.recipe.train.eval_batch_size,
                                               report=True)
    return {"split": split, "n": len(chosen), "metrics": metrics, "report": report}


def predict(run_dir: str | Path, inputs: Sequence[str | Path], *, device: str = "auto") -> list[dict[str, Any]]:
    """Predictions for image files, folders of images or CSV files, from a run directory alone.

    Returns one dict per example: ``{"input": id, "label": ..., "probability": ..., "top": [...]}``
    for classification, ``{"input": id, "value": ...}`` for regression.
    """
    if not inputs:
        raise UsageError("predict needs at least one input (image files, a folder, or a CSV file)")
    with steps("predict", 3) as advance:
        advance(f"reading {len(inputs):,} inputs")
        loaded = load_run(run_dir, device=device)
        x, ids = loaded.preprocessor.load_inputs([Path(p) for p in inputs])
        advance(f"{len(ids):,} predictions")
        outputs = loaded.task.outputs(loaded.model, x.to(loaded.device), batch_size=loaded.recipe.train.eval_batch_size)
        rows = [{"input": i, **p} for i, p in zip(ids, loaded.task.predict(outputs), strict=True)]
        advance("drawing")  # boxes and masks are drawn on the images (and boxes given in the images' own pixels)
        return [_drawn(row, loaded, x.shape[-2:]) if "detections" in row or "mask" in row else row for row in rows]


def _drawn(row: dict[str, Any], loaded: Any, size: Any) -> dict[str, Any]:
    from layerlab.analyze.overlays import overlay

    out = loaded.run.path / "predictions" / f"{Path(row['input']).stem}.png"
    return overlay(row["input"], row, out, input_size=tuple(size), class_names=loaded.task.class_names)


def generate(run_dir: str | Path, *, device: str = "auto", **options: Any) -> dict[str, Any]:
    """New examples from a trained generative run (a language model, a VAE or a GAN).

    ``options`` are passed to the run's task: ``prompt``, ``tokens``, ``temperature``, ``top_k`` for
    text; ``n``, ``class_``, ``out`` for images; ``seed`` for both. Returns the task's JSON-able result.
    Raises UsageError when the run's task cannot generate.
    """
    loaded = load_run(run_dir, device=device)
    options["out"] = options.get("out") or str(loaded.run.path / "generated.png")
    return loaded.task.generate(loaded.model, preprocessor=loaded.preprocessor, device=loaded.device, **options)
