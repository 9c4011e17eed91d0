"""``load_data``: from a recipe's ``data`` section to train, validation and test splits of tensors.

The same steps for every source:

    source reads raw examples ─► test split (the source's own, or a held-out fraction)
        ─► limit (a stratified subset of the rest) ─► validation split ─► fit the preprocessing on
        the training split only (or take a run's) ─► apply it to all three splits

Every split is a pure function of (data, recipe, seed), stratified for classification.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from layerlab.data.dataset import DataInfo, Dataset, Split
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.source import DATASETS, RawData, SourceContext
from layerlab.data.splits import rng, split_fraction, split_indices
from layerlab.errors import DataError
from layerlab.settings import Settings, load_settings

if TYPE_CHECKING:
    from layerlab.recipe import DataConfig

log = logging.getLogger(__name__)

TASKS = ("classification", "regression")


def load_data(cfg: DataConfig, *, task: str, seed: int, settings: Settings | None = None,
              preprocessor: Preprocessor | None = None) -> Dataset:
    """Read, split and preprocess the data a recipe's ``data`` section names.

    ``task`` is "classification" or "regression"; ``seed`` fixes every split. The preprocessing is
    fitted on the training split only; when ``preprocessor`` is given (a trained run evaluated on its
    own or new data) it is applied instead, so inputs are prepared with the run's training statistics.
    ``settings`` defaults to the environment's (``LAYERLAB_DATA``, cache, offline).

    Raises DataError when the data cannot be found or read, or does not fit the task or the run.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    settings = settings if settings is not None else load_settings()
    raw = DATASETS.get(cfg.name)(cfg, SourceContext(task, settings, preprocessor))
    _check_fits(raw, cfg, task, preprocessor)
    stratify = task == "classification"

    if raw.has_test_split:
        pool_x, pool_y, test_x, test_y = raw.x, raw.y, raw.test_x, raw.test_y
    else:
        keep, held = split_fraction(raw.y, cfg.test_fraction, seed=seed, purpose="test", stratify=stratify)
        pool_x, pool_y, test_x, test_y = raw.x[keep], raw.y[keep], raw.x[held], raw.y[held]
    if cfg.limit is not None and cfg.limit < len(pool_y):
        _, kept = split_indices(pool_y, cfg.limit, generator=rng(seed, "limit"), stratify=stratify)
        pool_x, pool_y = pool_x[kept], pool_y[kept]
    train_idx, val_idx = split_fraction(pool_y, cfg.val_fraction, seed=seed, purpose="val", stratify=stratify)
    if len(train_idx) == 0:
        raise DataError(f"{cfg.name}: no training examples left after the test and validation splits "
                        f"({len(raw.y)} examples in all); lower data.test_fraction or data.val_fraction")

    train_x = pool_x[train_idx]
    fitted = preprocessor if preprocessor is not None else raw.fit(train_x)

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        target_dtype = torch.int64 if stratify else torch.float32
        return Split(fitted.transform(x), torch.tensor(np.asarray(y), dtype=target_dtype))

    train = split(train_x, pool_y[train_idx])
    val = split(pool_x[val_idx], pool_y[val_idx])
    test = split(test_x, test_y)
    classes = fitted.classes if stratify else None
    info = DataInfo(
        name=cfg.name,
        modality=raw.modality,
        input_shape=fitted.input_shape,
        num_classes=len(classes) if classes is not None else None,
        class_names=list(classes) if classes is not None else None,
        feature_names=fitted.feature_names,
    )
    log.info("%s: %d train, %d validation, %d test examples of shape %s",
             cfg.name, len(train), len(val), len(test), info.input_shape)
    return Dataset(train, val, test, info, fitted)


_SPATIAL = ("crop_padding", "hflip", "vflip", "erase")


def _check_fits(raw: RawData, cfg: DataConfig, task: str, preprocessor: Preprocessor | None) -> None:
    """Refuse combinations that cannot work, before any work is done on them."""
    if raw.modality == "image" and task == "regression":
        raise DataError(f"{cfg.name} is a classification data set (images with class labels); "
                        "task.name: regression needs a csv table with a numeric target")
    if preprocessor is not None and preprocessor.kind != raw.modality:
        raise DataError(f"this run was trained on {preprocessor.kind} data, but {cfg.name} gives {raw.modality} data")
    if raw.modality == "table":
        spatial = [name for name in _SPATIAL if getattr(cfg.augment, name)]
        if spatial:
            raise DataError(f"data.augment.{spatial[0]}: crops, flips and erasing apply to images, not to the "
                            "rows of a table (data.augment.noise does)")
