"""``fit``: train the user's own ``nn.Module`` on data handed over in Python, into a run directory.

    result = layerlab.fit(MyNet(), (x, y), epochs=5, lr=1e-3)       # arrays or tensors
    result = layerlab.fit(net, frame, target="price", task="regression")
    layerlab.evaluate(result.run_dir)                               # and predict, report, export, serve

It writes the same run directory as ``run`` (``recipe.yaml`` names the model ``python:<module>:<class>``
and the data the ``arrays`` source, with the examples in ``data.npz`` beside it) and returns the same
``RunResult``. The keyword arguments besides fit's own are the recipe's ``train`` fields, validated
with the recipe's errors. The module itself is trained (in place) and saved as the run's weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from torch import nn

from layerlab.data.user_data import arrays_of, check_like, unlabeled_arrays, write_npz
from layerlab.errors import UsageError
from layerlab.models.python_module import class_path, needs_arguments, supplied
from layerlab.notebook import live
from layerlab.recipe import load_recipe
from layerlab.rundir import RunDir, stamped_path
from layerlab.runs.training import RunResult, run
from layerlab.train.callbacks import Callback

log = logging.getLogger(__name__)

DATA_FILE = "data.npz"
UNLABELED_FILE = "unlabeled.npz"  # fit's unlabeled inputs, beside data.npz


def fit(model: nn.Module, data: Any, *, target: str | None = None, task: str | Mapping[str, Any] = "classification",
        val: Any = 0.1, test: Any = 0.2, classes: Sequence[str] | None = None,
        model_args: Mapping[str, Any] | None = None, name: str = "fit", out: str | Path | None = None,
        runs_root: str | Path = "runs", data_options: Mapping[str, Any] | None = None, unlabeled: Any = None,
        progress: bool = True, console: Console | None = None, callbacks: Sequence[Callback] = (),
        **train: Any) -> RunResult:
    """Train ``model`` on ``data`` and write a run directory; returns what ``run`` returns.

    ``data``: ``(x, y)`` tensors or NumPy arrays (x a table (N, features) or images (N, [C,] H, W)), a
    pandas DataFrame with ``target`` naming its target column, a torch ``Dataset`` of (input, target)
    pairs, or the path of a folder of images (one subfolder per class). ``task``: a task's name or its
    recipe section. ``val``: the fraction held out for validation, or validation data of the same kind as
    ``data`` (in memory), used as the validation split as it is; ``test``: a fraction, or test data of
    the same kind as ``data`` (None: no test split). ``classes``: the class names of integer targets. ``model_args``: the
    module's constructor arguments, recorded so that the run can be loaded back (a class that takes
    none needs none). ``data_options``: further ``data`` keys (``normalize``, ``augment``, ``limit``).
    ``unlabeled``: inputs without targets for ``semi={"method": "fixmatch"}`` (``train.semi``): an array or
    tensor of inputs like ``data``'s, a DataFrame of its input columns, or the path of a folder of images.
    ``progress``: show the training (in a notebook: a progress line and
    the learning curves, redrawn in the cell; elsewhere one line per epoch on ``console`` or stdout).
    ``**train``: the recipe's train fields (epochs, lr, batch_size, ...). Raises RecipeError for a bad
    field (before any work), UsageError for data it does not take, and what ``run`` raises.
    """
    if not isinstance(model, nn.Module):
        raise UsageError(f"fit: model must be a torch nn.Module, not {type(model).__name__}")
    if isinstance(val, bool) or val is None:
        raise UsageError(f"fit: val is a fraction of the training data (e.g. 0.1) or validation data, not {val!r}")
    folder = _folder(data)
    if folder is not None and not _is_fraction(val):
        raise UsageError("fit: val as data goes with data in memory (arrays, a DataFrame, a Dataset); with a folder "
                         "of images give val a fraction")
    given_unlabeled = _unlabeled_section(unlabeled, folder)
    cfg = load_recipe({
        "name": name,
        "data": {**(folder or {"name": "arrays", "path": DATA_FILE}), **({"val_fraction": val} if _is_fraction(val) else {}),
                 **_test_fraction(test), **(data_options or {}), **given_unlabeled},
        "model": model_section(model, model_args),
        "task": {"name": task} if isinstance(task, str) else dict(task),
        "train": train,
    })
    if folder is None:  # read before anything is written, so that data fit refuses leaves nothing behind
        train_arrays = arrays_of(data, target=target, what="data")
        held = None if _test_fraction(test) else check_like(arrays_of(test, target=target, what="test"), train_arrays, "test")
        given_val = None if _is_fraction(val) else check_like(arrays_of(val, target=target, what="val"), train_arrays, "val")
        unlabeled_inputs = (unlabeled_arrays(unlabeled, train_arrays, target=target)  # in memory: an arrays file
                            if "source" in given_unlabeled.get("unlabeled", {}) else None)
    rundir = RunDir.new_at(out if out is not None else stamped_path(Path(runs_root), cfg.name))
    if folder is None:
        path = rundir.path / DATA_FILE
        write_npz(path, train_arrays, held, classes=list(classes) if classes is not None else None, val=given_val)
        cfg = load_recipe(cfg, {"data.path": str(path.resolve())})
        if unlabeled_inputs is not None:
            inputs = rundir.path / UNLABELED_FILE
            write_npz(inputs, unlabeled_inputs)
            cfg = load_recipe(cfg, {"data.unlabeled": {"source": {"name": "arrays", "path": str(inputs.resolve())}}})
    shown = live() if progress else []
    if progress and not shown and console is None:
        console = Console()
    with supplied(model):
        return run(cfg, out=rundir.path, console=console, callbacks=[*shown, *callbacks])


def model_section(model: nn.Module, model_args: Mapping[str, Any] | None) -> dict[str, Any]:
    """The recipe's ``model`` section for the user's module: its class's import path and arguments
    (None when neither given nor needed-free, and then the run cannot be loaded back: it is logged)."""
    args = dict(model_args) if model_args is not None else None
    if args is None and not needs_arguments(model):
        args = {}
    section = {"name": class_path(model), "args": args}
    if args is None:
        why = ("is a torch container built in place (define a class of your own to rebuild it)"
               if section["name"].startswith("python:torch.") else
               "needs constructor arguments that were not given (fit(..., model_args={...}))")
        log.warning("%s %s: the run trains, but evaluate, predict and export cannot rebuild its model",
                    section["name"], why)
    if "<locals>" in section["name"]:
        log.warning("%s is defined inside a function: the run trains, but its model cannot be rebuilt by import",
                    section["name"])
    return section


def _folder(data: Any) -> dict[str, Any] | None:
    """The ``data`` section for a folder of images, or None for data in memory."""
    if not isinstance(data, str | Path):
        return None
    if not Path(data).is_dir():
        raise UsageError(f"fit: data {str(data)!r} is not a folder (a path names a folder of images, one subfolder "
                         "per class; pass arrays, a DataFrame or a Dataset otherwise)")
    return {"name": "image-folder", "path": str(Path(data).resolve())}


def _unlabeled_section(unlabeled: Any, folder: dict[str, Any] | None) -> dict[str, Any]:
    """``data.unlabeled`` for fit's ``unlabeled``: a folder as it is; arrays or a DataFrame as the arrays file
    written beside data.npz (its path set once the run directory exists)."""
    if unlabeled is None:
        return {}
    if isinstance(unlabeled, str | Path):
        if not Path(unlabeled).exists():
            raise UsageError(f"fit: unlabeled {str(unlabeled)!r} does not exist (a path names a folder of images)")
        return {"unlabeled": {"path": str(Path(unlabeled).resolve())}}
    if folder is not None:
        raise UsageError("fit: with a folder of images as data, unlabeled is a folder of images too (its path)")
    return {"unlabeled": {"source": {"name": "arrays", "path": UNLABELED_FILE}}}


def _is_fraction(value: Any) -> bool:
    return isinstance(value, float | int) and not isinstance(value, bool)


def _test_fraction(test: Any) -> dict[str, Any]:
    if test is None:
        return {"test_fraction": 0.0}
    if _is_fraction(test):
        return {"test_fraction": test}
    return {}
