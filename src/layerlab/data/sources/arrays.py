"""Arrays in a NumPy ``.npz`` file: what ``layerlab.fit`` writes for data handed over in Python.

    x, y                   the examples and their targets (class indices or names, or numbers)
    test_x, test_y         optional: the data's own test split
    val_x, val_y           optional: the validation split as given (then data.val_fraction is not used)
    columns, categorical   tables: the column names, and which columns are one-hot encoded
    classes                optional: the class names, in the order of the class indices

``x`` of shape (N, features) is a table (numbers, or the text cells of a DataFrame), prepared as the
csv source prepares one (``TablePreprocessor``: numbers standardised, categories one-hot encoded);
(N, H, W) or (N, C, H, W) are images (``ImagePreprocessor``: 8-bit pixels scaled by 255, other values
taken as already in [0, 1]). The file is read without pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from layerlab.data.config import DataConfig
from layerlab.data.files import recipe_file
from layerlab.data.image_preprocessor import ImagePreprocessor
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.sources.csv_table import sort_classes
from layerlab.data.table_preprocessor import TablePreprocessor
from layerlab.errors import DataError

KEYS = ("x", "y", "test_x", "test_y", "val_x", "val_y", "columns", "categorical", "classes")


@SOURCES.register("arrays")
def load_arrays(cfg: DataConfig, ctx: SourceContext) -> RawData:
    path = recipe_file(cfg.path, ctx.settings, "arrays", ".npz file")
    found = read_npz(path)
    x, y = found["x"], found["y"]
    test_x, test_y = found.get("test_x"), found.get("test_y")
    if x.ndim == 3:  # grayscale images without their channel axis
        x, test_x = x[:, None], None if test_x is None else test_x[:, None]
    fitted = ctx.fitted
    known = fitted.classes if fitted is not None else _names(found.get("classes"))
    y, classes = targets(y, ctx.target.kind, known, path)
    if test_y is not None:
        test_y, _ = targets(test_y, ctx.target.kind, classes, path)
    x, y, own_val = _with_val(found, x, y, ctx.target.kind, classes, path)
    if fitted is not None:
        fit = lambda train: fitted  # noqa: E731
    elif x.ndim == 2:
        fit = _table_fit(found, x.shape[1], classes, cfg.normalize)
    else:
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        fit = lambda train: ImagePreprocessor.fit(train, scale=scale, normalize=cfg.normalize, classes=classes)  # noqa: E731
    raw = RawData(modality="table" if x.ndim == 2 else "image", x=x, y=y, fit=fit, test_x=test_x, test_y=test_y)
    if own_val:  # the given validation examples follow x's, the split as it is (ids val:0, val:1, ...)
        raw.val_size = own_val
        train_ids = np.char.add("train:" if test_x is not None else "", np.arange(len(x) - own_val).astype(str))
        raw.meta = {"id": np.concatenate([train_ids, np.char.add("val:", np.arange(own_val).astype(str))])}
    return raw


def _with_val(found: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray, kind: str, classes: list[str] | None,
              path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """``x`` and ``y`` followed by the validation examples as given (``val_x``, ``val_y``: targets read
    with the training data's classes), and how many those are (0: none given)."""
    if "val_x" not in found:
        return x, y, 0
    val_x, val_y = found["val_x"], found["val_y"]
    if val_x.ndim == 3:
        val_x = val_x[:, None]
    val_y, _ = targets(val_y, kind, classes, path)
    return np.concatenate([x, val_x]), np.concatenate([y, val_y]), len(val_y)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``path``, checked: x and y present and of one length, x a table or images."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            found = {key: npz[key] for key in npz.files if key in KEYS}
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as a .npz file of arrays ({exc})") from None
    for key in ("x", "y"):
        if key not in found:
            raise DataError(f"{path}: no array '{key}' (an arrays file holds x and y, optionally test_x and test_y)")
    for prefix in ("", "test_", "val_"):
        x, y = found.get(f"{prefix}x"), found.get(f"{prefix}y")
        if (x is None) != (y is None):
            raise DataError(f"{path}: {prefix}x and {prefix}y go together; one of them is missing")
        if x is None:
            continue
        if x.ndim not in (2, 3, 4):
            raise DataError(f"{path}: {prefix}x has shape {x.shape}; expected a table (N, features) or images "
                            "(N, H, W) or (N, C, H, W)")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{path}: {prefix}y has shape {y.shape}; expected one target per example of {prefix}x ({len(x)})")
    for key in ("test_x", "val_x"):
        if key in found and found[key].shape[1:] != found["x"].shape[1:]:
            raise DataError(f"{path}: {key} has examples of shape {found[key].shape[1:]}, x of {found['x'].shape[1:]}")
    return found


def targets(y: np.ndarray, kind: str, classes: list[str] | None, path: Path) -> tuple[np.ndarray, list[str] | None]:
    """``y`` as float32 numbers (``kind`` "real"), or as class indices with the class names."""
    if kind == "real":
        if y.dtype.kind not in "biuf":
            raise DataError(f"{path}: regression needs numeric targets, y holds {y.dtype}")
        return y.astype(np.float32), None
    if y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0):
        raise DataError(f"{path}: classification needs class indices or names, y holds fractional numbers "
                        "(for numeric targets use task regression)")
    if y.dtype.kind in "biuf":
        indices = y.astype(np.int64)
        count = len(classes) if classes else int(indices.max(initial=-1)) + 1
        if indices.min(initial=0) < 0 or indices.max(initial=-1) >= count:
            raise DataError(f"{path}: class indices run from 0 to {count - 1}, y holds {indices.min()} to {indices.max()}")
        return indices, classes or [str(i) for i in range(count)]
    values = y.astype(str)
    names = classes or sort_classes(np.unique(values).tolist())
    lookup = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(np.unique(values).tolist()) - set(lookup))
    if unknown:
        raise DataError(f"{path}: class '{unknown[0]}' is not one of the classes ({', '.join(names)})")
    return np.array([lookup[v] for v in values.tolist()], dtype=np.int64), names


def _table_fit(found: dict[str, np.ndarray], width: int, classes: list[str] | None, normalize: bool):
    names = _names(found.get("columns")) or [f"x{j}" for j in range(width)]
    categorical = found["categorical"].astype(bool).tolist() if "categorical" in found else [False] * width
    if len(names) != width or len(categorical) != width:
        raise DataError(f"arrays: {width} columns, but {len(names)} column names and {len(categorical)} categorical flags")

    def fit(train: np.ndarray) -> TablePreprocessor:
        return TablePreprocessor.fit(train, names=names, categorical=categorical, normalize=normalize,
                                     target="target", header=True, delimiter=",", classes=classes)

    return fit


def _names(array: np.ndarray | None) -> list[str] | None:
    return None if array is None else [str(v) for v in array.tolist()]
