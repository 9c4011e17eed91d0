"""Seeded stratified splits of indices."""

from __future__ import annotations

import numpy as np
import pytest

from layerlab.data.splits import kfold_indices, rng, split_fraction, split_indices


def test_split_sizes_and_disjointness():
    y = np.repeat(np.arange(3), [50, 30, 20])
    keep, held = split_fraction(y, 0.2, seed=0, purpose="test", stratify=True)
    assert len(held) == 20 and len(keep) == 80
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(100))
    assert np.bincount(y[held]).tolist() == [10, 6, 4]  # exactly proportional


def test_remainders_go_to_the_largest_shares():
    y = np.repeat(np.arange(3), [5, 5, 5])
    _, held = split_indices(y, 4, generator=rng(0, "x"), stratify=True)
    assert len(held) == 4 and sorted(np.bincount(y[held], minlength=3).tolist()) == [1, 1, 2]


def test_unstratified_and_edge_sizes():
    y = np.zeros(10)
    keep, held = split_indices(y, 3, generator=rng(1, "x"), stratify=False)
    assert len(held) == 3 and len(keep) == 7
    assert len(split_fraction(y, 0.0, seed=0, purpose="t", stratify=True)[1]) == 0
    assert len(split_indices(y, 50, generator=rng(0, "x"), stratify=True)[1]) == 10


def test_splits_depend_on_seed_and_purpose_only():
    y = np.arange(100) % 4
    a = split_fraction(y, 0.3, seed=3, purpose="val", stratify=True)[1]
    b = split_fraction(y, 0.3, seed=3, purpose="val", stratify=True)[1]
    c = split_fraction(y, 0.3, seed=4, purpose="val", stratify=True)[1]
    d = split_fraction(y, 0.3, seed=3, purpose="test", stratify=True)[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, d)
    assert len(split_fraction(y, 0.3, seed=-7, purpose="val", stratify=True)[1]) == 30  # negative seeds work


def test_k_folds_hold_out_every_example_once_stratified_and_seeded():
    y = np.repeat(np.arange(3), [47, 31, 22])  # 100 examples, 10 folds
    held = [kfold_indices(y, 10, k, seed=0, stratify=True)[1] for k in range(10)]
    assert np.array_equal(np.sort(np.concatenate(held)), np.arange(100))  # each example in exactly one fold
    assert {len(h) for h in held} == {10}
    for k, h in enumerate(held):
        keep = kfold_indices(y, 10, k, seed=0, stratify=True)[0]
        assert len(np.intersect1d(keep, h)) == 0 and len(keep) + len(h) == 100
    per_class = np.array([np.bincount(y[h], minlength=3) for h in held])  # (fold, class)
    assert (per_class.max(0) - per_class.min(0)).max() <= 1  # every class spread evenly over the folds
    assert np.array_equal(held[3], kfold_indices(y, 10, 3, seed=0, stratify=True)[1])
    assert not np.array_equal(held[3], kfold_indices(y, 10, 3, seed=1, stratify=True)[1])
    uneven = [len(kfold_indices(np.zeros(23), 5, k, seed=0, stratify=False)[1]) for k in range(5)]
    assert sorted(uneven) == [4, 4, 5, 5, 5]
    with pytest.raises(ValueError, match="fold must be in 0..4, got 5"):
        kfold_indices(y, 5, 5, seed=0, stratify=True)
    with pytest.raises(ValueError, match="folds must be between 2 and the 100 examples, got 1"):
        kfold_indices(y, 1, 0, seed=0, stratify=True)
