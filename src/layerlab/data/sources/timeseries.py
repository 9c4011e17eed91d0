"""Time series: look-back windows and the values that follow them.

    series   a CSV file (data.path), one row per time step in time order; data.columns are the inputs
             (default: every numeric column) and data.target the column forecast (default: the last)
    co2      Mauna Loa CO2 (ppm), monthly means 1958-2001 from statsmodels' bundled weekly data; season 12
    sunspots yearly sunspot numbers 1700-2008, bundled with statsmodels; season 11 (the solar cycle)

From a series of T steps, example i is the window of ``data.window`` steps starting at step i (all
columns) and its targets the next ``data.horizon`` values of the target column: x (N, window, columns),
y (N, horizon) with N = T - window - horizon + 1. The examples are ordered by time, so ``load_data``
holds out the latest ones for validation and testing, and drops the ``horizon - 1`` examples before each
held-out split whose targets would reach into it: every training target precedes every validation
target, which precedes every test target.
"""

from __future__ import annotations

import numpy as np

from layerlab.data.files import recipe_file
from layerlab.data.series_preprocessor import SeriesPreprocessor
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import SeriesConfig
from layerlab.data.tables import NotANumber, is_numeric, parse_numbers, read_table
from layerlab.errors import DataError


@SOURCES.register("series")
def load_series_csv(cfg: SeriesConfig, ctx: SourceContext) -> RawData:
    path = recipe_file(cfg.path, ctx.settings, "series", "CSV file")
    table = read_table(path, delimiter=cfg.delimiter, header=cfg.header)
    fitted = ctx.fitted if isinstance(ctx.fitted, SeriesPreprocessor) else None
    if fitted is not None:
        names = fitted.columns
    elif cfg.columns:
        names = [table.names[table.column_index(c, role="column")] for c in cfg.columns]
    else:
        names = [n for j, n in enumerate(table.names) if is_numeric(table.cells[:, j])]
        if not names:
            raise DataError(f"{path}: no numeric column; a series needs at least one")
    values = np.empty((len(table.cells), len(names)))
    for j, name in enumerate(names):
        column = table.column_index(name, role="column")
        try:
            values[:, j] = parse_numbers(table.cells[:, column])
        except NotANumber as exc:
            raise DataError(f"{path}, line {table.lines[exc.index]}: column '{name}': {exc}; "
                            "series columns must be numbers (list the input columns in data.columns)") from None
        missing = np.flatnonzero(np.isnan(values[:, j]))
        if len(missing):
            raise DataError(f"{path}, line {table.lines[missing[0]]}: column '{name}' has no value "
                            f"({len(missing)} missing in all); fill or interpolate the gaps first")
    target = table.names[table.column_index(cfg.target, role="target column")] if cfg.target is not None else None
    return series_data(values, names, cfg, ctx, target=target, season=cfg.season, header=cfg.header,
                       delimiter=cfg.delimiter)


@SOURCES.register("co2")
def load_co2(cfg: SeriesConfig, ctx: SourceContext) -> RawData:
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate()  # 5 months without a measurement are interpolated
    return series_data(monthly.to_numpy()[:, None], ["co2"], cfg, ctx, season=cfg.season or 12)


@SOURCES.register("sunspots")
def load_sunspots(cfg: SeriesConfig, ctx: SourceContext) -> RawData:
    from statsmodels.datasets import sunspots

    values = sunspots.load_pandas().data["SUNACTIVITY"].to_numpy()
    return series_data(values[:, None], ["sunspots"], cfg, ctx, season=cfg.season or 11)


def series_data(values: np.ndarray, names: list[str], cfg: SeriesConfig, ctx: SourceContext, *, season: int | None,
                target: str | None = None, header: bool = True, delimiter: str = ",") -> RawData:
    """Windows and targets (see the module docstring) of a series ``values`` (T, columns) named ``names``;
    ``target`` (default data.target, else the last column) is the column forecast."""
    if "series" not in ctx.target.modalities:  # only a forecaster learns from a series
        raise DataError(f"data.name: {cfg.name} is a time series; use task.name: forecast")
    fitted = ctx.fitted if isinstance(ctx.fitted, SeriesPreprocessor) else None
    target = fitted.target if fitted else target or cfg.target or names[-1]
    if target not in names:
        raise DataError(f"data.target: '{target}' is not one of the series' columns ({', '.join(names)})")
    window, horizon = (fitted.window, fitted.horizon) if fitted else (cfg.window, cfg.horizon)
    if season is not None and season > window:
        raise DataError(f"data.season: a season of {season} steps is longer than data.window ({window}); the "
                        "seasonal-naive baseline needs the window to reach back one season")
    count = len(values) - window - horizon + 1
    if count < 1:
        raise DataError(f"{cfg.name}: {len(values)} time steps are too few for a window of {window} and a horizon "
                        f"of {horizon}; lower data.window or data.horizon")
    # (N, window + horizon, columns): every stretch of window + horizon consecutive steps, as a view
    spans = np.lib.stride_tricks.sliding_window_view(values, window + horizon, axis=0).transpose(0, 2, 1)
    x = np.ascontiguousarray(spans[:, :window], dtype=np.float32)
    y = np.ascontiguousarray(spans[:, window:, names.index(target)], dtype=np.float32)

    def fit(train: np.ndarray) -> SeriesPreprocessor:
        return SeriesPreprocessor.fit(train, columns=names, target=target, horizon=horizon, season=season,
                                      normalize=cfg.normalize, header=header, delimiter=delimiter)

    return RawData(modality="series", x=x, y=y, fit=(lambda _: fitted) if fitted else fit, ordered=True,
                   gap=horizon - 1)
