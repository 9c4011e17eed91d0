"""Forecasting: the next ``data.horizon`` values of a time series from the ``data.window`` before them.

The model sees standardised windows (``SeriesPreprocessor``) and outputs one value per horizon step,
standardised with the target column's training statistics; the loss (MSE, MAE or Huber) is taken there,
so it does not depend on the series' units. Metrics are in the data's own units: MSE, RMSE, MAE and
MAPE (in %, over targets that are not 0). Beside them, every evaluation reports two baselines that need
no training, and a model is only worth having when it beats them:

    naive            every step forecast as the last value seen
    seasonal naive   each step forecast as the value one season (``data.season`` steps) before it

With ``task.relative: true`` the model is wrapped in ``LevelRelative``: it sees each window minus the
window's last step and forecasts the change from the last value (NLinear, Zeng et al. 2023). A series
whose level leaves the training range (a trend: co2) then still gives the model inputs it has seen.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError
from layerlab.models.inference import predict_outputs
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import ForecastConfig
from layerlab.tasks.regress import real_loss

ForecastLoss = Literal["mse", "mae", "huber"]
MAPE_FLOOR = 1e-8  # targets closer to 0 than this are left out of the MAPE (it is undefined there)


@TASKS.register("forecast")
class ForecastTask(Task):
    name = "forecast"
    target = TargetSpec("real", modalities=("series",), needs="a time series (data.name: series, co2 or sunspots)")
    monitor = ("val_loss", "min")

    def __init__(self, horizon: int = 1, *, loss: ForecastLoss = "mse", huber_delta: float = 1.0,
                 relative: bool = False):
        self._loss_fn = real_loss(loss, huber_delta, task="forecasting")
        self.horizon, self.loss_name, self.huber_delta = int(horizon), loss, float(huber_delta)
        self.relative = bool(relative)
        # From the series' preprocessing (attach_preprocessor); until then the model's outputs are taken as is.
        self.mean, self.std = 0.0, 1.0  # the target column's training statistics
        self.target_index = 0  # the target's column among the inputs
        self.season: int | None = None

    @classmethod
    def from_config(cls, cfg: ForecastConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> ForecastTask:
        if num_classes is not None:
            raise LayerLabError(f"task.name is 'forecast' but the data has {num_classes} classes; "
                                "forecasting needs a time series (data.name: series, co2 or sunspots)")
        if train_targets.numel() and not torch.isfinite(train_targets).all():
            raise LayerLabError("the series has NaN or infinite values; fill or drop them first")
        horizon = train_targets.shape[1] if train_targets.ndim == 2 else 1
        return cls(horizon, loss="mse" if cfg.loss == "auto" else cfg.loss, huber_delta=cfg.huber_delta,
                   relative=cfg.relative)

    def attach_preprocessor(self, preprocessor: Any) -> None:
        from layerlab.data.series_preprocessor import SeriesPreprocessor

        if not isinstance(preprocessor, SeriesPreprocessor):
            raise LayerLabError(f"task.name: forecast needs a time series (data.name: series, co2 or sunspots), "
                                f"not {preprocessor.kind} data")
        self.mean, self.std = preprocessor.target_scale()
        self.target_index, self.season, self.horizon = preprocessor.target_index, preprocessor.season, preprocessor.horizon

    def num_outputs(self) -> int:
        return self.horizon

    def wrap_model(self, model: nn.Module) -> nn.Module:
        return LevelRelative(model, self.target_index) if self.relative else model

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": self.loss_name, "huber_delta": self.huber_delta, "relative": self.relative}

    # ------------------------------------------------------------------------------------ every step
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The loss between the model's standardised outputs (B, horizon) and the standardised targets."""
        output, target = _aligned(output, target)
        return self._loss_fn(output, self.loss_targets(target))

    def loss_targets(self, target: Tensor) -> Tensor:
        return (target - self.mean) / self.std

    # ----------------------------------------------------------------------------- a whole split
    def forecast(self, output: Tensor) -> Tensor:
        """The model's outputs (standardised) in the data's units, float32."""
        return output.float() * self.std + self.mean

    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        """``loss`` (standardised units), and ``mse``, ``rmse``, ``mae``, ``mape`` in the data's units."""
        output, target = _aligned(output, target)
        return {"loss": self.loss(output, target).item(), **errors(self.forecast(output), target)}

    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        """The metrics, with the baselines' MAE beside them (``naive_mae``, ``seasonal_naive_mae``); the
        report has every metric of the model and of each baseline, and the number of forecasts."""
        outputs = predict_outputs(model, split.x, batch_size=batch_size, precision=precision)
        metrics = self.metrics(outputs, split.y)
        baselines = {name: errors(forecast, split.y.float()) for name, forecast in self.baselines(split.x).items()}
        metrics.update({f"{name}_mae": values["mae"] for name, values in baselines.items()})
        if not report:
            return metrics, {}
        detail = self.report(outputs, split.y)
        detail["errors"].update(baselines)
        return metrics, detail

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        """The number of forecasts, horizon and season, and ``errors``: {"model": {mse, rmse, mae, mape}}
        (``evaluate`` adds the baselines' beside it)."""
        output, target = _aligned(output, target)
        return {"n": len(target), "horizon": self.horizon, "season": self.season,
                "errors": {"model": errors(self.forecast(output), target)}}

    def baselines(self, x: Tensor) -> dict[str, Tensor]:
        """Forecasts (N, horizon) in the data's units from standardised windows x (N, window, columns):
        ``naive``, and ``seasonal_naive`` when the season is known."""
        history = x[:, :, self.target_index].float() * self.std + self.mean  # (N, window), the data's units
        window = history.shape[1]
        forecasts = {"naive": history[:, -1:].expand(-1, self.horizon)}
        if self.season is not None and self.season <= window:
            m = self.season
            steps = torch.arange(self.horizon, device=x.device)
            # step h repeats the value m * ceil((h + 1) / m) steps back: one season before, or two, ...
            back = window + steps - m * torch.div(steps + m, m, rounding_mode="floor")  # (horizon,)
            forecasts["seasonal_naive"] = history[:, back]
        return forecasts

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """``{"value": v}`` per window: the forecast, a list of ``horizon`` values when it is more than 1."""
        values = self.forecast(output).reshape(len(output), -1)
        if values.shape[1] != self.horizon:
            raise LayerLabError(f"expected model outputs with {self.horizon} values each, got {tuple(output.shape)}")
        rows = values.tolist()
        return [{"value": row[0] if self.horizon == 1 else row} for row in rows]


class LevelRelative(nn.Module):
    """``net`` on windows (B, window, columns) made relative to their last step; its outputs (B, horizon)
    are changes, to which the last value of the target column is added back. Standardisation is linear,
    so a change in standardised units is the change in the data's units over the target's std."""

    SAVED_PREFIX = "net."  # the wrapped network's weights are saved under this prefix (``model.from_run`` strips it)

    def __init__(self, net: nn.Module, target_index: int):
        super().__init__()
        self.net, self.target_index = net, int(target_index)

    @staticmethod
    def relative(x: Tensor) -> Tensor:
        """The windows the net sees: each minus its last step (which becomes 0)."""
        return x - x[:, -1:, :]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(self.relative(x)) + x[:, -1:, self.target_index]  # (B, horizon) + (B, 1)

    def net_targets(self, x: Tensor, target: Tensor) -> Tensor:
        """What ``net`` itself is trained towards, given (standardised) targets of the whole: the change
        from each window's last value, (B, horizon)."""
        return target.reshape(len(target), -1) - x[:, -1:, self.target_index]


def errors(forecast: Tensor, target: Tensor) -> dict[str, float]:
    """MSE, RMSE, MAE and MAPE (%, over targets further than ``MAPE_FLOOR`` from 0) of forecasts."""
    forecast, target = _aligned(forecast, target)
    error = (forecast - target).double()
    nonzero = target.abs() > MAPE_FLOOR
    mse = error.square().mean()
    mape = (error.abs()[nonzero] / target.double().abs()[nonzero]).mean() * 100
    return dict(zip(("mse", "rmse", "mae", "mape"), torch.stack([mse, mse.sqrt(), error.abs().mean(), mape]).tolist()))


def _aligned(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Both float32 and (N, horizon); a target of one step may come as (N,)."""
    output, target = output.float().reshape(len(output), -1), target.float().reshape(len(target), -1)
    if target.shape[1] == 1 and output.shape[1] > 1:  # e.g. api's probe of the metric names with made-up targets
        target = target.expand_as(output)
    if output.shape != target.shape:
        raise LayerLabError(f"model outputs {tuple(output.shape)} do not match the targets {tuple(target.shape)}")
    return output, target
