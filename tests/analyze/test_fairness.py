"""Group metrics on a small case worked out by hand, checked against scikit-learn where it has the
same measure, and refused with a clear message when the input cannot work."""

from __future__ import annotations

import json

import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from layerlab.analyze.calibration import expected_calibration_error
from layerlab.analyze.fairness import group_metrics
from layerlab.errors import LayerLabError

# Two groups of five, interleaved so that grouping has to follow the labels, not the order.
#   group a: targets 1 1 0 0 0, preds 1 0 1 0 0
#     right: 1 of 2 positives, 2 of 3 negatives -> accuracy 3/5; selected 2/5; TPR 1/2; FPR 1/3
#     F1: class 1: 2·1 / (2 + 2) = 1/2; class 0: 2·2 / (3 + 3) = 2/3; macro 7/12
#   group b: targets 1 1 1 0 0, preds 1 1 1 1 0
#     right: 3 of 3 positives, 1 of 2 negatives -> accuracy 4/5; selected 4/5; TPR 1; FPR 1/2
#     F1: class 1: 2·3 / (3 + 4) = 6/7; class 0: 2·1 / (2 + 1) = 2/3; macro 16/21
# DP = 4/5 − 2/5 = 2/5; TPR difference 1/2, FPR difference 1/2 − 1/3 = 1/6; EO = max = 1/2
GROUPS = ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]
TARGETS = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
PREDS = [1, 1, 0, 1, 1, 1, 0, 1, 0, 0]


def binary_case() -> dict:
    return group_metrics(torch.tensor(PREDS), torch.tensor(TARGETS), GROUPS)


def test_two_groups_worked_out_by_hand():
    result = binary_case()
    a, b = result["groups"]["a"], result["groups"]["b"]
    assert (a["n"], b["n"]) == (5, 5)
    assert a["accuracy"] == pytest.approx(3 / 5) and b["accuracy"] == pytest.approx(4 / 5)
    assert a["error_rate"] == pytest.approx(2 / 5) and b["error_rate"] == pytest.approx(1 / 5)
    assert a["macro_f1"] == pytest.approx(7 / 12) and b["macro_f1"] == pytest.approx(16 / 21)
    assert a["selection_rate"] == pytest.approx(2 / 5) and b["selection_rate"] == pytest.approx(4 / 5)
    assert a["true_positive_rate"] == pytest.approx(1 / 2) and b["true_positive_rate"] == pytest.approx(1.0)
    assert a["false_positive_rate"] == pytest.approx(1 / 3) and b["false_positive_rate"] == pytest.approx(1 / 2)
    assert result["positive"] == 1
    assert result["demographic_parity_difference"] == pytest.approx(2 / 5)
    assert result["true_positive_rate_difference"] == pytest.approx(1 / 2)
    assert result["false_positive_rate_difference"] == pytest.approx(1 / 6)
    assert result["equalized_odds_difference"] == pytest.approx(1 / 2)
    assert result["overall"] == {"n": 10, "accuracy": pytest.approx(7 / 10)}
    json.dumps(result)  # plain numbers, strings and None only


def test_worst_group_and_gaps_to_the_best():
    result = binary_case()
    assert result["worst_group"] == {"name": "a", "accuracy": pytest.approx(3 / 5)}
    assert result["groups"]["a"]["gap_to_best"] == pytest.approx(1 / 5)
    assert result["groups"]["b"]["gap_to_best"] == 0.0


def test_group_ids_as_a_tensor_give_the_same_numbers():
    ids = torch.tensor([0 if g == "a" else 1 for g in GROUPS])
    by_id = group_metrics(torch.tensor(PREDS), torch.tensor(TARGETS), ids)
    by_name = binary_case()
    assert by_id["groups"] == {"0": by_name["groups"]["a"], "1": by_name["groups"]["b"]}
    assert by_id["equalized_odds_difference"] == by_name["equalized_odds_difference"]


def test_a_constant_predictor_has_exact_demographic_parity():
    for constant in (0, 1):
        result = group_metrics(torch.full((10,), constant), torch.tensor(TARGETS), GROUPS)
        assert result["demographic_parity_difference"] == 0.0
        assert {row["selection_rate"] for row in result["groups"].values()} == {float(constant)}


def test_a_group_without_positives_has_no_true_positive_rate():
    groups = GROUPS + ["c", "c", "c"]  # c: three negatives, one of them selected
    result = group_metrics(torch.tensor(PREDS + [1, 0, 0]), torch.tensor(TARGETS + [0, 0, 0]), groups)
    c = result["groups"]["c"]
    assert c["true_positive_rate"] is None and c["false_positive_rate"] == pytest.approx(1 / 3)
    assert result["true_positive_rate_difference"] == pytest.approx(1 / 2)  # a and b only
    assert result["false_positive_rate_difference"] == pytest.approx(1 / 2 - 1 / 3)
    assert result["equalized_odds_difference"] == pytest.approx(1 / 2)


def test_calibration_error_per_group():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(10, 2, generator=g).softmax(1)
    result = group_metrics(probs.argmax(1), torch.tensor(TARGETS), GROUPS, probs=probs, bins=5)
    members = torch.tensor([x == "b" for x in GROUPS])
    expected = expected_calibration_error(probs[members], torch.tensor(TARGETS)[members], bins=5)
    assert result["groups"]["b"]["ece"] == pytest.approx(expected)


def test_multiclass_gives_quality_per_group_and_no_parity():
    g = torch.Generator().manual_seed(3)
    targets = torch.randint(0, 4, (60,), generator=g)
    preds = torch.where(torch.rand(60, generator=g) < 0.6, targets, torch.randint(0, 4, (60,), generator=g))
    groups = ["north", "south", "east"] * 20
    result = group_metrics(preds, targets, groups)
    assert set(result["groups"]) == {"east", "north", "south"}
    for name, row in result["groups"].items():
        members = [i for i, group in enumerate(groups) if group == name]
        assert row["n"] == 20
        assert row["accuracy"] == pytest.approx(accuracy_score(targets[members], preds[members]))
        assert row["macro_f1"] == pytest.approx(f1_score(targets[members], preds[members], average="macro"))
        assert "selection_rate" not in row
    assert not {"positive", "demographic_parity_difference", "equalized_odds_difference"} & set(result)
    worst = min(result["groups"].values(), key=lambda row: row["accuracy"])
    assert result["worst_group"]["accuracy"] == worst["accuracy"]

    one_vs_rest = group_metrics(preds, targets, groups, positive=2)
    assert one_vs_rest["positive"] == 2 and "equalized_odds_difference" in one_vs_rest
    north = [i for i, group in enumerate(groups) if group == "north"]
    selected = (preds[north] == 2).float().mean().item()
    assert one_vs_rest["groups"]["north"]["selection_rate"] == pytest.approx(selected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"groups": GROUPS[:-1]}, "10 predictions and targets but 9 group labels"),
        ({"targets": torch.tensor(TARGETS[:-1])}, r"one entry per example; got \(10,\) and \(9,\)"),
        ({"groups": ["a"] * 10}, "at least 2 groups; all 10 examples are in group 'a'"),
        ({"positive": 2}, r"positive=2 is not one of the classes 0\.\.1"),
        ({"probs": torch.full((10, 3), 1 / 3), "positive": 3}, r"positive=3 is not one of the classes 0\.\.2"),
        ({"probs": torch.full((9, 2), 0.5)}, "one row per example"),
        ({"preds": torch.tensor(PREDS, dtype=torch.float32)}, "preds must be integer class indices"),
    ],
)
def test_bad_input_is_refused_with_the_reason(kwargs, message):
    arguments = {"preds": torch.tensor(PREDS), "targets": torch.tensor(TARGETS), "groups": GROUPS} | kwargs
    with pytest.raises(LayerLabError, match=message):
        group_metrics(**arguments)
