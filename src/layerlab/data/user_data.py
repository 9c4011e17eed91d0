"""Data handed over in Python (``layerlab.fit``), as the arrays the ``arrays`` source reads.

    arrays_of((x, y))                  tensors or NumPy arrays
    arrays_of(frame, target="label")   a pandas DataFrame: its other columns are the inputs; non-numeric
                                       ones (text, category, bool) are one-hot encoded, as the csv source does
    arrays_of(dataset)                 a torch Dataset of (input, target) pairs, read once

``write_npz`` saves them (with an optional test split, and validation data as given) as the file the
``arrays`` source reads; ``check_like`` refuses held-out data unlike the training data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from layerlab.errors import DataError, UsageError

Arrays = dict[str, np.ndarray]


def arrays_of(data: Any, *, target: str | None = None, what: str = "data") -> Arrays:
    """``x`` and ``y`` (and, for a DataFrame, ``columns`` and ``categorical``) of ``data``. Raises
    UsageError saying what is accepted, naming ``what`` (the argument: data, test)."""
    if _is_frame(data):
        return _frame(data, target, what)
    if target is not None:
        raise UsageError(f"{what}: target={target!r} names a DataFrame's column; the {type(data).__name__} given "
                         "is not a DataFrame")
    if isinstance(data, tuple | list) and len(data) == 2:
        x, y = (_numpy(part, f"{what}[{i}]") for i, part in enumerate(data))
        if len(x) != len(y):
            raise UsageError(f"{what}: {len(x)} inputs but {len(y)} targets")
        return {"x": x, "y": y}
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return _dataset(data, what)
    raise UsageError(f"{what}: expected (x, y) arrays or tensors, a pandas DataFrame with target=COLUMN, a torch "
                     f"Dataset of (input, target) pairs or a folder of images, not {type(data).__name__}")


def write_npz(path: Path, train: Arrays, test: Arrays | None = None, *, classes: list[str] | None = None,
              val: Arrays | None = None) -> None:
    """Save ``train`` (and ``test``, and ``val``: the validation split as given) as the ``arrays`` source's file."""
    out = dict(train)
    for prefix, held in (("test_", test), ("val_", val)):
        if held is not None:
            check_like(held, train, prefix.rstrip("_"))
            out.update({f"{prefix}x": held["x"], f"{prefix}y": held["y"]})
    if classes is not None:
        out["classes"] = np.array([str(c) for c in classes])
    np.savez(path, **out)


def unlabeled_arrays(data: Any, train: Arrays, *, target: str | None) -> Arrays:
    """The inputs of ``data`` (``fit``'s ``unlabeled``: an array or tensor of inputs, or a DataFrame of the
    training data's input columns, its target column ignored where there), as the arrays source's file
    holds them, with ``y`` all 0 (read by nobody). UsageError naming unlabeled where they do not fit ``train``."""
    if _is_frame(data):
        if target is None:
            raise UsageError("unlabeled: a DataFrame, but the training data is arrays; give both the same way")
        held = _frame(data if target in data.columns else data.assign(**{target: 0}), target, "unlabeled")
    else:
        if isinstance(data, tuple | list):
            raise UsageError("unlabeled: the inputs alone (an array or tensor of examples), not a tuple or list")
        x = _numpy(data, "unlabeled")
        if x.ndim == 3 and train["x"].ndim == 4:
            x = x[:, None]  # grey images without their channel axis
        held = {"x": x}
    held["y"] = np.zeros(len(held["x"]), dtype=np.int64)
    return check_like(held, train, "unlabeled")


def check_like(held: Arrays, train: Arrays, what: str) -> Arrays:
    """``held`` (test or validation data), once its examples are of the training data's kind: the same
    example shape, the same columns in the same order (a DataFrame), 8-bit pixels where the training
    images are (their scale is taken from the training data). UsageError naming ``what`` otherwise."""
    if len(held["x"]) == 0:
        raise UsageError(f"{what}: no examples")
    if ("columns" in held) != ("columns" in train):
        kinds = ("a DataFrame", "arrays") if "columns" in held else ("arrays", "a DataFrame")
        raise UsageError(f"{what}: {kinds[0]}, but the training data is {kinds[1]}; give both the same way")
    if "columns" in train and held["columns"].tolist() != train["columns"].tolist():
        mine, theirs = held["columns"].tolist(), train["columns"].tolist()
        missing, extra = [c for c in theirs if c not in mine], [c for c in mine if c not in theirs]
        detail = (f"missing {missing}" if missing else "") + ("; " if missing and extra else "") + (f"extra {extra}" if extra else "")
        raise UsageError(f"{what}: its columns differ from the training data's ({detail or 'in another order'}: "
                         f"expected {theirs})")
    if held["x"].shape[1:] != train["x"].shape[1:]:
        raise UsageError(f"{what}: examples of shape {held['x'].shape[1:]}, but the training data's are {train['x'].shape[1:]}")
    if train["x"].ndim > 2 and (held["x"].dtype == np.uint8) != (train["x"].dtype == np.uint8):
        raise UsageError(f"{what}: images of dtype {held['x'].dtype}, but the training images are {train['x'].dtype} "
                         "(8-bit pixels are scaled by 255, other values taken as they are): give both the same way")
    return held


def _numpy(value: Any, what: str, *, scalar: bool = False) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise UsageError(f"{what}: an array of Python objects; give numbers (or, for targets, class names as strings)")
    if array.ndim == 0 and not scalar:
        raise UsageError(f"{what}: a single value, not an array of examples")
    return array


def _is_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns") and hasattr(data, "dtypes")


def _frame(frame: Any, target: str | None, what: str) -> Arrays:
    import pandas as pd

    if target is None:
        raise UsageError(f"{what}: a DataFrame needs target=COLUMN, the column to learn")
    if target not in frame.columns:
        from layerlab.errors import did_you_mean

        raise UsageError(f"{what}: no column {target!r} in the DataFrame{did_you_mean(str(target), [str(c) for c in frame.columns])}")
    inputs = frame.drop(columns=[target])
    if inputs.shape[1] == 0:
        raise UsageError(f"{what}: the DataFrame has no columns besides the target {target!r}")
    categorical = [not (pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
                   for dtype in inputs.dtypes]
    cells = np.empty(inputs.shape, dtype=object)
    for j, column in enumerate(inputs.columns):
        values = inputs[column]
        cells[:, j] = np.where(values.isna(), "", values.astype(str).to_numpy())
    y = frame[target]
    if y.isna().any():
        raise UsageError(f"{what}: the target column {target!r} is empty on {int(y.isna().sum())} row(s)")
    y_array = y.to_numpy() if pd.api.types.is_numeric_dtype(y.dtype) else y.astype(str).to_numpy().astype(str)
    return {"x": cells.astype(str), "y": y_array, "columns": np.array([str(c) for c in inputs.columns]),
            "categorical": np.array(categorical)}


def _dataset(dataset: Any, what: str) -> Arrays:
    xs, ys = [], []
    for i in range(len(dataset)):
        item = dataset[i]
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise UsageError(f"{what}: item {i} of the Dataset is a {type(item).__name__}; expected (input, target)")
        xs.append(_numpy(item[0], f"{what}[{i}] input"))
        ys.append(_numpy(item[1], f"{what}[{i}] target", scalar=True))
    if not xs:
        raise DataError(f"{what}: the Dataset is empty")
    shapes = {x.shape for x in xs}
    if len(shapes) > 1:
        raise UsageError(f"{what}: the Dataset's inputs have different shapes ({', '.join(map(str, sorted(shapes)[:3]))})")
    return {"x": np.stack(xs), "y": np.stack(ys).reshape(len(ys))}
