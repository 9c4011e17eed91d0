"""Regression: losses against torch, metrics against numpy and scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from layerlab.errors import LayerLabError
from layerlab.recipe import TaskConfig
from layerlab.tasks import RegressionTask, create_task


def make_task(targets: torch.Tensor | None = None, **fields) -> RegressionTask:
    targets = torch.randn(20) if targets is None else targets
    return create_task(TaskConfig(name="regression", **fields), num_classes=None, class_names=None,
                       train_targets=targets)


def random_case(n: int = 300, targets: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Model outputs ``(n, 1)`` for targets ``(n,)``, or ``(n, T)`` for ``(n, T)``."""
    g = torch.Generator().manual_seed(seed)
    shape = (n,) if targets is None else (n, targets)
    target = 3 * torch.randn(shape, generator=g) + 1
    output = target + torch.randn(shape, generator=g) * 1.5
    return (output[:, None] if targets is None else output), target


@pytest.mark.parametrize("targets", [None, 3])
def test_metrics_match_sklearn(targets):
    output, target = random_case(targets=targets)
    task = make_task(torch.zeros(5, targets) if targets else None)
    metrics = task.metrics(output, target)
    y, y_hat = target.double().numpy(), output.double().numpy().reshape(target.shape)
    mse = np.mean((y - y_hat) ** 2)  # over every value, also with several targets

    assert list(metrics) == ["loss", "mse", "rmse", "mae", "r2"]
    assert metrics["mse"] == pytest.approx(mse, rel=1e-5)
    assert metrics["rmse"] == pytest.approx(math.sqrt(mse), rel=1e-5)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(y, y_hat), rel=1e-5)
    assert metrics["r2"] == pytest.approx(r2_score(y, y_hat), rel=1e-5)
    assert metrics["loss"] == pytest.approx(metrics["mse"], rel=1e-6)
    if targets is None:
        assert metrics["mse"] == pytest.approx(mean_squared_error(y, y_hat), rel=1e-5)


def test_r2_of_a_constant_target_follows_sklearn():
    target = torch.full((10,), 2.0)
    task = make_task()
    assert task.metrics(target[:, None].clone(), target)["r2"] == r2_score(target, target) == 1.0
    assert task.metrics(target[:, None] + 1, target)["r2"] == r2_score(target, target + 1) == 0.0


@pytest.mark.parametrize("loss, reference", [
    ("auto", F.mse_loss),
    ("mse", F.mse_loss),
    ("mae", F.l1_loss),
    ("huber", F.huber_loss),
])
def test_losses_match_torch(loss, reference):
    output, target = random_case(64)
    output.requires_grad_(True)
    value = make_task(loss=loss).loss(output, target)
    torch.testing.assert_close(value, reference(output.squeeze(1), target))
    value.backward()
    assert output.grad.shape == output.shape


def test_huber_delta_matches_torch():
    output, target = random_case(64)
    value = make_task(loss="huber", huber_delta=0.5).loss(output, target)
    torch.testing.assert_close(value, torch.nn.HuberLoss(delta=0.5)(output.squeeze(1), target))
    assert value.item() != pytest.approx(make_task(loss="huber").loss(output, target).item())
    assert make_task(loss="huber", huber_delta=0.5).config_dict() == {"name": "regression", "loss": "huber",
                                                                      "huber_delta": 0.5}


def test_loss_of_half_precision_outputs_is_float32():
    output, target = random_case(64)
    loss = make_task().loss(output.half(), target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, F.mse_loss(output.half().float().squeeze(1), target))


def test_report_has_metrics_and_residual_quantiles():
    output, target = random_case()
    report = make_task().report(output, target)
    residuals = (output.squeeze(1) - target).double().numpy()
    assert report["n"] == 300
    assert report["mse"] == pytest.approx(make_task().metrics(output, target)["mse"])
    expected = np.quantile(residuals, [0.05, 0.25, 0.5, 0.75, 0.95])
    assert list(report["residual_quantiles"]) == ["q05", "q25", "q50", "q75", "q95"]
    assert list(report["residual_quantiles"].values()) == pytest.approx(expected, rel=1e-5)
    json.dumps(report)


def test_predict_gives_values():
    assert make_task().predict(torch.tensor([[1.5], [-2.0]])) == [{"value": 1.5}, {"value": -2.0}]
    several = make_task(torch.zeros(4, 2)).predict(torch.tensor([[1.0, 2.0]]))
    assert several == [{"value": [1.0, 2.0]}]


def test_outputs_of_the_wrong_shape_are_refused():
    with pytest.raises(LayerLabError, match=r"model outputs \(4, 3\) do not match the targets \(4,\)"):
        make_task().loss(torch.zeros(4, 3), torch.zeros(4))


@pytest.mark.parametrize("num_classes, targets, said", [
    (10, torch.randint(0, 10, (20,)), "10 classes"),
    (None, torch.randint(0, 10, (20,)), "integer targets"),
])
def test_regression_on_class_targets_is_refused(num_classes, targets, said):
    with pytest.raises(LayerLabError, match=f"task.name is 'regression' but the data has {said}.*classification"):
        create_task(TaskConfig(name="regression"), num_classes=num_classes, class_names=None, train_targets=targets)


def test_non_finite_targets_are_refused():
    with pytest.raises(LayerLabError, match="NaN or infinite"):
        make_task(torch.tensor([1.0, float("nan")]))


def test_a_loaded_run_needs_no_targets():
    task = make_task(torch.empty(0, dtype=torch.long), loss="mae")
    assert task.num_outputs() == 1 and task.loss_name == "mae"
