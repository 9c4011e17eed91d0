"""The built-in semi-supervised recipes: valid, and FixMatch's CIFAR-10 protocol end to end on a tiny folder
in CIFAR-10's real format (only its size and length changed)."""

from __future__ import annotations

import pytest

from layerlab import api
from layerlab.recipe import load_recipe


def test_the_recipes_state_their_protocols():
    cifar = load_recipe("cifar10-fixmatch-250")
    assert cifar.data.labels_per_class * 10 == 250 and cifar.train.semi.method == "fixmatch"
    assert cifar.train.epochs * cifar.data.labeled_repeat * 250 // cifar.train.batch_size >= 2**20 - 2**12
    fashion = load_recipe("fashion-fixmatch-40")
    assert fashion.data.labels_per_class == 40 and fashion.train.semi.threshold == 0.95


def test_cifar10_fixmatch_250_runs_end_to_end(tiny_cifar, tmp_path):
    overrides = [f"data.path={tiny_cifar}", "data.labels_per_class=2", "data.labeled_repeat=2", "data.val_fraction=0.1",
                 "train.epochs=1", "train.batch_size=8", "train.eval_batch_size=64", "train.semi.mu=2",
                 "train.semi.threshold=0.0", "train.report=false"]
    result = api.run("cifar10-fixmatch-250", overrides, out=tmp_path / "run")
    assert result.summary["status"] == "finished"
    (row,) = result.history
    assert row["unlabeled_above_threshold"] == 1.0  # threshold 0: every unlabelled image gets a pseudo-label
    assert 0 <= row["pseudo_label_accuracy"] <= 1 and row["unlabeled_loss"] > 0
    again = api.evaluate(result.run_dir)  # the run directory alone evaluates
    assert again["metrics"]["accuracy"] == result.summary["test"]["accuracy"]


FEW = {  # scikit-learn's real 8x8 digits: 4 labelled images per class, the other ~1,170 training images unlabelled
    "name": "digits-few",
    "data": {"name": "digits", "val_fraction": 0.1, "test_fraction": 0.3, "labels_per_class": 4, "labeled_repeat": 8,
             "augment": {"crop_padding": 1}},
    "model": {"name": "cnn", "width": 16, "blocks": 2},
    "train": {"epochs": 25, "batch_size": 32, "optimizer": "adamw", "lr": 0.01, "schedule": "cosine", "seed": 0,
              "report": False, "diagnostics_every": 0},
}


@pytest.mark.slow
def test_fixmatch_beats_the_same_labels_alone(tmp_path):
    """The same 40 labels, CNN, schedule and seed: FixMatch on the unlabelled rest against the labels alone.
    Measured on seeds 0-3 (BENCHMARKS.md, "Semi-supervised learning"): the labels alone 83-90 %, FixMatch 92-96 %,
    each seed's FixMatch 3 to 9 points above its supervised run; in this form (no weight decay, the step clock)
    seed 0 gave 77 % and 95 %."""
    alone = api.run(FEW, out=tmp_path / "alone")
    semi = {**FEW, "train": {**FEW["train"], "semi": {"method": "fixmatch", "threshold": 0.9, "mu": 4}}}
    fixmatch = api.run(semi, out=tmp_path / "fixmatch")
    a, b = alone.summary["test"]["accuracy"], fixmatch.summary["test"]["accuracy"]
    assert b > 0.88 and b > a + 0.03, (a, b)
    assert fixmatch.history[-1]["unlabeled_above_threshold"] > 0.5  # most unlabelled images teach by the end
    assert fixmatch.history[-1]["pseudo_label_accuracy"] > 0.9
