"""Seeded, stratified splits of example indices.

A split is a pure function of (targets, fraction or count, seed): the same data and seed always give
the same split, on any machine. Stratified splits keep each class's share (to within one example).
"""

from __future__ import annotations

import numpy as np


def rng(seed: int, purpose: str) -> np.random.Generator:
    """A generator for one purpose ("test", "limit", "val"), independent of the others for the same seed."""
    return np.random.default_rng([seed % 2**64, *purpose.encode()])


def split_indices(y: np.ndarray, n_held: int, *, generator: np.random.Generator,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(y))`` into (kept, held out) with ``n_held`` held out; both sorted.

    With ``stratify``, each class gives its proportional share of the held-out examples (the
    remainders go to the classes with the largest fractional shares); otherwise they are drawn at random.
    """
    n = len(y)
    n_held = int(min(max(n_held, 0), n))
    permutation = generator.permutation(n)
    if not stratify:
        held = np.zeros(n, dtype=bool)
        held[permutation[:n_held]] = True
        return np.flatnonzero(~held), np.flatnonzero(held)

    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    quota = counts * (n_held / n) if n else counts * 0.0
    per_class = np.floor(quota).astype(np.int64)
    remainder = n_held - per_class.sum()
    # largest fractional share first; ties to the lower class index, so the result is deterministic
    per_class[np.argsort(-(quota - per_class), kind="stable")[:remainder]] += 1

    # Examples grouped by class, in random order within each class; the first per_class[c] of class c
    # are held out.
    grouped = permutation[np.argsort(inverse[permutation], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(n) - starts[inverse[grouped]]
    held = np.zeros(n, dtype=bool)
    held[grouped[rank < per_class[inverse[grouped]]]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def split_fraction(y: np.ndarray, fraction: float, *, seed: int, purpose: str,
                   stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) indices with ``round(fraction * len(y))`` held out."""
    return split_indices(y, round(fraction * len(y)), generator=rng(seed, purpose), stratify=stratify)


def split_tail(n: int, n_held: int, gap: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) indices of ordered examples: the last ``n_held`` are held out (no shuffling),
    and the ``gap`` examples just before them are in neither (a buffer against overlapping targets)."""
    n_held = int(min(max(n_held, 0), n))
    return np.arange(max(n - n_held - (gap if n_held else 0), 0)), np.arange(n - n_held, n)


def kfold_indices(y: np.ndarray, folds: int, fold: int, *, seed: int,
                  stratify: bool) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held out) indices for fold ``fold`` of a seeded ``folds``-fold partition; both sorted.

    Every example is held out in exactly one of the ``folds`` folds, whose sizes differ by at most one.
    With ``stratify``, the examples are dealt to the folds class by class (in random order within a
    class), so each fold also holds each class's share to within one example.
    """
    if not 2 <= folds <= len(y):
        raise ValueError(f"folds must be between 2 and the {len(y)} examples, got {folds}")
    if not 0 <= fold < folds:
        raise ValueError(f"fold must be in 0..{folds - 1}, got {fold}")
    order = rng(seed, "folds").permutation(len(y))
    if stratify:  # grouped by class, random within each: dealing in turn spreads every class evenly
        order = order[np.argsort(np.unique(y, return_inverse=True)[1][order], kind="stable")]
    held = np.zeros(len(y), dtype=bool)
    held[order[fold::folds]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)
