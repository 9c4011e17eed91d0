"""Temperature scaling of a trained classifier (``task.calibrate: temperature``).

After training, one temperature ``T`` is fitted on the validation split (``calibration.fit_temperature``)
and the model is wrapped as ``TemperatureScaled(model, T)``, whose outputs are ``logits / T``. The
run keeps the raw weights in ``model.safetensors`` and ``T`` in ``model.json`` under
``"calibration"``; ``layerlab.api.load_run`` wraps the model again, so evaluate, predict, explain,
audit and the report all see the calibrated probabilities. Predictions (the argmax) never change.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from layerlab.errors import LayerLabError
from layerlab.models.inference import predict_outputs


class TemperatureScaled(nn.Module):
    """``model(x) / temperature``; ``.model`` is the wrapped network, unchanged."""

    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        if not temperature > 0:
            raise LayerLabError(f"a temperature must be positive, got {temperature}")
        self.model = model
        self.register_buffer("temperature", torch.tensor(float(temperature)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) / self.temperature


def calibrate(model: nn.Module, val: Any, *, batch_size: int, precision: str = "fp32") -> tuple[TemperatureScaled, dict]:
    """Fit a temperature on ``val`` (a Split on the model's device); returns the wrapped model and
    ``{"method", "temperature", "val_nll_before", "val_nll_after", "val_ece_before", "val_ece_after"}``.

    Raises LayerLabError when there is no validation split to fit on.
    """
    from layerlab.analyze.calibration import expected_calibration_error, fit_temperature

    if val is None or len(val) == 0:
        raise LayerLabError("task.calibrate: temperature scaling is fitted on the validation split, and this run "
                            "has none; set data.val_fraction above 0")
    logits = predict_outputs(model, val.x, batch_size=batch_size, precision=precision).cpu()
    targets = val.y.cpu()
    temperature = fit_temperature(logits, targets)
    info = {
        "method": "temperature",
        "temperature": temperature,
        "val_nll_before": F.cross_entropy(logits, targets).item(),
        "val_nll_after": F.cross_entropy(logits / temperature, targets).item(),
        "val_ece_before": expected_calibration_error(logits.softmax(1), targets),
        "val_ece_after": expected_calibration_error((logits / temperature).softmax(1), targets),
    }
    return TemperatureScaled(model, temperature).to(val.x.device), info


def with_saved_calibration(model: nn.Module, meta: dict[str, Any]) -> nn.Module:
    """``model`` wrapped with the temperature a run saved in ``model.json``, or as it is without one."""
    saved = meta.get("calibration")
    if not saved:
        return model
    if saved.get("method") != "temperature":
        raise LayerLabError(f"model.json: unknown calibration method {saved.get('method')!r}")
    return TemperatureScaled(model, float(saved["temperature"]))


def unwrapped(model: nn.Module) -> nn.Module:
    """The network inside a ``TemperatureScaled`` (or the model itself)."""
    return model.model if isinstance(model, TemperatureScaled) else model
