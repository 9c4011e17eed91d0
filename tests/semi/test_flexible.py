"""FlexMatch's per-class thresholds (train.semi.flexible): the stated thresholds on hand-made batches, with
and without the warm-up; a batch is judged by what came before it; the memory survives a checkpoint
exactly; bad input is refused; on real digits the history reports the pseudo-labels it used."""

from __future__ import annotations

import pytest
import torch

from layerlab import api
from layerlab.recipe import RecipeError, load_recipe
from layerlab.semi.base import Views
from layerlab.semi.config import semi_section
from layerlab.semi.fixmatch import FixMatch
from layerlab.semi.flexible import FlexThresholds

CONFIDENCE = torch.tensor([0.99, 0.97, 0.50, 0.96])
PSEUDO = torch.tensor([0, 0, 1, 2])


def test_every_threshold_starts_at_zero_and_a_learnt_class_rises_with_warmup():
    flex = FlexThresholds(unlabeled=10, classes=3, warmup=True)
    assert torch.equal(flex.thresholds(0.95), torch.zeros(3))
    mask = flex(CONFIDENCE, PSEUDO, torch.tensor([0, 1, 2, 3]), threshold=0.95)
    assert mask.tolist() == [True, True, True, True]  # judged by the thresholds before the batch: all 0
    assert flex.selected.tolist() == [0, 0, -1, 2, -1, -1, -1, -1, -1, -1]  # the confident ones remember
    # beta: class 0 holds 2, class 2 holds 1, 7 never confident (the warm-up's denominator): 2/7, 0, 1/7
    beta = torch.tensor([2 / 7, 0.0, 1 / 7])
    assert torch.allclose(flex.learning_effect(), beta)
    assert torch.allclose(flex.thresholds(0.95), 0.95 * beta / (2 - beta))
    # the next batch: class 0's 0.15 threshold passes, class 1's is still 0, class 2's 0.07 fails at 0.05
    mask = flex(torch.tensor([0.2, 0.01, 0.05]), torch.tensor([0, 1, 2]), torch.tensor([4, 5, 6]), threshold=0.95)
    assert mask.tolist() == [True, True, False]
    assert flex.selected[4:7].tolist() == [-1, -1, -1]  # none reached 0.95: nothing new remembered


def test_without_warmup_the_best_learnt_class_keeps_the_full_threshold():
    flex = FlexThresholds(unlabeled=10, classes=3, warmup=False)
    flex(CONFIDENCE, PSEUDO, torch.tensor([0, 1, 2, 3]), threshold=0.95)
    beta = torch.tensor([1.0, 0.0, 0.5])  # over the largest class (2), not over the 7 never confident
    assert torch.allclose(flex.thresholds(0.95), 0.95 * beta / (2 - beta))
    assert flex.thresholds(0.95)[0] == pytest.approx(0.95)


def test_an_example_remembers_its_latest_confident_class():
    flex = FlexThresholds(unlabeled=4, classes=3, warmup=True)
    flex(torch.tensor([0.99]), torch.tensor([1]), torch.tensor([2]), threshold=0.9)
    flex(torch.tensor([0.95]), torch.tensor([2]), torch.tensor([2]), threshold=0.9)
    flex(torch.tensor([0.30]), torch.tensor([0]), torch.tensor([2]), threshold=0.9)  # not confident: kept
    assert flex.selected.tolist() == [-1, -1, 2, -1]


def test_the_memory_is_saved_and_restored_exactly(tmp_path):
    flex = FlexThresholds(unlabeled=50, classes=4, warmup=True)
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        index = torch.randperm(50, generator=g)[:16]
        flex(torch.rand(16, generator=g), torch.randint(0, 4, (16,), generator=g), index, threshold=0.6)
    torch.save(flex.state_dict(), tmp_path / "state.pt")
    again = FlexThresholds(unlabeled=50, classes=4, warmup=True)
    again.load_state_dict(torch.load(tmp_path / "state.pt"))
    assert torch.equal(again.selected, flex.selected)
    batch = (torch.rand(16, generator=g), torch.randint(0, 4, (16,), generator=g), torch.arange(16))
    assert torch.equal(again(*batch, threshold=0.6), flex(*batch, threshold=0.6))
    with pytest.raises(ValueError, match="remember 50 unlabelled examples, this run has 40"):
        FlexThresholds(unlabeled=40, classes=4, warmup=True).load_state_dict(flex.state_dict())


def test_bad_numbers_and_a_checkpoint_without_the_memory_are_refused():
    flex = FlexThresholds(unlabeled=4, classes=3, warmup=True)
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\)"):
        flex(torch.tensor([0.9]), torch.tensor([0]), torch.tensor([4]), threshold=0.5)
    with pytest.raises(ValueError, match="need unlabelled examples and 2 or more classes"):
        FlexThresholds(unlabeled=0, classes=3, warmup=True)
    cfg = semi_section({"method": "fixmatch", "flexible": True})
    identity = lambda u, generator: u  # noqa: E731
    method = FixMatch(cfg, Views(weak=identity, strong=identity), torch.full((3,), 1 / 3), unlabeled=4)
    with pytest.raises(ValueError, match="no flexible thresholds.*flexible off"):
        method.load_state_dict({})
    with pytest.raises(ValueError, match="needs the unlabelled examples' numbers"):
        method.losses(lambda x: torch.zeros(len(x), 3), torch.zeros(1, 1), torch.zeros(2, 1),
                      (torch.Generator(), torch.Generator()))


def test_flexible_is_fixmatchs_option_and_off_by_default():
    assert load_recipe("digits-cnn", ["data.labels_per_class=5", "train.semi={method: fixmatch}"]).train.semi.flexible is False
    semi = load_recipe("fashion-fixmatch-40").train.semi  # the recipe turns it on
    assert semi.flexible is True and semi.flexible_warmup is True
    assert load_recipe("fashion-fixmatch-40", ["train.semi.flexible=false"]).train.semi.flexible is False
    with pytest.raises(RecipeError, match="train.semi.flexible: unknown key"):
        load_recipe("digits-cnn", ["data.labels_per_class=5", "train.semi={method: pseudo_label, flexible: true}"])
    with pytest.raises(RecipeError, match="train.semi.flexible_warmup"):
        load_recipe("fashion-fixmatch-40", ["train.semi.flexible_warmup=maybe"])


def test_flexmatch_on_real_digits_uses_every_pseudo_label_while_no_class_is_learnt(tmp_path):
    def recipe(**options) -> dict:
        return {
            "name": "flex", "data": {"name": "digits", "labels_per_class": 5, "labeled_repeat": 4,
                                     "augment": {"crop_padding": 1}},
            "model": {"name": "cnn", "width": 8, "blocks": 2},
            "train": {"epochs": 2, "batch_size": 25, "lr": 0.01, "seed": 3, "report": False, "diagnostics_every": 0,
                      "semi": {"method": "fixmatch", "mu": 2, "threshold": 0.9, **options}},
        }

    flex = api.run(recipe(flexible=True), out=tmp_path / "flex")
    fixed = api.run(recipe(), out=tmp_path / "fixed")
    # no prediction reaches 0.9 in these first steps, so every class's threshold stays 0 (beta 0): FlexMatch uses
    # every pseudo-label, FixMatch none. (That hurts: 0.19 test accuracy after 3 such epochs against FixMatch's
    # 0.36, measured; why it is off by default and measured in BENCHMARKS.md before any recipe uses it.)
    assert flex.history[0]["unlabeled_above_threshold"] == 1.0
    assert fixed.history[0]["unlabeled_above_threshold"] == 0.0
    assert 0 < flex.history[0]["pseudo_label_accuracy"] < 1  # measured on the hidden labels, as for FixMatch
