"""data.labels_per_class: N labelled examples per class of the training split (seeded), the rest unlabelled
with their true labels hidden beside them; refused where there are no classes or too few of one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.data.few_labels import few_labels
from layerlab.errors import DataError, RecipeError
from layerlab.recipe import load_recipe


def _digits(*overrides: str):
    cfg = load_recipe("digits-cnn", list(overrides))
    return load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed)


def test_n_per_class_are_kept_and_the_rest_is_unlabelled():
    whole = _digits()
    few = _digits("data.labels_per_class=5")
    assert torch.bincount(few.train.y).tolist() == [5] * 10
    assert few.unlabeled is not None and len(few.unlabeled) + len(few.train) == len(whole.train)
    # the same validation and test splits, and the unlabelled inputs keep their true labels
    assert torch.equal(few.val.x, whole.val.x) and torch.equal(few.test.y, whole.test.y)
    pooled = torch.cat([few.train.y, few.unlabeled.y]).sort().values
    assert torch.equal(pooled, whole.train.y.sort().values)
    assert not any(torch.equal(few.unlabeled.x[0], row) for row in few.train.x)


def test_the_draw_is_seeded_and_differs_between_seeds():
    y = np.repeat(np.arange(4), 50)
    a, _ = few_labels(y, per_class=3, seed=0)
    b, _ = few_labels(y, per_class=3, seed=0)
    c, rest = few_labels(y, per_class=3, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(y[a]).tolist() == [3] * 4 and len(rest) == 200 - 12
    tiled, _ = few_labels(y, per_class=3, seed=0, repeat=4)
    assert np.array_equal(tiled, np.tile(a, 4))


def test_more_labels_than_a_class_has_is_refused_naming_the_class():
    with pytest.raises(DataError, match="labels_per_class is 500, but class .* has only"):
        _digits("data.labels_per_class=500")


def test_a_task_without_classes_is_refused(shared_data):
    cfg = load_recipe("sunspots-lstm", ["data.labels_per_class=5"])
    with pytest.raises(DataError, match="labels_per_class"):
        load_data(cfg.data, task=cfg.task.name, seed=0)


def test_repeat_without_labels_per_class_is_refused():
    with pytest.raises(RecipeError, match="data.labeled_repeat"):
        load_recipe("digits-cnn", ["data.labeled_repeat=3"])


def test_labels_per_group_draws_n_per_class_within_each_group():
    y = np.repeat(np.arange(3), 40)
    groups = np.tile(np.array(["ann", "bob", "cy", "dee"]), 30)
    kept, rest = few_labels(y, per_class=2, seed=0, groups=groups)
    pairs = {(int(c), str(g)) for c, g in zip(y[kept], groups[kept])}
    assert len(kept) == 3 * 4 * 2 and len(pairs) == 12  # 2 of every (class, group) pair
    assert sorted(np.concatenate([kept, rest]).tolist()) == list(range(120))
    again, _ = few_labels(y, per_class=2, seed=0, groups=groups)
    other, _ = few_labels(y, per_class=2, seed=1, groups=groups)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)


def test_a_group_too_small_for_its_class_is_refused_naming_both():
    y = np.repeat(np.arange(2), 10)
    groups = np.array(["a"] * 9 + ["b"] + ["a"] * 5 + ["b"] * 5)
    with pytest.raises(DataError, match=r"class 0 has only 1 examples of group 'b'"):
        few_labels(y, per_class=2, seed=0, groups=groups)


def test_labels_per_group_from_a_recipe_uses_data_groups(tmp_path):
    whole = _digits()
    index = tmp_path / "speakers.csv"  # digits has no files: groups by example number (id)
    index.write_text("id,group\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(1797)))
    few = _digits("data.labels_per_class=2", f"data.groups=meta:{index}", "data.labels_per_group=true")
    assert torch.bincount(few.train.y).tolist() == [6] * 10  # 2 per class in each of 3 groups
    assert sorted(zip(few.train.y.tolist(), few.train.groups.tolist())) == sorted(
        (c, g) for c in range(10) for g in "abc" for _ in range(2))
    assert len(few.unlabeled) + len(few.train) == len(whole.train)


def test_labels_per_group_needs_labels_and_groups():
    with pytest.raises(RecipeError, match="data.labels_per_group"):
        load_recipe("digits-cnn", ["data.labels_per_class=2", "data.labels_per_group=true"])
    with pytest.raises(RecipeError, match="data.labels_per_group"):
        load_recipe("digits-cnn", ["data.groups=file:x", "data.labels_per_group=true"])


def test_a_labelled_fraction_keeps_that_share_of_each_class():
    y = np.repeat(np.arange(3), [100, 40, 3])
    kept, rest = few_labels(y, fraction=0.1, seed=0)
    assert np.bincount(y[kept]).tolist() == [10, 4, 1]  # rounded, and at least one of the rarest class
    assert len(kept) + len(rest) == len(y) and not set(kept) & set(rest)
    again, _ = few_labels(y, fraction=0.1, seed=0)
    other, _ = few_labels(y, fraction=0.1, seed=1)
    assert np.array_equal(kept, again) and not np.array_equal(kept, other)


def test_labeled_fraction_in_a_recipe_and_with_labels_per_class_refused():
    whole = _digits()
    few = _digits("data.labeled_fraction=0.05")
    counts = torch.bincount(whole.train.y, minlength=10)
    assert torch.equal(torch.bincount(few.train.y, minlength=10), torch.clamp((counts * 0.05).round().long(), min=1))
    assert len(few.unlabeled) + len(few.train) == len(whole.train)
    load_recipe("digits-cnn", ["data.labeled_fraction=0.05", "train.semi={method: fixmatch}"])  # enough for train.semi
    with pytest.raises(RecipeError, match="data.labeled_fraction.*both say how many labels to keep"):
        load_recipe("digits-cnn", ["data.labeled_fraction=0.05", "data.labels_per_class=3"])
    with pytest.raises(RecipeError, match="data.labeled_fraction"):
        load_recipe("digits-cnn", ["data.labeled_fraction=1.5"])
