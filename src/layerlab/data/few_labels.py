"""``data.labels_per_class`` (or ``data.labeled_fraction``): keep a few labelled training examples per class,
the rest unlabelled.

    labelled, unlabelled = few_labels(train_y, per_class=40, seed=0, repeat=1)

Which examples keep their labels is a pure function of (the training split's targets, N, seed): a
seeded draw of N per class, as semi-supervised benchmarks take them (FixMatch's 40, 250, 4000 labels of
CIFAR-10). The unlabelled examples keep their true labels hidden beside them (``Dataset.unlabeled``),
used only to measure how often the pseudo-labels a method gives them are right.
"""

from __future__ import annotations

import numpy as np

from layerlab.data.splits import rng
from layerlab.data.targets import TargetSpec
from layerlab.errors import DataError


def check_few_labels(value: object, spec: TargetSpec, task: str, *, ordered: bool, source: str,
                     key: str = "data.labels_per_class") -> None:
    """Refuse ``key`` (data.labels_per_class, data.labeled_fraction, data.unlabeled), when set (``value`` not
    None), where there are no classes for train.semi to learn: not classification, or ordered data."""
    if value is None:
        return
    if spec.kind != "class" or spec.unsupervised:
        raise DataError(f"{key} is for learning classes from few labels (train.semi); "
                        f"task {task} does not learn class labels")
    if ordered:
        raise DataError(f"{key}: {source} is ordered (a text corpus or a time series) and has "
                        "no classes to draw labelled examples from")


def few_labels(y: np.ndarray, *, per_class: int | None = None, fraction: float | None = None, seed: int,
               repeat: int = 1, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labelled, unlabelled) positions in ``y``: ``per_class`` of each class drawn at random (seeded), or
    with ``fraction`` (``data.labeled_fraction``) that share of each class's examples, rounded, at least
    one; the labelled ones listed ``repeat`` times (an epoch then takes that many passes over them). With
    ``groups`` (one per example: ``data.labels_per_group``) the draw takes them within each group of a
    class instead: 5 recordings per digit and speaker.

    Raises DataError when a class (within a group) has fewer than ``per_class`` examples.
    """
    if (per_class is None) == (fraction is None):
        raise ValueError("few_labels takes per_class or fraction, one of them")
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if groups is not None:  # one stratum per (class, group) pair, coded class * groups + group
        names, group_of = np.unique(np.asarray(groups).astype(str), return_inverse=True)
        codes, inverse, counts = np.unique(inverse * len(names) + group_of, return_inverse=True, return_counts=True)
    if fraction is not None:
        quota = np.maximum(1, np.round(counts * fraction)).astype(np.int64)
    else:
        quota = np.full(len(counts), per_class)
    if per_class is not None and len(counts) and counts.min() < per_class:
        k = counts.argmin()
        if groups is None:
            what, per = f"class {classes[k].item()!r} has only {counts[k]} examples", ""
        else:
            what = (f"class {classes[codes[k] // len(names)].item()!r} has only {counts[k]} examples of group "
                    f"{str(names[codes[k] % len(names)])!r}")
            per = " per group"
        raise DataError(f"data.labels_per_class is {per_class}{per}, but {what} in the training split; "
                        f"lower it to at most {counts[k]}")
    order = rng(seed, "labels").permutation(len(y))
    grouped = order[np.argsort(inverse[order], kind="stable")]  # by class, random within each class
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(y)) - starts[inverse[grouped]]
    labelled = np.zeros(len(y), dtype=bool)
    labelled[grouped[rank < quota[inverse[grouped]]]] = True
    return np.tile(np.flatnonzero(labelled), repeat), np.flatnonzero(~labelled)
