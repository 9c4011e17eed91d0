"""Time series: windows and targets, splits by time without leakage, training-span statistics, the
statsmodels series, predict's CSV windows, and the errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.data.series_preprocessor import SeriesPreprocessor
from layerlab.errors import DataError
from layerlab.recipe import load_recipe


def write_series(path: Path, columns: dict[str, np.ndarray], *, dates: bool = True) -> Path:
    n = len(next(iter(columns.values())))
    header = (["date"] if dates else []) + list(columns)
    lines = [",".join(header)]
    for i in range(n):
        cells = ([f"2000-01-{i % 28 + 1:02d}"] if dates else []) + [f"{columns[c][i]:.6g}" for c in columns]
        lines.append(",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def series_data(path: Path, **data):
    recipe = load_recipe({"data": {"name": "series", "path": str(path), **data}, "task": {"name": "forecast"},
                          "model": {"name": "mlp"}})
    return load_data(recipe.data, task="forecast", seed=0)


def test_time_split_has_no_leakage_and_statistics_come_from_the_training_span(tmp_path):
    steps = np.arange(200, dtype=float)  # the value is the time step, so every target says when it is
    path = write_series(tmp_path / "ramp.csv", {"t": steps, "noise": np.cos(steps)})
    data = series_data(path, target="t", window=10, horizon=3, val_fraction=0.1, test_fraction=0.2)
    assert data.info.input_shape == (10, 2) and data.info.modality == "series"
    assert data.train.y.shape[1] == 3 and data.train.y.dtype == torch.float32
    # train strictly before val strictly before test, for every target step of every window
    assert data.train.y.max() < data.val.y.min() and data.val.y.max() < data.test.y.min()
    # and no shuffling inside a split: windows in time order, each one step after the previous
    for split in (data.train, data.val, data.test):
        assert torch.equal(split.y[1:, 0] - split.y[:-1, 0], torch.ones(len(split) - 1))
    n = 200 - 10 - 3 + 1
    assert len(data.test) == round(0.2 * n)
    assert len(data.train) + len(data.val) + len(data.test) == n - 2 * 2  # horizon - 1 dropped before each
    # the inputs' statistics are those of the training windows, all of which lie before the validation span
    fitted = data.preprocessor
    assert isinstance(fitted, SeriesPreprocessor) and fitted.columns == ["t", "noise"]
    train_steps = np.concatenate([np.arange(i, i + 10) for i in range(len(data.train))])
    assert fitted.mean[0] == pytest.approx(train_steps.mean()) and fitted.std[0] == pytest.approx(train_steps.std())
    assert fitted.mean[0] + fitted.std[0] < data.val.y.min()
    np.testing.assert_allclose(data.train.x[0, :, 0].numpy() * fitted.std[0] + fitted.mean[0], np.arange(10), atol=1e-4)


def test_columns_target_and_the_errors_of_a_series_csv(tmp_path):
    steps = np.arange(60, dtype=float)
    path = write_series(tmp_path / "two.csv", {"a": steps, "b": 2 * steps, "c": -steps})
    data = series_data(path, columns=["c", "a"], target="a", window=5)
    assert data.preprocessor.columns == ["c", "a"] and data.info.input_shape == (5, 2)
    np.testing.assert_allclose(data.train.y[:3, 0].numpy(), [5, 6, 7])
    data = series_data(path, window=5)  # default: every numeric column (not the dates), the last forecast
    assert data.preprocessor.columns == ["a", "b", "c"] and data.preprocessor.target == "c"

    with pytest.raises(DataError, match=r"no column 'd'; did you mean|no column 'd'"):
        series_data(path, columns=["d"])
    with pytest.raises(DataError, match=r"data.target: 'b' is not one of the series' columns \(a, c\)"):
        series_data(path, columns=["a", "c"], target="b")
    with pytest.raises(DataError, match=r"60 time steps are too few for a window of 50 and a horizon of 20"):
        series_data(path, window=50, horizon=20)
    with pytest.raises(DataError, match=r"data.season: a season of 12 steps is longer than data.window \(5\)"):
        series_data(path, window=5, season=12)
    gappy = tmp_path / "gappy.csv"
    gappy.write_text("x\n1\n2\n\n3\nNA\n5\n" + "\n".join(str(i) for i in range(6, 40)) + "\n")
    with pytest.raises(DataError, match=r"gappy\.csv, line 6: column 'x' has no value \(1 missing in all\)"):
        series_data(gappy, window=3)
    with pytest.raises(DataError, match=r"date.* is not a number; series columns must be numbers"):
        series_data(path, columns=["date", "a"])


def test_a_series_needs_the_forecast_task_and_forecast_needs_a_series(tmp_path):
    path = write_series(tmp_path / "s.csv", {"x": np.arange(50.0)})
    recipe = load_recipe({"data": {"name": "series", "path": str(path)}, "task": {"name": "regression"}})
    with pytest.raises(DataError, match=r"series is a time series; use task.name: forecast"):
        load_data(recipe.data, task="regression", seed=0)
    recipe = load_recipe({"data": {"name": "digits"}, "task": {"name": "forecast"}})
    with pytest.raises(DataError, match=r"task.name: forecast needs a time series \(data.name: series, co2 or sunspots\)"):
        load_data(recipe.data, task="forecast", seed=0)
    recipe = load_recipe({"data": {"name": "series", "path": str(path), "augment": {"hflip": True}},
                          "task": {"name": "forecast"}, "model": {"name": "mlp"}})
    with pytest.raises(DataError, match=r"data.augment.hflip: crops, flips and erasing apply to images, not to a time"):
        load_data(recipe.data, task="forecast", seed=0)


@pytest.mark.parametrize(("name", "steps", "season", "first"), [("co2", 526, 12, 316.1), ("sunspots", 309, 11, 5.0)])
def test_statsmodels_series_load_without_a_download(name, steps, season, first):
    recipe = load_recipe({"data": {"name": name, "window": 12, "horizon": 1, "val_fraction": 0, "test_fraction": 0},
                          "task": {"name": "forecast"}, "model": {"name": "mlp"}})
    data = load_data(recipe.data, task="forecast", seed=0)
    assert len(data.train) == steps - 12 and data.preprocessor.season == season
    fitted = data.preprocessor
    assert data.train.x[0, 0, 0].item() * fitted.std[0] + fitted.mean[0] == pytest.approx(first, abs=0.1)


def test_predict_reads_the_last_window_of_a_csv(tmp_path):
    fitted = SeriesPreprocessor(columns=["a", "b"], target="b", window=3, horizon=2, mean=[1.0, 10.0], std=[2.0, 5.0])
    path = write_series(tmp_path / "new.csv", {"b": np.arange(10.0, 20.0), "a": np.arange(10.0)})
    x, ids = SeriesPreprocessor.from_dict(fitted.to_dict()).load_inputs([path])
    assert ids == [f"{path} (after line 11)"]
    np.testing.assert_allclose(x[0].numpy(), [[(7 - 1) / 2, (17 - 10) / 5], [3.5, 1.6], [4.0, 1.8]])
    short = write_series(tmp_path / "short.csv", {"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(DataError, match=r"short\.csv: 2 rows, but this run's model looks at the last 3"):
        fitted.load_inputs([short])
