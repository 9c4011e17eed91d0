"""Regression: one number (or a fixed-length vector of numbers) per example.

Loss: mean squared error, mean absolute error or Huber. Metrics: MSE, RMSE, MAE and R² (averaged
over the targets when there are several, as scikit-learn's ``r2_score`` does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.data.targets import TargetSpec
from layerlab.errors import LayerLabError
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import RegressionConfig

RegressionLoss = Literal["mse", "mae", "huber"]
RESIDUAL_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def real_loss(loss: str, huber_delta: float, *, task: str) -> Callable[[Tensor, Tensor], Tensor]:
    """The loss function of real-valued targets named by ``task.loss`` (mse, mae, huber); LayerLabError otherwise."""
    losses: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
        "mse": F.mse_loss,
        "mae": F.l1_loss,
        "huber": functools.partial(F.huber_loss, delta=huber_delta),
    }
    if loss not in losses:
        raise LayerLabError(f"task.loss: '{loss}' is not a {task} loss; allowed: {', '.join(losses)}")
    return losses[loss]


@TASKS.register("regression")
class RegressionTask(Task):
    name = "regression"
    target = TargetSpec("real", modalities=("table", "text", "audio"), needs="a csv table with a numeric target")
    monitor = ("val_loss", "min")

    num_targets: int
    loss_name: RegressionLoss
    huber_delta: float

    def __init__(self, num_targets: int = 1, *, loss: RegressionLoss = "mse", huber_delta: float = 1.0):
        self._loss_fn = real_loss(loss, huber_delta, task="regression")
        self.num_targets, self.loss_name, self.huber_delta = int(num_targets), loss, float(huber_delta)

    @classmethod
    def from_config(
        cls, cfg: RegressionConfig, *, num_classes: int | None, class_names: list[str] | None, train_targets: Tensor
    ) -> RegressionTask:
        integer_targets = train_targets.numel() > 0 and not train_targets.is_floating_point()
        if num_classes is not None or integer_targets:
            what = f"{num_classes} classes" if num_classes is not None else f"integer targets ({train_targets.dtype})"
            raise LayerLabError(f"task.name is 'regression' but the data has {what}, i.e. class targets; "
                                "use task.name=classification, or a data set with numeric targets")
        if train_targets.numel() and not torch.isfinite(train_targets).all():
            raise LayerLabError("the regression targets contain NaN or infinite values; clean or drop those rows")
        if train_targets.ndim > 2:
            raise LayerLabError(f"regression targets must be (N,) or (N, T); got {tuple(train_targets.shape)}")
        num_targets = train_targets.shape[1] if train_targets.ndim == 2 else 1
        loss = "mse" if cfg.loss == "auto" else cfg.loss
        return cls(num_targets, loss=loss, huber_delta=cfg.huber_delta)

    def num_outputs(self) -> int:
        return self.num_targets

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": self.loss_name, "huber_delta": self.huber_delta}

    # ------------------------------------------------------------------------------------ every step
    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """The mean loss over every target value; output ``(B, 1)`` goes with target ``(B,)``."""
        output, target = _aligned(output, target)
        return self._loss_fn(output, target)

    # ----------------------------------------------------------------------------- a whole split
    def metrics(self, output: Tensor, target: Tensor) -> dict[str, float]:
        """``loss``, ``mse``, ``rmse``, ``mae`` (over every target value) and ``r2`` (per target,
        then averaged; a constant target scores 1 when predicted exactly and 0 otherwise)."""
        output, target = _aligned(output, target)
        error = output - target
        mse = error.square().mean()
        values = torch.stack([self._loss_fn(output, target), mse, mse.sqrt(), error.abs().mean(), _r2(output, target)])
        return dict(zip(("loss", "mse", "rmse", "mae", "r2"), values.tolist()))

    def report(self, output: Tensor, target: Tensor) -> dict[str, Any]:
        """The metrics, the number of examples, and quantiles of the residuals (prediction − target)
        keyed ``"q05"`` … ``"q95"``."""
        output, target = _aligned(output, target)
        residuals = (output - target).detach().cpu().double().numpy().ravel()
        quantiles = np.quantile(residuals, RESIDUAL_QUANTILES) if residuals.size else [float("nan")] * 5
        return {
            **self.metrics(output, target),
            "n": int(target.shape[0]),
            "residual_quantiles": {f"q{round(q * 100):02d}": float(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles)},
        }

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        """``{"value": v}`` per example (``v`` a list when there are several targets)."""
        values = _columns(output.float())
        if values.shape[1] != self.num_targets:
            raise LayerLabError(f"expected model outputs with {self.num_targets} values each, got {tuple(output.shape)}")
        rows = values.tolist()
        if self.num_targets == 1:
            return [{"value": row[0]} for row in rows]
        return [{"value": row} for row in rows]


def _aligned(output: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Both as float32 and of one shape: a single-target output ``(B, 1)`` loses its last axis."""
    output, target = output.float(), target.float()
    if output.ndim == target.ndim + 1 and output.shape[-1] == 1:
        output = output.squeeze(-1)
    if output.shape != target.shape:
        raise LayerLabError(f"model outputs {tuple(output.shape)} do not match the targets {tuple(target.shape)}")
    return output, target


def _r2(output: Tensor, target: Tensor) -> Tensor:
    """R² per target column, averaged; constant columns score 1 if fitted exactly, else 0 (as sklearn
    does); NaN for no examples."""
    if not len(output):
        return torch.tensor(float("nan"), device=output.device)
    output, target = _columns(output), _columns(target)
    ss_res = (target - output).square().sum(0)
    ss_tot = (target - target.mean(0)).square().sum(0)
    r2 = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp(min=torch.finfo(ss_tot.dtype).tiny),
                     (ss_res == 0).float())
    return r2.mean()


def _columns(values: Tensor) -> Tensor:
    """``(N,)`` or ``(N, T, ...)`` as ``(N, T')``: one column per target."""
    return values[:, None] if values.ndim == 1 else values.flatten(1)
