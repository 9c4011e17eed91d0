"""Classification: loss, metrics, report and predictions checked against torch and scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)
from sklearn.utils.class_weight import compute_class_weight

from layerlab.errors import LayerLabError
from layerlab.recipe import TaskConfig
from layerlab.tasks import ClassificationTask, create_task
from layerlab.tasks.classify import balanced_weights


def make_task(num_classes: int = 10, targets: torch.Tensor | None = None, **fields) -> ClassificationTask:
    if targets is None:
        targets = torch.arange(num_classes).repeat(3)
    return create_task(TaskConfig(name="classification", **fields), num_classes=num_classes,
                       class_names=[f"class {i}" for i in range(num_classes)], train_targets=targets)


def random_case(n: int = 600, num_classes: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that are right about half the time, so that no metric is trivially 0 or 1."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, (n,), generator=g)
    logits = torch.randn(n, num_classes, generator=g) + 1.5 * F.one_hot(target, num_classes)
    return logits, target


def hand_made_case() -> tuple[torch.Tensor, torch.Tensor]:
    """5 classes: 1 is predicted but never true, 2 is true but never predicted, 4 occurs nowhere."""
    target = torch.tensor([0, 0, 0, 2, 2, 0, 3, 3])
    pred = torch.tensor([0, 0, 1, 0, 1, 0, 3, 3])
    return F.one_hot(pred, 5).float() * 3 + torch.linspace(0, 0.1, 5), target


CASES = {"random": random_case(), "small random": random_case(40, 3, seed=1), "hand-made": hand_made_case()}


# ---------------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("case", CASES)
def test_metrics_match_sklearn(case):
    logits, target = CASES[case]
    num_classes = logits.shape[1]
    task = make_task(num_classes, top_k=2)
    metrics = task.metrics(logits, target)
    pred = logits.argmax(1).numpy()

    assert metrics["accuracy"] == pytest.approx(accuracy_score(target, pred), abs=1e-6)
    assert metrics["macro_f1"] == pytest.approx(f1_score(target, pred, average="macro", zero_division=0), abs=1e-6)
    assert metrics["loss"] == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)
    if num_classes > 2:
        expected = top_k_accuracy_score(target, logits.numpy(), k=2, labels=range(num_classes))
        assert metrics["top2_accuracy"] == pytest.approx(expected, abs=1e-6)


def test_hand_made_values():
    metrics = make_task(5, top_k=2).metrics(*hand_made_case())
    assert metrics["accuracy"] == pytest.approx(5 / 8)
    # F1 = 2·TP / (true + predicted) per class seen: 0 → 6/8, 1 → 0, 2 → 0, 3 → 1; class 4 is left out
    assert metrics["macro_f1"] == pytest.approx((6 / 8 + 0 + 0 + 1) / 4)


def test_top_k_only_with_more_classes_than_k():
    logits, target = random_case(50, 5)
    assert "top5_accuracy" not in make_task(5, top_k=5).metrics(logits, target)
    assert "top4_accuracy" in make_task(5, top_k=4).metrics(logits, target)
    assert list(make_task(10).metrics(*random_case())) == ["loss", "accuracy", "top5_accuracy", "macro_f1"]


def test_metrics_accept_low_precision_outputs():
    logits, target = random_case()
    task = make_task()
    half = task.metrics(logits.bfloat16(), target)
    full = task.metrics(logits.bfloat16().float(), target)
    assert half == pytest.approx(full)
    assert all(isinstance(v, float) for v in half.values())


@pytest.mark.parametrize("case", CASES)
def test_report_matches_sklearn(case):
    logits, target = CASES[case]
    num_classes = logits.shape[1]
    task = make_task(num_classes)
    report = task.report(logits, target)
    pred = logits.argmax(1).numpy()
    labels = list(range(num_classes))
    precision, recall, f1, support = precision_recall_fscore_support(target, pred, labels=labels, zero_division=0)

    assert report["class_names"] == task.class_names
    assert report["confusion_matrix"] == confusion_matrix(target, pred, labels=labels).tolist()
    for i, name in enumerate(task.class_names):
        row = report["per_class"][name]
        assert row["precision"] == pytest.approx(precision[i])
        assert row["recall"] == pytest.approx(recall[i])
        assert row["f1"] == pytest.approx(f1[i])
        assert row["support"] == support[i]
    json.dumps(report)


def test_bad_outputs_or_targets_are_refused():
    task = make_task(3)
    with pytest.raises(LayerLabError, match=r"outputs \(N, 3\)"):
        task.metrics(torch.zeros(4, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(LayerLabError, match=r"must lie in 0\.\.2; got 0\.\.7"):
        task.metrics(torch.zeros(2, 3), torch.tensor([0, 7]))


# ------------------------------------------------------------------------------------------- loss
def test_plain_loss_is_cross_entropy_and_differentiable():
    logits, target = random_case(64)
    logits.requires_grad_(True)
    loss = make_task().loss(logits, target)
    assert loss.dtype == torch.float32 and loss.ndim == 0
    assert loss.item() == pytest.approx(F.cross_entropy(logits, target).item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_label_smoothing_changes_the_loss_as_torch_does():
    logits, target = random_case(64)
    smooth = make_task(label_smoothing=0.2).loss(logits, target)
    torch.testing.assert_close(smooth, F.cross_entropy(logits, target, label_smoothing=0.2))
    # and by hand: (1 - ε) · NLL + ε · mean over classes of −log p
    logp = logits.double().log_softmax(1)
    by_hand = (0.8 * -logp.gather(1, target[:, None]).squeeze(1) + 0.2 * -logp.mean(1)).mean()
    assert smooth.item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert smooth.item() != pytest.approx(make_task().loss(logits, target).item(), rel=1e-3)


def test_class_weights_change_the_loss_as_torch_does():
    logits, target = random_case(64, 3)
    weights = [1.0, 2.0, 0.5]
    weighted = make_task(3, class_weights=weights).loss(logits, target)
    torch.testing.assert_close(weighted, F.cross_entropy(logits, target, weight=torch.tensor(weights)))
    both = make_task(3, class_weights=weights, label_smoothing=0.1).loss(logits, target)
    torch.testing.assert_close(both, F.cross_entropy(logits, target, weight=torch.tensor(weights), label_smoothing=0.1))


def test_loss_of_bf16_outputs_is_float32():
    logits, target = random_case(64)
    loss = make_task().loss(logits.bfloat16(), target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, F.cross_entropy(logits.bfloat16().float(), target))


# --------------------------------------------------------------------------------- class weights
def test_balanced_weights_from_skewed_targets():
    targets = torch.cat([torch.full((80,), 0), torch.full((15,), 1), torch.full((5,), 2)])
    task = make_task(3, targets=targets, class_weights="balanced")
    expected = torch.tensor(compute_class_weight("balanced", classes=np.arange(3), y=targets.numpy()), dtype=torch.float32)
    expected = expected / expected.mean()
    torch.testing.assert_close(task.class_weights, expected)
    assert task.class_weights.mean().item() == pytest.approx(1.0)
    assert task.class_weights[2] / task.class_weights[0] == pytest.approx(80 / 5)


def test_balanced_weights_give_absent_classes_weight_one():
    weights = balanced_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert weights[2].item() == 1.0
    assert weights[:2].mean().item() == pytest.approx(1.0)


def test_resolved_weights_survive_a_round_trip_through_config_dict():
    targets = torch.tensor([0] * 30 + [1] * 10 + [2] * 2)
    task = make_task(3, targets=targets, class_weights="balanced")
    saved = json.loads(json.dumps(task.config_dict()))
    assert saved["class_weights"] == pytest.approx(task.class_weights.tolist())
    again = create_task(TaskConfig(**saved), num_classes=3, class_names=None, train_targets=torch.empty(0, dtype=torch.long))
    logits, target = random_case(32, 3)
    torch.testing.assert_close(again.loss(logits, target), task.loss(logits, target))


def test_wrong_number_of_class_weights_is_refused():
    with pytest.raises(LayerLabError, match=r"task\.class_weights: 2 weights given, but the data has 3 classes"):
        make_task(3, class_weights=[1.0, 2.0])


def test_negative_class_weights_are_refused():
    with pytest.raises(LayerLabError, match="non-negative"):
        ClassificationTask(3, class_weights=[1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):  # and by the recipe, before any data
        TaskConfig(name="classification", class_weights=[1.0, -2.0, 1.0])


# ------------------------------------------------------------------------------------ predictions
def test_predict_gives_argmax_names_and_probabilities():
    logits, _ = random_case(20)
    task = make_task()
    rows = task.predict(logits)
    probs = logits.softmax(1)
    assert len(rows) == 20
    for row, logit, p in zip(rows, logits, probs):
        assert row["index"] == logit.argmax().item()
        assert row["label"] == task.class_names[row["index"]]
        assert row["probability"] == pytest.approx(p.max().item())
        assert len(row["top"]) == 3 and row["top"][0] == [row["label"], row["probability"]]
        top_probs = [q for _, q in row["top"]]
        assert top_probs == sorted(top_probs, reverse=True)
        assert sum(top_probs) <= 1 + 1e-6
    json.dumps(rows)


def test_predict_with_two_classes_lists_both():
    rows = make_task(2).predict(torch.tensor([[0.0, 2.0]]))
    assert rows[0]["label"] == "class 1"
    assert [name for name, _ in rows[0]["top"]] == ["class 1", "class 0"]
    assert sum(p for _, p in rows[0]["top"]) == pytest.approx(1.0)
