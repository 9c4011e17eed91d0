"""``load_data``: from a recipe's ``data`` section to train, validation and test splits of tensors.

The same steps for every source:

    source reads raw examples ─► test split (the source's own, a held-out fraction, or one of k folds)
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
from layerlab.data.groups import attach_metadata
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.source import DATASETS, RawData, SourceContext
from layerlab.data.splits import kfold_indices, rng, split_fraction, split_indices, split_tail
from layerlab.errors import DataError
from layerlab.settings import Settings, load_settings

if TYPE_CHECKING:
    from layerlab.recipe import DataConfig

log = logging.getLogger(__name__)

# Tasks that learn from the inputs alone (autoencoders, VAEs, GANs) load their data as classification
# does: the class labels stay the targets (conditional GANs and class-coloured embeddings use them).
UNSUPERVISED = ("reconstruction", "vae", "adversarial")
TASKS = ("classification", "regression", "language_model", "seq2seq", "forecast", *UNSUPERVISED)


def load_data(cfg: DataConfig, *, task: str, seed: int, settings: Settings | None = None,
              preprocessor: Preprocessor | None = None, inputs_from: Preprocessor | None = None) -> Dataset:
    """Read, split and preprocess the data a recipe's ``data`` section names.

    ``task`` is "classification" or "regression"; ``seed`` fixes every split. The preprocessing is
    fitted on the training split only; when ``preprocessor`` is given (a trained run evaluated on its
    own or new data) it is applied instead, so inputs are prepared with the run's training statistics.
    ``inputs_from`` is the preprocessing of the run a backbone comes from (``model.from_run``): the
    preprocessing is fitted on this data, then takes that run's input side (``Preprocessor.with_inputs_of``).
    ``settings`` defaults to the environment's (``LAYERLAB_DATA``, cache, offline).

    Raises DataError when the data cannot be found or read, or does not fit the task or the run.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    task = "classification" if task in UNSUPERVISED else task
    settings = settings if settings is not None else load_settings()
    raw = DATASETS.get(cfg.name)(cfg, SourceContext(task, settings, preprocessor))
    _check_fits(raw, cfg, task, preprocessor, inputs_from)
    stratify = task == "classification" and not raw.ordered

    if cfg.folds is not None:
        _check_folds(raw, cfg)
        keep, held = kfold_indices(raw.y, cfg.folds, cfg.fold, seed=seed, stratify=stratify)
        pool_x, pool_y, test_x, test_y = raw.x[keep], raw.y[keep], raw.x[held], raw.y[held]
        pool_at, test_at = keep, held
    elif raw.has_test_split:
        pool_x, pool_y, test_x, test_y = raw.x, raw.y, raw.test_x, raw.test_y
        pool_at, test_at = np.arange(len(raw.y)), np.arange(len(raw.test_y))  # positions, for the metadata
    else:
        keep, held = (split_tail(len(raw.y), round(cfg.test_fraction * len(raw.y)), raw.gap) if raw.ordered else
                      split_fraction(raw.y, cfg.test_fraction, seed=seed, purpose="test", stratify=stratify))
        pool_x, pool_y, test_x, test_y = raw.x[keep], raw.y[keep], raw.x[held], raw.y[held]
        pool_at, test_at = keep, held
    own_val = raw.val_size or 0  # an ordered source's own validation split: the last examples, kept whole
    if cfg.limit is not None and cfg.limit < len(pool_y) - own_val:
        if raw.ordered:  # the first examples, and the source's own validation split
            kept = np.concatenate([np.arange(cfg.limit), np.arange(len(pool_y) - own_val, len(pool_y))])
        else:
            _, kept = split_indices(pool_y, cfg.limit, generator=rng(seed, "limit"), stratify=stratify)
        pool_x, pool_y, pool_at = pool_x[kept], pool_y[kept], pool_at[kept]
    if raw.ordered:
        train_idx, val_idx = split_tail(len(pool_y), raw.val_size if raw.val_size is not None
                                        else round(cfg.val_fraction * len(pool_y)), raw.gap)
    else:
        train_idx, val_idx = split_fraction(pool_y, cfg.val_fraction, seed=seed, purpose="val", stratify=stratify)
    if len(train_idx) == 0:
        raise DataError(f"{cfg.name}: no training examples left after the test and validation splits "
                        f"({len(raw.y)} examples in all); lower data.test_fraction or data.val_fraction")

    train_x = pool_x[train_idx]
    fitted = preprocessor if preprocessor is not None else raw.fit(train_x)
    if inputs_from is not None and preprocessor is None:
        fitted = fitted.with_inputs_of(inputs_from)

    def split(x: np.ndarray, y: np.ndarray) -> Split:
        target_dtype = torch.float32 if task in ("regression", "forecast") else torch.int64
        return Split(*fitted.transform_split(x, y, target_dtype=target_dtype))

    train = split(train_x, pool_y[train_idx])
    val = split(pool_x[val_idx], pool_y[val_idx])
    test = split(test_x, test_y)
    positions = (pool_at[train_idx], pool_at[val_idx], test_at)
    if all(len(s) == len(at) for s, at in zip((train, val, test), positions)):  # not so for a text cut into windows
        train, val, test = attach_metadata(raw, cfg, (train, val, test), positions, seed=seed)
    classes = fitted.classes  # None for numeric targets; a language model's classes are its vocabulary
    info = DataInfo(
        name=cfg.name,
        modality=raw.modality,
        input_shape=fitted.input_shape,
        num_classes=len(classes) if classes is not None else None,
        class_names=list(classes) if classes is not None else None,
        feature_names=fitted.feature_names,
        **fitted.data_fields(),
    )
    log.info("%s: %d train, %d validation, %d test examples of shape %s",
             cfg.name, len(train), len(val), len(test), info.input_shape)
    return Dataset(train, val, test, info, fitted)


def _check_folds(raw: RawData, cfg: DataConfig) -> None:
    """Refuse k-fold splits where the examples cannot be dealt out at random."""
    if raw.has_test_split:
        raise DataError(f"{cfg.name} comes with its own test split; data.folds cross-validates sources "
                        "without one (remove data.folds to test on that split)")
    if raw.ordered:
        raise DataError(f"{cfg.name} is ordered (a text corpus or a time series) and is split by position, so "
                        "that the model never trains on what follows its test part; data.folds does not apply")
    if cfg.folds is not None and cfg.folds > len(raw.y):
        raise DataError(f"{cfg.name}: data.folds is {cfg.folds}, but there are only {len(raw.y)} examples")


_SPATIAL = ("crop_padding", "hflip", "vflip", "erase")


def _check_fits(raw: RawData, cfg: DataConfig, task: str, preprocessor: Preprocessor | None,
                inputs_from: Preprocessor | None = None) -> None:
    """Refuse combinations that cannot work, before any work is done on them."""
    if raw.modality == "image" and task == "regression":
        raise DataError(f"{cfg.name} is a classification data set (images with class labels); "
                        "task.name: regression needs a csv table with a numeric target")
    if preprocessor is not None and preprocessor.kind != raw.modality:
        raise DataError(f"this run was trained on {preprocessor.kind} data, but {cfg.name} gives {raw.modality} data")
    if inputs_from is not None and inputs_from.kind != raw.modality:
        raise DataError(f"model.from_run: that run was trained on {inputs_from.kind} data, but {cfg.name} gives "
                        f"{raw.modality} data; its backbone takes {inputs_from.kind} inputs")
    if raw.modality == "table":
        spatial = [name for name in _SPATIAL if getattr(cfg.augment, name)]
        if spatial:
            raise DataError(f"data.augment.{spatial[0]}: crops, flips and erasing apply to images, not to the "
                            "rows of a table (data.augment.noise does)")
    _check_signals(raw, cfg, task)


def _check_signals(raw: RawData, cfg: DataConfig, task: str) -> None:
    """Forecasting needs a time series; SpecAugment needs spectrograms; a series is not an image."""
    if (task == "forecast") != (raw.modality == "series"):
        raise DataError(f"task.name: forecast needs a time series (data.name: series, co2 or sunspots), not {cfg.name}"
                        if task == "forecast" else f"{cfg.name} is a time series; use task.name: forecast")
    masks = [name for name in ("freq_mask", "time_mask") if getattr(cfg.augment, name)]
    if masks and raw.modality != "audio":
        raise DataError(f"data.augment.{masks[0]}: SpecAugment masks log-mel spectrograms (audio data); "
                        f"{cfg.name} gives {raw.modality} data")
    spatial = [name for name in _SPATIAL if getattr(cfg.augment, name)]
    if spatial and raw.modality == "series":
        raise DataError(f"data.augment.{spatial[0]}: crops, flips and erasing apply to images, not to a time "
                        "series (data.augment.noise does)")
