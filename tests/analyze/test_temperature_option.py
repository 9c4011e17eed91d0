"""task.calibrate: temperature: fitted on the validation split after training, kept in the run, used
by every command that reads it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from layerlab.analyze.temperature import TemperatureScaled, unwrapped
from layerlab.api import evaluate, load_run
from layerlab.errors import RecipeError
from layerlab.recipe import load_recipe


def test_the_run_keeps_its_temperature_and_load_run_applies_it(digits_run):
    calibration = json.loads((digits_run / "model.json").read_text())["calibration"]
    assert calibration["method"] == "temperature" and calibration["temperature"] > 0
    assert calibration["val_nll_after"] <= calibration["val_nll_before"] + 1e-9  # the fit's objective
    loaded = load_run(digits_run)
    assert isinstance(loaded.model, TemperatureScaled)
    assert loaded.model.temperature.item() == pytest.approx(calibration["temperature"])
    x = torch.randn(5, *loaded.info.input_shape)
    with torch.no_grad():
        raw, scaled = unwrapped(loaded.model)(x), loaded.model(x)
    assert torch.allclose(scaled, raw / calibration["temperature"])
    assert torch.equal(scaled.argmax(1), raw.argmax(1))  # scaling never changes a prediction
    # the weights file holds the raw network only, so it still loads into a plain model
    assert not any(k.startswith("model.") for k in load_file(str(digits_run / "model.safetensors")))


def test_evaluate_uses_the_calibrated_model(digits_run):
    summary = json.loads((digits_run / "summary.json").read_text())
    result = evaluate(digits_run)
    assert result["metrics"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])
    assert result["metrics"]["loss"] == pytest.approx(summary["test"]["loss"], rel=1e-5)


@pytest.mark.parametrize(("overrides", "message"), [
    (["task.name=regression", "task.calibrate=temperature"], r"override task.calibrate=temperature: unknown key for "
                                                             r"task 'regression' \(an option of classification\)"),
    (["task.calibrate=temperature", "data.val_fraction=0"], "override task.calibrate=temperature: temperature scaling "
                                                            "is fitted on the validation split"),
    (["task.calibrate=platt"], "override task.calibrate=platt: 'platt' is not allowed; allowed: none, temperature"),
])
def test_the_recipe_refuses_calibration_that_cannot_work(overrides, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("digits-cnn", overrides)
