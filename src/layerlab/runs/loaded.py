"""A trained run read back from its directory alone, and its data read again as it read it.

    loaded = load_run("runs/digits-cnn-...")
    test = loaded.split("test")                      # prepared with the run's fitted preprocessing
    outputs = predict_outputs(loaded.model, test.x.to(loaded.device), batch_size=256)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layerlab.analyze.temperature import with_saved_calibration
from layerlab.data import DataInfo, Dataset, Preprocessor, Split, load_data
from layerlab.errors import UsageError, did_you_mean
from layerlab.recipe import Recipe, load_recipe
from layerlab.rundir import RunDir
from layerlab.runs.build import build_model
from layerlab.tasks import Task
from layerlab.train.checkpoint import load_into, load_weights
from layerlab.train.device import resolve_device

SPLITS = ("train", "val", "test", "all")


@dataclass
class LoadedRun:
    """A trained model with all it needs, read back from a run directory."""

    run: RunDir
    recipe: Recipe
    model: torch.nn.Module
    task: Task
    info: DataInfo
    preprocessor: Preprocessor
    device: torch.device

    def dataset(self, data: str | Path | None = None, **updates: Any) -> Dataset:
        """The run's data read again as the run read it: its recipe's ``data`` section, its train.seed and
        its fitted preprocessing, so the splits hold the run's own examples. ``data`` is other data of the
        same kind (it replaces data.path); ``updates`` change other data fields (``group_balance=False``)."""
        if data is not None:
            updates["path"] = str(data)
        cfg = self.recipe.data.model_copy(update=updates) if updates else self.recipe.data
        return load_data(cfg, task=self.recipe.task.name, seed=self.recipe.train.seed, preprocessor=self.preprocessor)

    def split(self, name: str, data: str | Path | None = None, **updates: Any) -> Split:
        """One split of ``dataset(data, **updates)``: train, val, test, or all three (on the CPU). Raises
        UsageError for another name or an empty split."""
        chosen = pick_split(self.dataset(data, **updates), name)
        if len(chosen) == 0:
            raise UsageError(f"the {name} split of {self.recipe.data.name} is empty")
        return chosen

    def _repr_html_(self) -> str:  # in a notebook: metrics, curves, confusion matrix (layerlab.notebook)
        from layerlab.notebook import run_html

        return run_html(self.run.path)


def load_run(run_dir: str | Path, *, device: str = "auto") -> LoadedRun:
    """Rebuild a trained model, its task and preprocessing from a run directory alone.

    Raises UsageError for a directory that is not a complete run, LayerLabError for weights that do not
    fit the saved architecture."""
    rundir = RunDir.open(run_dir)
    cfg = load_recipe(rundir.recipe)
    meta, info, preprocessor = _read_meta(rundir)
    task_cfg = cfg.task.model_copy(update=_saved_task_fields(meta))
    task, model = build_model(task_cfg, meta["model"], info=info, input_shape=tuple(meta["input_shape"]),
                              num_outputs=meta["num_outputs"], train_targets=torch.empty(0, dtype=torch.long),
                              preprocessor=preprocessor, pretrained=False)  # the weights are the run's
    load_into(model, load_weights(rundir.weights), rundir.weights)
    model = with_saved_calibration(model, meta)
    dev = resolve_device(device)
    model.to(dev).eval()
    return LoadedRun(rundir, cfg, model, task, info, preprocessor, dev)


# model.json's keys, each with the type it must hold: a doctored file is refused in one line, not a traceback.
META_KEYS = {"info": dict, "preprocessor": dict, "model": dict, "input_shape": list, "num_outputs": int}


def _read_meta(rundir: RunDir) -> tuple[dict[str, Any], DataInfo, Preprocessor]:
    meta = rundir.read_json(rundir.model_meta)
    where = f"{rundir.model_meta}: not the model.json of a LayerLab run"
    if not isinstance(meta, dict):
        raise UsageError(f"{where} (it holds a {type(meta).__name__}, not an object)")
    wrong = [key for key, kind in META_KEYS.items() if not isinstance(meta.get(key), kind)]
    shape = meta.get("input_shape")
    if wrong or not all(isinstance(n, int) and n >= 0 for n in shape) or meta["num_outputs"] < 0:
        raise UsageError(f"{where} ({', '.join(wrong) or 'input_shape, num_outputs'}: missing or not as written)")
    try:
        return meta, DataInfo.from_dict(meta["info"]), Preprocessor.from_dict(meta["preprocessor"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UsageError(f"{where} ({type(exc).__name__}: {exc})") from None


def _saved_task_fields(meta: dict[str, Any]) -> dict[str, Any]:
    saved = meta.get("task") or {}
    return {"class_weights": saved["class_weights"]} if "class_weights" in saved else {}


def pick_split(dataset: Dataset, name: str) -> Split:
    """``dataset``'s split ``name`` (train, val, test), or ``all``: the three joined, the empty ones left out."""
    parts = {"train": [dataset.train], "val": [dataset.val], "test": [dataset.test],
             "all": [dataset.train, dataset.val, dataset.test]}
    if name not in parts:
        raise UsageError(f"--split: '{name}' is not a split{did_you_mean(name, parts)} ({', '.join(SPLITS)})")
    chosen = [s for s in parts[name] if len(s)]
    if len(chosen) <= 1:
        return chosen[0] if chosen else parts[name][0]
    ids, groups = [s.ids for s in chosen], [s.groups for s in chosen]
    return Split(torch.cat([s.x for s in chosen]), torch.cat([s.y for s in chosen]),
                 np.concatenate(ids) if all(i is not None for i in ids) else None,
                 np.concatenate(groups) if all(g is not None for g in groups) else None)
