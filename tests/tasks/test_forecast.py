"""Forecasting: standardised loss, errors in the data's units, the naive and seasonal-naive baselines,
and a trained forecaster that beats naive on a clean seasonal series, read back from its run directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import layerlab
from layerlab.api import evaluate, predict
from layerlab.data.series_preprocessor import SeriesPreprocessor
from layerlab.errors import LayerLabError, RecipeError
from layerlab.recipe import load_recipe
from layerlab.tasks import create_task
from layerlab.tasks.forecast import ForecastTask, errors


@pytest.fixture(autouse=True)
def _keep_threads():
    """The run below asks for one thread; put torch's setting back for the tests after it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def task_for(window: int, horizon: int, season: int | None, mean: float = 10.0, std: float = 2.0) -> ForecastTask:
    fitted = SeriesPreprocessor(columns=["other", "y"], target="y", window=window, horizon=horizon, season=season,
                                mean=[0.0, mean], std=[1.0, std])
    cfg = load_recipe({"task": {"name": "forecast"}, "model": {"name": "mlp"}}).task
    task = create_task(cfg, num_classes=None, class_names=None, train_targets=torch.zeros(4, horizon),
                       preprocessor=fitted)
    assert isinstance(task, ForecastTask)
    return task


def test_baselines_repeat_the_last_value_and_the_value_one_season_back():
    task = task_for(window=6, horizon=5, season=3)
    history = torch.tensor([[1.0, 2, 3, 4, 5, 6], [10, 20, 30, 40, 50, 60]])  # the target column, in data units
    x = torch.stack([torch.zeros_like(history), (history - 10.0) / 2.0], dim=2)  # (2, 6, 2), standardised
    baselines = task.baselines(x)
    np.testing.assert_allclose(baselines["naive"].numpy(), [[6] * 5, [60] * 5], atol=1e-5)
    # steps 1..5 ahead with a season of 3: values 3, 2, 1 ... steps back within the last season, repeated
    np.testing.assert_allclose(baselines["seasonal_naive"].numpy(), [[4, 5, 6, 4, 5], [40, 50, 60, 40, 50]], atol=1e-5)
    assert "seasonal_naive" not in task_for(window=6, horizon=2, season=None).baselines(x)


def test_loss_is_standardised_and_metrics_are_in_the_data_units():
    task = task_for(window=4, horizon=2, season=None, mean=100.0, std=5.0)
    target = torch.tensor([[100.0, 110.0], [90.0, 95.0]])
    output = torch.tensor([[0.2, 2.0], [-2.0, 0.0]])  # standardised: forecasts 101, 110, 90, 100
    assert task.loss(output, target).item() == pytest.approx(np.mean([0.2**2, 0, 0, 1.0]))
    metrics = task.metrics(output, target)
    assert metrics["mse"] == pytest.approx((1 + 0 + 0 + 25) / 4)
    assert metrics["mae"] == pytest.approx((1 + 0 + 0 + 5) / 4)
    assert metrics["mape"] == pytest.approx(100 * np.mean([1 / 100, 0, 0, 5 / 95]))
    assert [row["value"] for row in task.predict(output)] == [pytest.approx([101, 110]), pytest.approx([90, 100])]
    # MAPE leaves out targets of 0, where it is undefined
    assert errors(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0]))["mape"] == pytest.approx(50.0)


def test_forecast_refuses_other_data_and_classification_options():
    cfg = load_recipe({"task": {"name": "forecast"}, "model": {"name": "mlp"}}).task
    with pytest.raises(LayerLabError, match="has 10 classes; forecasting needs a time series"):
        create_task(cfg, num_classes=10, class_names=None, train_targets=torch.zeros(0))
    for key, value in (("label_smoothing", 0.1), ("class_weights", "balanced")):
        with pytest.raises(RecipeError, match=rf"task.{key}: unknown key for task 'forecast' \(an option of .*classification"):
            load_recipe({"task": {"name": "forecast", key: value}, "model": {"name": "mlp"}})


def seasonal_csv(path: Path, steps: int = 480, period: int = 12, seed: int = 0) -> Path:
    """A clean seasonal series: two harmonics of a 12-step season and a little noise."""
    t = np.arange(steps)
    rng = np.random.default_rng(seed)
    y = 20 + 5 * np.sin(2 * np.pi * t / period) + 2 * np.cos(4 * np.pi * t / period) + 0.1 * rng.standard_normal(steps)
    path.write_text("y\n" + "\n".join(f"{v:.5f}" for v in y) + "\n")
    return path


def test_a_forecaster_beats_naive_on_a_clean_seasonal_series_and_reads_back_from_its_run(tmp_path):
    path = seasonal_csv(tmp_path / "seasonal.csv")
    recipe = {"name": "seasonal", "data": {"name": "series", "path": str(path), "window": 24, "horizon": 3,
                                           "season": 12},
              "task": {"name": "forecast"}, "model": {"name": "mlp", "hidden": [32]},
              "train": {"epochs": 30, "batch_size": 32, "lr": 0.01, "schedule": "cosine", "report": False,
                        "threads": 1}}  # one thread: a tiny model runs far faster so on a busy machine
    result = layerlab.run(recipe, out=tmp_path / "run")
    test = result.summary["test"]
    errors_ = result.summary["report"]["errors"]
    assert test["mae"] < 0.5 * test["naive_mae"], test  # the naive forecast is far off on a seasonal series
    assert test["mae"] < 0.3, test  # the noise alone is 0.1; the amplitude 5
    assert set(errors_) == {"model", "naive", "seasonal_naive"} and errors_["model"]["mae"] == test["mae"]
    assert errors_["seasonal_naive"]["mae"] < errors_["naive"]["mae"]  # the season is real

    again = evaluate(tmp_path / "run")  # the run directory alone: same split, same scale, same baselines
    assert again["metrics"]["mae"] == pytest.approx(test["mae"], rel=1e-5)
    assert again["metrics"]["naive_mae"] == pytest.approx(test["naive_mae"], rel=1e-5)
    (row,) = predict(tmp_path / "run", [path])  # the three steps after the end of the file
    t = np.arange(480, 483)
    expected = 20 + 5 * np.sin(2 * np.pi * t / 12) + 2 * np.cos(4 * np.pi * t / 12)
    np.testing.assert_allclose(row["value"], expected, atol=0.6)
    saved = json.loads((tmp_path / "run" / "model.json").read_text())["preprocessor"]
    assert saved["kind"] == "series" and saved["season"] == 12 and saved["horizon"] == 3


class _Recorder(nn.Module):
    """Returns the sum over each window's first column, and keeps the windows it saw."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x[:, :, 0].sum(dim=1, keepdim=True).expand(-1, 2)


def test_a_relative_forecaster_sees_windows_from_their_last_step_and_forecasts_the_change():
    x = torch.tensor([[[1.0, 5.0], [2.0, 7.0], [4.0, 6.0]]])  # (1 window, 3 steps, 2 columns); target column 1
    task = task_for(window=3, horizon=2, season=None)
    assert task.wrap_model(_Recorder()).__class__ is _Recorder  # not relative: the model as it is
    task.relative = True
    wrapped = task.wrap_model(net := _Recorder())
    out = wrapped(x)
    np.testing.assert_allclose(net.seen[0].numpy(), [[-3, -1], [-2, 1], [0, 0]])  # minus the last step
    np.testing.assert_allclose(out.numpy(), [[-5 + 6, -5 + 6]])  # the net's change plus the target's last value
    with pytest.raises(LayerLabError, match=r"task.relative: unknown key for task 'regression' \(an option of forecast\)"):
        load_recipe({"task": {"name": "regression", "relative": True}, "model": {"name": "mlp"}})


@pytest.mark.parametrize("relative", [False, True])
def test_the_gradient_through_time_probe_takes_the_loss_the_forecaster_trains_on(tmp_path, relative):
    """The probe's loss at the last step is the task's: standardised targets, and for a level-relative
    forecaster the change its network is trained to output."""
    from layerlab.data import Split
    from layerlab.models import create_model
    from layerlab.train.gradient_time import time_gradient_callback

    task = task_for(window=6, horizon=2, season=None)
    task.relative = relative
    torch.manual_seed(0)
    x, y = torch.randn(8, 6, 2), 10 + 2 * torch.randn(8, 2)  # targets in the data's units (mean 10, std 2)
    cfg = load_recipe({"task": {"name": "forecast"}, "model": {"name": "lstm", "hidden": 8, "pooling": "last"}}).model
    model = task.wrap_model(create_model(cfg, input_shape=(6, 2), num_outputs=2))
    probe = time_gradient_callback(model, Split(x, y), tmp_path, task)
    with torch.no_grad():
        probe_loss = nn.functional.mse_loss(probe.net(probe.x), probe.y)
        assert probe_loss.item() == pytest.approx(task.loss(model(x), y).item(), rel=1e-5)


def test_a_relative_lstm_forecasts_a_trend_beyond_the_training_range(tmp_path):
    """A rising seasonal series whose test span lies above every training value (co2's shape): the LSTM
    sees level-relative windows and beats both baselines there, and reads back from its run."""
    t = np.arange(480)
    rng = np.random.default_rng(0)
    y = 0.05 * t + 3 * np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(480)
    path = tmp_path / "trend.csv"
    path.write_text("y\n" + "\n".join(f"{v:.5f}" for v in y) + "\n")
    recipe = {"name": "trend", "data": {"name": "series", "path": str(path), "window": 24, "horizon": 3,
                                        "season": 12, "val_fraction": 0.1, "test_fraction": 0.2},
              "task": {"name": "forecast", "relative": True},
              "model": {"name": "lstm", "hidden": 32, "layers": 1, "pooling": "last"},
              "train": {"epochs": 25, "batch_size": 32, "lr": 0.01, "schedule": "cosine", "report": False,
                        "threads": 1}}
    result = layerlab.run(recipe, out=tmp_path / "run")
    test = result.summary["test"]
    assert y[-96:].mean() > y[:300].max()  # the test span's level was never seen in training
    assert test["mae"] < 0.5 * test["seasonal_naive_mae"], test  # seasonal naive lags the trend by a season
    assert test["mae"] < 0.5 * test["naive_mae"], test
    again = evaluate(tmp_path / "run")  # loaded back: the same wrapping around the saved weights
    assert again["metrics"]["mae"] == pytest.approx(test["mae"], rel=1e-5)
    header = (tmp_path / "run" / "diagnostics" / "time_gradients.csv").read_text().splitlines()[0]
    assert header.split(",")[-1] == "back_23"  # the gradient through time, probed inside the wrapper
