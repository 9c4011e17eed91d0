"""FixMatch's distribution alignment (train.semi.dist_align): the pseudo-labels move towards the labelled
class shares on a hand-made batch, the running mean is the stated moving average and survives a checkpoint
exactly, and bad values are refused by key."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from layerlab.recipe import RecipeError, load_recipe
from layerlab.semi.alignment import DistAlign
from layerlab.semi.base import Views
from layerlab.semi.config import semi_section
from layerlab.semi.fixmatch import FixMatch

# a model that favours class 0: six unlabelled examples, three classes
BIASED = torch.tensor([[0.70, 0.20, 0.10], [0.60, 0.30, 0.10], [0.50, 0.45, 0.05],
                       [0.48, 0.12, 0.40], [0.20, 0.70, 0.10], [0.10, 0.20, 0.70]])
UNIFORM = torch.full((3,), 1 / 3)


def test_alignment_damps_the_overpredicted_class():
    aligned = DistAlign(UNIFORM, momentum=0.0)(BIASED)  # momentum 0: the running mean is this batch's
    assert torch.allclose(aligned.sum(dim=1), torch.ones(6))
    assert BIASED.argmax(dim=1).tolist() == [0, 0, 0, 0, 1, 2]
    assert aligned.argmax(dim=1).tolist() == [0, 0, 1, 2, 1, 2]  # the two near ties leave class 0
    assert aligned[:, 0].mean() < BIASED[:, 0].mean() and aligned[:, 2].mean() > BIASED[:, 2].mean()
    # by hand, row 2: (0.50, 0.45, 0.05) / running mean (0.43, 0.328, 0.242), renormalised
    running = BIASED.mean(dim=0)
    row = BIASED[2] / running
    assert torch.allclose(aligned[2], row / row.sum(), atol=1e-5)


def test_a_prior_that_favours_a_class_lifts_it():
    prior = torch.tensor([0.2, 0.2, 0.6])
    aligned = DistAlign(prior, momentum=0.0)(BIASED)
    uniform = DistAlign(UNIFORM, momentum=0.0)(BIASED)
    assert (aligned[:, 2] > uniform[:, 2]).all()


def test_the_running_mean_is_a_moving_average_from_the_first_batch():
    align = DistAlign(UNIFORM, momentum=0.9)
    second = BIASED.flip(dims=[1])
    align(BIASED)
    assert torch.equal(align.running, BIASED.mean(dim=0))
    align(second)
    assert torch.allclose(align.running, 0.9 * BIASED.mean(dim=0) + 0.1 * second.mean(dim=0))


def test_the_running_mean_is_saved_and_restored_exactly(tmp_path):
    align = DistAlign(UNIFORM, momentum=0.99)
    for k in range(5):
        align(torch.softmax(torch.randn(8, 3, generator=torch.Generator().manual_seed(k)), dim=1))
    torch.save(align.state_dict(), tmp_path / "state.pt")
    again = DistAlign(UNIFORM, momentum=0.99)
    again.load_state_dict(torch.load(tmp_path / "state.pt"))
    assert torch.equal(again.running, align.running)
    batch = torch.softmax(torch.randn(8, 3, generator=torch.Generator().manual_seed(9)), dim=1)
    assert torch.equal(again(batch), align(batch))  # and the next step aligns alike


class _Fixed(nn.Module):
    """Logits for (labelled, weak, strong) rows: the labelled and strong rows zero, the weak ones BIASED's logs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(len(x), 3)
        out[2:8] = BIASED.log()
        return out


def _fixmatch(**options) -> FixMatch:
    cfg = semi_section({"method": "fixmatch", "threshold": 0.0, **options})
    identity = lambda u, generator: u  # noqa: E731
    return FixMatch(cfg, Views(weak=identity, strong=identity), UNIFORM)


def test_fixmatch_takes_its_pseudo_labels_from_the_aligned_probabilities():
    x, u = torch.zeros(2, 1), torch.zeros(6, 1)
    generators = (torch.Generator(), torch.Generator())
    plain = _fixmatch().losses(_Fixed(), x, u, generators)
    aligned = _fixmatch(dist_align=True, dist_align_momentum=0.0).losses(_Fixed(), x, u, generators)
    assert plain.pseudo.tolist() == [0, 0, 0, 0, 1, 2]
    assert aligned.pseudo.tolist() == [0, 0, 1, 2, 1, 2]
    assert _fixmatch().state_dict() == {}  # off: nothing new in the checkpoint


def test_fixmatch_refuses_a_checkpoint_without_the_alignment_state():
    with pytest.raises(ValueError, match="no distribution alignment state.*dist_align off"):
        _fixmatch(dist_align=True).load_state_dict({})


@pytest.mark.parametrize("value", [1.0, -0.1, 1.5])
def test_a_momentum_outside_0_1_is_refused_with_its_key(value):
    with pytest.raises(RecipeError, match="train.semi.dist_align_momentum"):
        load_recipe("fashion-fixmatch-40", [f"train.semi.dist_align_momentum={value}"])


def test_dist_align_is_fixmatchs_option_only():
    assert load_recipe("fashion-fixmatch-40", ["train.semi.dist_align=true"]).train.semi.dist_align is True
    assert load_recipe("fashion-fixmatch-40").train.semi.dist_align is False  # off by default
    with pytest.raises(RecipeError, match="train.semi.dist_align: unknown key"):
        load_recipe("digits-cnn", ["data.labels_per_class=5", "train.semi={method: pseudo_label, dist_align: true}"])
    with pytest.raises(RecipeError, match="train.semi.dist_align"):
        load_recipe("fashion-fixmatch-40", ["train.semi.dist_align=sometimes"])


def test_a_bad_prior_is_refused():
    with pytest.raises(ValueError, match="class prior of non-negative shares"):
        DistAlign(torch.zeros(3), momentum=0.9)
    with pytest.raises(ValueError, match="prior has 3 classes, the model gives 4"):
        DistAlign(UNIFORM, momentum=0.9)(torch.full((2, 4), 0.25))
