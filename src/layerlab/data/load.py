"""``load_data``: from a recipe's ``data`` section to train, validation and test splits of tensors.

The same steps for every source:

    source reads raw examples ─► test split (the source's own, a held-out fraction, or one of k folds)
        ─► limit (a stratified subset of the rest) ─► validation split ─► fit the preprocessing on
        the training split only (or take a run's) ─► apply it to all three splits

Every split is a pure function of (data, recipe, seed), stratified where the task's ``TargetSpec`` says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from layerlab.data.dataset import DataInfo, Dataset, Split
from layerlab.data.few_labels import check_few_labels, few_labels
from layerlab.data.groups import attach_metadata, pool_groups
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.pretext import with_pretext
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.splits import kfold_indices, rng, split_fraction, split_indices, split_tail
from layerlab.data.targets import StructuredTargets, TargetSpec
from layerlab.data.unlabeled import joined, load_unlabeled
from layerlab.errors import DataError
from layerlab.settings import Settings, load_settings
from layerlab.tasks.registry import target_spec

if TYPE_CHECKING:
    from layerlab.data.config import DataConfig

log = logging.getLogger(__name__)

def load_data(cfg: DataConfig, *, task: str | TargetSpec, seed: int, settings: Settings | None = None,
              preprocessor: Preprocessor | None = None, inputs_from: Preprocessor | None = None) -> Dataset:
    """Read, split and preprocess the data a recipe's ``data`` section names.

    ``task`` is the task's name ("classification", ...) or what it needs of the data (its
    ``TargetSpec``): the kind of targets, and whether the splits are stratified. ``seed`` fixes every
    split. The preprocessing is fitted on the training split only; when ``preprocessor`` is given (a
    trained run evaluated on its own or new data) it is applied instead, so inputs are prepared with the
    run's training statistics. ``inputs_from`` is the preprocessing of the run a backbone comes from
    (``model.from_run``): the preprocessing is fitted on this data, then takes that run's input side
    (``Preprocessor.with_inputs_of``). ``settings`` defaults to the environment's (``LAYERLAB_DATA``,
    cache, offline).

    Raises DataError when the data cannot be found or read, or does not fit the task or the run.
    """
    name, spec = (task, target_spec(task)) if isinstance(task, str) else ("a task", task)
    cfg = as_source_config(cfg)
    settings = settings if settings is not None else load_settings()
    raw = SOURCES.get(cfg.name)(cfg, SourceContext(name, settings, preprocessor, spec))
    if cfg.pretext is not None:  # labels made from the images themselves (their own are dropped)
        raw = with_pretext(raw, cfg, name, spec, seed)
    _check_fits(raw, cfg, name, spec, preprocessor, inputs_from)
    stratify = spec.stratify and not raw.ordered
    pool, test = _test_split(raw, cfg, seed, stratify)
    pool = _limited(pool, raw, cfg, seed, stratify)
    if raw.ordered or raw.val_size is not None:  # ordered, or the source's own validation split: the last examples
        train_idx, val_idx = split_tail(len(pool.y), raw.val_size if raw.val_size is not None
                                        else round(cfg.val_fraction * len(pool.y)), raw.gap)
    else:
        train_idx, val_idx = split_fraction(pool.y, cfg.val_fraction, seed=seed, purpose="val", stratify=stratify)
    if len(train_idx) == 0:
        raise DataError(f"{cfg.name}: no training examples left after the test and validation splits "
                        f"({len(raw.y)} examples in all); lower data.test_fraction or data.val_fraction")

    fitted = preprocessor if preprocessor is not None else raw.fit(pool.x[train_idx])  # unlabelled inputs too
    if inputs_from is not None and preprocessor is None:
        fitted = fitted.with_inputs_of(inputs_from)
    unlabeled = None
    if cfg.keeps_few_labels:  # a few labels per class; the rest unlabelled (their labels hidden)
        groups = pool_groups(raw, cfg, pool.at[train_idx]) if cfg.labels_per_group else None
        kept, rest = few_labels(pool.y[train_idx], per_class=cfg.labels_per_class, fraction=cfg.labeled_fraction,
                                seed=seed, repeat=cfg.labeled_repeat, groups=groups)
        train_idx, unlabeled = train_idx[kept], _tensors(fitted, pool.pick(train_idx[rest]), spec)
    if cfg.unlabeled is not None and preprocessor is None:  # unlabelled inputs from elsewhere (a folder, another
        # source), for training only: a trained run's data read again (evaluate, predict, export) does without
        unlabeled = joined(unlabeled, load_unlabeled(cfg.unlabeled, fitted, modality=raw.modality, seed=seed,
                                                     settings=settings))
    parts = (pool.pick(train_idx), pool.pick(val_idx), test)
    splits = tuple(_tensors(fitted, part, spec) for part in parts)
    positions = tuple(part.at for part in parts)
    if all(len(s) == len(at) for s, at in zip(splits, positions)):  # not so for a text cut into windows
        splits = attach_metadata(raw, cfg, splits, positions, seed=seed)
    info = _info(cfg, raw, fitted)
    log.info("%s: %d train, %d validation, %d test examples of shape %s",
             cfg.name, *(len(s) for s in splits), info.input_shape)
    return Dataset(*splits, info, fitted, unlabeled)


def as_source_config(cfg: DataConfig) -> DataConfig:
    """``cfg`` as its source's own config class (a section built as the shared class is checked again)."""
    own = SOURCES.entry(cfg.name).config
    return cfg if isinstance(cfg, own) else own.model_validate(cfg.model_dump())


@dataclass
class _Part:
    """Raw examples of one split, with their positions in the source's data (for the metadata)."""

    x: np.ndarray
    y: np.ndarray
    at: np.ndarray

    def pick(self, index: np.ndarray) -> _Part:
        return _Part(self.x[index], self.y[index], self.at[index])


def _test_split(raw: RawData, cfg: DataConfig, seed: int, stratify: bool) -> tuple[_Part, _Part]:
    """The pool the training and validation splits are cut from, and the test split."""
    if raw.val_size and not raw.ordered:  # an own validation split (layerlab.fit's val=): the last examples, kept whole
        head = len(raw.y) - raw.val_size
        pool, test = _test_split(replace(raw, x=raw.x[:head], y=raw.y[:head], val_size=None), cfg, seed, stratify)
        own = np.arange(head, len(raw.y))
        return _Part(np.concatenate([pool.x, raw.x[own]]), np.concatenate([pool.y, raw.y[own]]),
                     np.concatenate([pool.at, own])), test
    whole = _Part(raw.x, raw.y, np.arange(len(raw.y)))
    if cfg.folds is not None:
        _check_folds(raw, cfg)
        keep, held = kfold_indices(raw.y, cfg.folds, cfg.fold, seed=seed, stratify=stratify)
    elif raw.has_test_split:
        return whole, _Part(raw.test_x, raw.test_y, np.arange(len(raw.test_y)))
    elif raw.ordered:
        keep, held = split_tail(len(raw.y), round(cfg.test_fraction * len(raw.y)), raw.gap)
    else:
        keep, held = split_fraction(raw.y, cfg.test_fraction, seed=seed, purpose="test", stratify=stratify)
    return whole.pick(keep), whole.pick(held)


def _limited(pool: _Part, raw: RawData, cfg: DataConfig, seed: int, stratify: bool) -> _Part:
    """At most ``data.limit`` training and validation examples (and a source's own validation split, kept whole)."""
    own_val = raw.val_size or 0  # a source's own validation split: the last examples, kept whole
    if cfg.limit is None or cfg.limit >= len(pool.y) - own_val:
        return pool
    if raw.ordered:  # the first examples, and the source's own validation split
        kept = np.concatenate([np.arange(cfg.limit), np.arange(len(pool.y) - own_val, len(pool.y))])
    elif own_val:  # the training examples limited as below, the source's own validation split kept whole
        _, kept = split_indices(pool.y[:-own_val], cfg.limit, generator=rng(seed, "limit"), stratify=stratify)
        kept = np.concatenate([kept, np.arange(len(pool.y) - own_val, len(pool.y))])
    else:
        _, kept = split_indices(pool.y, cfg.limit, generator=rng(seed, "limit"), stratify=stratify)
    return pool.pick(kept)


def _tensors(fitted: Preprocessor, part: _Part, spec: TargetSpec) -> Split:
    if spec.kind == "structured":  # one dict of tensors per example: no one tensor to make
        return Split(fitted.transform(part.x), StructuredTargets(part.y))
    return Split(*fitted.transform_split(part.x, part.y, target_dtype=spec.dtype))


def _info(cfg: DataConfig, raw: RawData, fitted: Preprocessor) -> DataInfo:
    classes = fitted.classes  # None for numeric targets; a language model's classes are its vocabulary
    return DataInfo(
        name=cfg.name,
        modality=raw.modality,
        input_shape=fitted.input_shape,
        num_classes=len(classes) if classes is not None else None,
        class_names=list(classes) if classes is not None else None,
        feature_names=fitted.feature_names,
        **fitted.data_fields(),
    )


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


_SPATIAL = ("crop_padding", "hflip", "vflip", "zoom", "erase")


def _check_fits(raw: RawData, cfg: DataConfig, task: str, spec: TargetSpec, preprocessor: Preprocessor | None,
                inputs_from: Preprocessor | None = None) -> None:
    """Refuse combinations that cannot work, before any work is done on them."""
    for key in ("labels_per_class", "labeled_fraction", "unlabeled"):
        check_few_labels(getattr(cfg, key), spec, task, ordered=raw.ordered, source=cfg.name, key=f"data.{key}")
    if raw.modality not in spec.modalities:
        needs = spec.needs or " or ".join(spec.modalities) + " data"
        raise DataError(f"task.name: {task} needs {needs}, not {cfg.name} ({raw.modality} data)")
    if preprocessor is not None and preprocessor.kind != raw.modality:
        raise DataError(f"this run was trained on {preprocessor.kind} data, but {cfg.name} gives {raw.modality} data")
    if inputs_from is not None and inputs_from.kind != raw.modality:
        raise DataError(f"model.from_run: that run was trained on {inputs_from.kind} data, but {cfg.name} gives "
                        f"{raw.modality} data; its backbone takes {inputs_from.kind} inputs")
    spatial = [name for name in _SPATIAL if getattr(cfg.augment, name)]
    if spatial and raw.modality in ("table", "series"):
        what = "the rows of a table" if raw.modality == "table" else "a time series"
        raise DataError(f"data.augment.{spatial[0]}: crops, flips and erasing apply to images, not to {what} "
                        "(data.augment.noise does)")
    if cfg.augment.erase and spec.on_pixels:
        raise DataError(f"data.augment.erase: {task}'s targets lie on the pixels (boxes, masks), and erasing would "
                        "hide objects the targets still show; leave it off (crop_padding, hflip, vflip, zoom and noise "
                        "move the targets with the pixels)")
    masks = [name for name in ("freq_mask", "time_mask") if getattr(cfg.augment, name)]
    if masks and raw.modality != "audio":
        raise DataError(f"data.augment.{masks[0]}: SpecAugment masks log-mel spectrograms (audio data); "
                        f"{cfg.name} gives {raw.modality} data")
