"""R-Drop (``task.rdrop``): each training batch goes through the model twice, under two dropout masks, and
the loss pulls the two predictions together by their symmetric KL divergence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from layerlab import api
from layerlab.data.load import load_data
from layerlab.errors import RecipeError
from layerlab.recipe import load_recipe
from layerlab.tasks import ClassificationTask


def _symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the rows of (KL(p || q) + KL(q || p)) / 2, written out from the probabilities."""
    p, q = p_logits.softmax(1), q_logits.softmax(1)
    return ((p * (p.log() - q.log())).sum(1) + (q * (q.log() - p.log())).sum(1)).mean() / 2


def test_the_loss_is_the_two_passes_cross_entropy_plus_alpha_times_their_divergence():
    task = ClassificationTask(4, rdrop=0.7)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 4, generator=g, requires_grad=True)
    target = torch.randint(0, 4, (6,), generator=g)
    p, q = logits.chunk(2)
    ce = (F.cross_entropy(p, target) + F.cross_entropy(q, target)) / 2
    expected = ce + 0.7 * _symmetric_kl(p, q) / 2  # the paper's CE1 + CE2 + alpha * KL, halved
    loss = task.loss(logits, target)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0

    # two equal passes do not diverge: the plain cross-entropy; one pass (B rows) is the plain cross-entropy too
    assert task.loss(torch.cat([p, p]), target).item() == pytest.approx(F.cross_entropy(p, target).item(), rel=1e-6)
    assert task.loss(p, target).item() == pytest.approx(F.cross_entropy(p, target).item(), rel=1e-6)
    assert ClassificationTask(4).loss(logits, torch.cat([target, target])).item() == pytest.approx(ce.item(), rel=1e-6)


def test_label_smoothing_and_class_weights_apply_to_both_passes():
    task = ClassificationTask(3, rdrop=1.0, label_smoothing=0.1, class_weights=[1.0, 2.0, 0.5])
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(10, 3, generator=g), torch.randint(0, 3, (5,), generator=g)
    p, q = logits.chunk(2)
    weight = torch.tensor([1.0, 2.0, 0.5])
    ce = F.cross_entropy(logits, torch.cat([target, target]), weight=weight, label_smoothing=0.1)
    assert task.loss(logits, target).item() == pytest.approx((ce + _symmetric_kl(p, q) / 2).item(), rel=1e-5)


def test_forward_runs_the_batch_twice_under_independent_dropout_masks():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 32), nn.Dropout(0.5), nn.Linear(32, 3)).train()
    x, y = torch.randn(4, 5), torch.zeros(4, dtype=torch.long)
    out = ClassificationTask(3, rdrop=1.0).forward(model, x, y)
    assert out.shape == (8, 3)
    assert not torch.allclose(out[:4], out[4:])  # two masks
    assert ClassificationTask(3).forward(model, x, y).shape == (4, 3)
    model.eval()
    out = ClassificationTask(3, rdrop=1.0).forward(model, x, y)
    assert torch.equal(out[:4], out[4:])  # no dropout: the same pass twice


def test_rdrop_is_refused_outside_classification_and_below_zero():
    with pytest.raises(RecipeError, match=r"task\.rdrop: unknown key for task 'regression' \(an option of classification\)"):
        load_recipe({"task": {"name": "regression", "rdrop": 0.5}, "model": {"name": "mlp"}})
    with pytest.raises(RecipeError, match=r"task\.rdrop"):
        load_recipe({"task": {"name": "classification", "rdrop": -1}, "model": {"name": "mlp"}})


DIGITS = {
    "name": "rdrop-digits",
    "data": {"name": "digits", "val_fraction": 0.0, "test_fraction": 0.3},
    "model": {"name": "mlp", "hidden": [128], "dropout": 0.5},
    "task": {"name": "classification"},
    "train": {"epochs": 12, "batch_size": 64, "optimizer": "adam", "lr": 0.003, "seed": 0, "precision": "fp32",
              "report": False, "diagnostics_every": 0},
}


def _dropout_disagreement(result, x: torch.Tensor) -> float:
    """Mean symmetric KL between two training-mode (dropout) passes of the run's final model over ``x``."""
    model = result.model.train()
    x = x.to(next(model.parameters()).device)  # the run trained on train.device: auto, a GPU where there is one
    torch.manual_seed(1)
    with torch.no_grad():
        return _symmetric_kl(model(x), model(x)).item()


def test_training_with_rdrop_learns_and_makes_its_dropout_passes_agree(tmp_path):
    plain = api.run(DIGITS, out=tmp_path / "plain")
    rdrop = api.run({**DIGITS, "task": {"name": "classification", "rdrop": 1.0}}, out=tmp_path / "rdrop")
    assert rdrop.summary["test"]["accuracy"] > 0.9  # ten classes
    recipe = load_recipe(rdrop.run_dir / "recipe.yaml")
    x = load_data(recipe.data, task="classification", seed=recipe.train.seed).test.x  # the test split, as trained
    # what R-Drop trains for: the sub-models that dropout samples predict alike (measured with train.seed 0-3:
    # 0.64-0.68 times the plain run's divergence; the same training without the KL term gives about 1)
    assert _dropout_disagreement(rdrop, x) < 0.8 * _dropout_disagreement(plain, x)
    assert recipe.task.rdrop == 1.0

