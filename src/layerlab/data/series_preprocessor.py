"""Preprocessing of time series: look-back windows standardised per column with training statistics.

A series source hands over windows (N, window, columns) of raw values, in time order. Each column is
standardised with the mean and standard deviation of the training windows, which lie wholly in the
training span (``load_data`` splits ordered data by time). The forecast task reads the target
column's statistics from here to train on standardised targets and report errors in the data's units.
A CSV file given to ``predict`` yields one window: its last ``window`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from layerlab.data.preprocessor import Preprocessor
from layerlab.data.tables import NotANumber, parse_numbers, read_table
from layerlab.errors import DataError


@dataclass
class SeriesPreprocessor(Preprocessor):
    kind: ClassVar[str] = "series"
    classes: ClassVar[None] = None  # forecasts have no classes

    columns: list[str]  # the input columns, in the model's order
    target: str  # the forecast column (one of ``columns``)
    window: int  # time steps the model sees
    horizon: int  # time steps it forecasts
    season: int | None = None  # the season's length in steps (the seasonal-naive baseline), if known
    mean: list[float] | None = None  # per column; None = not standardised
    std: list[float] | None = None
    header: bool = True  # how CSV files given to ``predict`` are read
    delimiter: str = ","

    @classmethod
    def fit(cls, train: np.ndarray, *, columns: list[str], target: str, horizon: int, season: int | None,
            normalize: bool, header: bool = True, delimiter: str = ",") -> SeriesPreprocessor:
        """Fit on the training windows (N, window, columns)."""
        fitted = cls(list(columns), target, int(train.shape[1]), int(horizon), season, None, None, header, delimiter)
        if normalize and len(train):
            values = train.reshape(-1, train.shape[2]).astype(np.float64)
            mean, std = values.mean(axis=0), values.std(axis=0)
            fitted.mean, fitted.std = mean.tolist(), np.where(std > 1e-12, std, 1.0).tolist()
        return fitted

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.window, len(self.columns))

    @property
    def feature_names(self) -> list[str] | None:
        return list(self.columns)

    @property
    def target_index(self) -> int:
        return self.columns.index(self.target)

    def target_scale(self) -> tuple[float, float]:
        """(mean, std) by which the target column was standardised ((0, 1) when it was not)."""
        if self.mean is None or self.std is None:
            return 0.0, 1.0
        return self.mean[self.target_index], self.std[self.target_index]

    def transform(self, raw: np.ndarray) -> torch.Tensor:
        if raw.ndim != 3 or tuple(raw.shape[1:]) != self.input_shape:
            raise DataError(f"windows of shape {tuple(raw.shape[1:])} do not fit this preprocessing, which expects "
                            f"{self.input_shape} (time steps, columns {', '.join(self.columns)})")
        x = torch.from_numpy(raw.astype(np.float32))
        if self.mean is not None and self.std is not None:
            x = (x - torch.tensor(self.mean, dtype=torch.float32)) / torch.tensor(self.std, dtype=torch.float32)
        return x

    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        """One window per CSV file: its last ``window`` rows of the run's columns (the forecast follows them)."""
        windows, ids = [], []
        for path in map(Path, paths):
            if path.is_dir():
                raise DataError(f"{path}: a folder; give the CSV file whose last {self.window} rows to forecast from")
            table = read_table(path, delimiter=self.delimiter, header=self.header)
            if len(table.cells) < self.window:
                raise DataError(f"{path}: {len(table.cells)} rows, but this run's model looks at the last {self.window}")
            rows = slice(len(table.cells) - self.window, None)
            block = np.empty((self.window, len(self.columns)))
            for j, name in enumerate(self.columns):
                column = table.column_index(name, role="column")
                try:
                    block[:, j] = parse_numbers(table.cells[rows, column])
                except NotANumber as exc:
                    line = table.lines[rows][exc.index]
                    raise DataError(f"{path}, line {line}: column '{name}': {exc}") from None
            if np.isnan(block).any():
                line = table.lines[rows][np.flatnonzero(np.isnan(block).any(axis=1))[0]]
                raise DataError(f"{path}, line {line}: a value is missing; fill it in (the model needs every step)")
            windows.append(block)
            ids.append(f"{path} (after line {table.lines[-1]})")
        if not windows:
            raise DataError("no input files given")
        return self.transform(np.stack(windows)), ids

    def _fields(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "target": self.target, "window": self.window, "horizon": self.horizon,
                "season": self.season, "mean": self.mean, "std": self.std, "header": self.header,
                "delimiter": self.delimiter}
