"""Calibration: ECE on hand-computed cases and against a plain loop, temperature scaling recovers a
known temperature, and the reliability diagram is a real PNG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from layerlab.analyze.calibration import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    expected_calibration_error,
    fit_temperature,
    plot_reliability,
    reliability,
)
from layerlab.errors import LayerLabError


def two_class(confidence: float, target: int) -> tuple[list[float], int]:
    """A row that predicts class 0 with ``confidence``, and its target (0 = right, 1 = wrong)."""
    return [confidence, 1 - confidence], target


def table(rows: list[tuple[list[float], int]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor([p for p, _ in rows], dtype=torch.float64), torch.tensor([t for _, t in rows])


def loop_ece(probs: torch.Tensor, targets: torch.Tensor, bins: int) -> float:
    """The textbook definition, one bin and one example at a time."""
    confidence, pred = probs.max(1)
    total = 0.0
    for b in range(bins):
        lower, upper = b / bins, (b + 1) / bins
        members = [i for i in range(len(targets))
                   if lower < confidence[i] <= upper or (b == 0 and confidence[i] == 0)]
        if members:
            accuracy = sum(float(pred[i] == targets[i]) for i in members) / len(members)
            mean_confidence = sum(float(confidence[i]) for i in members) / len(members)
            total += len(members) / len(targets) * abs(accuracy - mean_confidence)
    return total


# ------------------------------------------------------------------------------------------- ECE
def test_a_calibrated_model_has_no_calibration_error():
    # confidence 0.75: 3 of 4 right; 0.6 (three classes): 3 of 5 right; 1.0: 2 of 2 right
    rows = [two_class(0.75, 0)] * 3 + [two_class(0.75, 1)]
    rows = [([p[0], p[1], 0.0], t) for p, t in rows]
    rows += [([0.6, 0.3, 0.1], 0)] * 3 + [([0.6, 0.3, 0.1], 1), ([0.6, 0.3, 0.1], 2)]
    rows += [([1.0, 0.0, 0.0], 0)] * 2
    probs, targets = table(rows)
    assert expected_calibration_error(probs, targets, bins=10) == pytest.approx(0.0, abs=1e-12)


def test_over_confidence_costs_its_gap_weighted_by_the_bin_size():
    # 4 examples at confidence 0.85 with 2 right (gap 0.35); 2 at 0.65 with 1 right (gap 0.15)
    rows = [two_class(0.85, t) for t in (0, 0, 1, 1)] + [two_class(0.65, t) for t in (0, 1)]
    probs, targets = table(rows)
    expected = 4 / 6 * 0.35 + 2 / 6 * 0.15  # = 1.7 / 6
    assert expected_calibration_error(probs, targets, bins=10) == pytest.approx(expected, abs=1e-12)

    info = reliability(probs, targets, bins=10)
    assert info["ece"] == pytest.approx(expected, abs=1e-12)
    assert info["mce"] == pytest.approx(0.35, abs=1e-12)
    assert info["count"] == [0, 0, 0, 0, 0, 0, 2, 0, 4, 0]
    assert info["accuracy"][6] == 0.5 and info["accuracy"][8] == 0.5
    assert info["confidence"][8] == pytest.approx(0.85) and info["accuracy"][0] is None
    assert info["lower"][8] == pytest.approx(0.8) and info["upper"][8] == pytest.approx(0.9)


@pytest.mark.parametrize("bins", [1, 7, 15])
def test_ece_matches_a_plain_loop_and_bins_hold_every_example(bins):
    g = torch.Generator().manual_seed(bins)
    probs = (torch.randn(300, 4, generator=g) * 2).softmax(1)
    targets = torch.randint(0, 4, (300,), generator=g)
    info = reliability(probs, targets, bins=bins)
    assert sum(info["count"]) == 300 == info["n"]
    assert info["ece"] == pytest.approx(loop_ece(probs, targets, bins), abs=1e-6)
    assert expected_calibration_error(probs, targets, bins=bins) == info["ece"]
    assert len(info["lower"]) == len(info["upper"]) == len(info["confidence"]) == bins
    assert info["upper"][-1] == 1.0


def test_confidence_on_a_bin_edge_falls_in_the_lower_bin():
    probs, targets = table([two_class(0.5, 0), two_class(1.0, 0)])
    assert reliability(probs, targets, bins=2)["count"] == [1, 1]  # (0, 0.5] and (0.5, 1]


def test_no_examples_give_nan():
    info = reliability(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), bins=4)
    assert info["count"] == [0] * 4 and info["accuracy"] == [None] * 4
    assert math.isnan(info["ece"]) and math.isnan(info["mce"])


@pytest.mark.parametrize(
    ("probs", "targets", "bins", "message"),
    [
        (torch.full((3, 2), 0.5), torch.zeros(4, dtype=torch.long), 15, r"expected probabilities \(N, C\)"),
        (torch.tensor([[3.0, -1.0]]), torch.zeros(1, dtype=torch.long), 15, "not the logits"),
        (torch.full((2, 2), 0.5), torch.tensor([0, 2]), 15, r"targets must lie in 0\.\.1"),
        (torch.full((2, 2), 0.5), torch.tensor([0.0, 1.0]), 15, "integer class indices"),
        (torch.full((2, 2), 0.5), torch.tensor([0, 1]), 0, "bins must be a whole number"),
    ],
)
def test_bad_input_is_refused(probs, targets, bins, message):
    with pytest.raises(LayerLabError, match=message):
        expected_calibration_error(probs, targets, bins=bins)


# ---------------------------------------------------------------------------------- temperature
def test_temperature_scaling_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20_000, 5, generator=g) * 2
    targets = torch.multinomial(true_logits.softmax(1), 1, generator=g).squeeze(1)
    logits = true_logits * 3  # three times over-confident

    temperature = fit_temperature(logits, targets)
    assert temperature == pytest.approx(3.0, rel=0.1)
    scaled = logits / temperature
    assert torch.equal(scaled.argmax(1), logits.argmax(1))
    before = expected_calibration_error(logits.softmax(1), targets)
    after = expected_calibration_error(scaled.softmax(1), targets)
    assert after < before / 3


def test_temperature_stays_in_range_at_the_extremes():
    g = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 3, (500,), generator=g)
    separable = torch.nn.functional.one_hot(targets, 3).double() * 5  # every example right, by a margin
    assert MIN_TEMPERATURE <= fit_temperature(separable, targets) < 1.0
    unrelated = torch.randn(500, 3, generator=g)  # logits that say nothing about the targets
    assert 10 < fit_temperature(unrelated, targets) <= MAX_TEMPERATURE


def test_temperature_of_no_examples_is_one():
    assert fit_temperature(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)) == 1.0


def test_temperature_refuses_bad_input():
    with pytest.raises(LayerLabError, match=r"expected logits \(N, C\)"):
        fit_temperature(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(LayerLabError, match="must be finite"):
        fit_temperature(torch.tensor([[0.0, math.nan]]), torch.zeros(1, dtype=torch.long))


# ----------------------------------------------------------------------------------------- plot
def test_reliability_diagram_is_a_png(tmp_path):
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(400, 3, generator=g) * 3
    targets = torch.multinomial((logits / 3).softmax(1), 1, generator=g).squeeze(1)
    path = plot_reliability(reliability(logits.softmax(1), targets, bins=10), tmp_path / "rel.png",
                            title="validation")
    assert path == tmp_path / "rel.png" and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 100 and image.height > 100
        assert np.asarray(image.convert("L")).std() > 5  # something is drawn
    assert [p.name for p in tmp_path.iterdir()] == ["rel.png"]  # no temporary file left behind


def test_reliability_diagram_of_no_examples_and_of_a_bad_table(tmp_path):
    empty = reliability(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), bins=5)
    assert plot_reliability(empty, tmp_path / "empty.png").stat().st_size > 0
    with pytest.raises(LayerLabError, match="needs the result of reliability"):
        plot_reliability({"ece": 0.1}, tmp_path / "bad.png")
