"""Training diagnostics: gradient norms per layer and activation statistics, recorded by a callback."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from layerlab.data import load_data
from layerlab.models import create_model
from layerlab.recipe import DataConfig, TaskConfig, TrainConfig
from layerlab.tasks import create_task
from layerlab.train.diagnostics import Diagnostics, activation_stats, read_diagnostics
from layerlab.train.trainer import Trainer


def train_mlp(tmp_path, *, activation: str, batch_norm: bool, depth: int = 10, epochs: int = 1, every: int = 5):
    data = load_data(DataConfig(name="digits"), task="classification", seed=0)
    task = create_task(TaskConfig(), num_classes=10, class_names=None, train_targets=data.train.y)
    torch.manual_seed(0)
    model = create_model({"name": "mlp", "hidden": [32] * depth, "activation": activation, "batch_norm": batch_norm},
                         input_shape=data.info.input_shape, num_outputs=10)
    diag = Diagnostics(tmp_path / "diagnostics", every=every)
    cfg = TrainConfig(epochs=epochs, batch_size=64, optimizer="sgd", lr=0.05)
    Trainer(model, task, cfg, device=torch.device("cpu"), callbacks=[diag]).fit(data.train, data.val)
    return read_diagnostics(tmp_path / "diagnostics")


def test_records_every_n_steps_and_writes_the_files(tmp_path):
    diag = train_mlp(tmp_path, activation="relu", batch_norm=True, depth=3, epochs=2, every=4)
    steps = [row["step"] for row in diag["gradients"]]
    assert steps == list(range(0, 42, 4))  # 21 steps per epoch (1,294 examples / 64), 2 epochs
    layers = diag["meta"]["layers"]
    assert layers == ["1", "2", "4", "5", "7", "8", "10"]  # 3 x (Linear, BatchNorm1d), the output Linear
    assert diag["meta"]["layer_types"]["2"] == "BatchNorm1d"
    assert all(row[layer] > 0 for row in diag["gradients"] for layer in layers)
    acts = diag["activations"]
    assert {row["layer"] for row in acts} == {"3", "6", "9"} and {row["kind"] for row in acts} == {"relu"}
    assert len(acts) == 3 * len(steps)
    assert all(0 <= row["zero_fraction"] <= 1 and 0 <= row["dead_fraction"] <= row["zero_fraction"] + 1e-9
               for row in acts)


def test_a_deep_sigmoid_mlp_shows_vanishing_gradients_and_relu_with_batch_norm_does_not(tmp_path):
    sigmoid = train_mlp(tmp_path / "s", activation="sigmoid", batch_norm=False)
    relu = train_mlp(tmp_path / "r", activation="relu", batch_norm=True)

    def first_to_last(diag):
        linear = [n for n in diag["meta"]["layers"] if diag["meta"]["layer_types"][n] == "Linear"]
        first, last = linear[0], linear[-1]
        return sum(r[first] for r in diag["gradients"]) / sum(r[last] for r in diag["gradients"])

    # 10 sigmoid layers: each multiplies the gradient by at most 1/4 times the weights
    assert first_to_last(sigmoid) < 1e-3
    assert first_to_last(relu) > 1e-1
    saturation = [r["saturated_fraction"] for r in sigmoid["activations"]]
    assert max(saturation) >= 0 and all(r["kind"] == "sigmoid" for r in sigmoid["activations"])


def test_activation_statistics_by_hand():
    out = torch.tensor([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])  # feature 0 is off for both examples: dead
    zero, dead, saturated, mean, std = activation_stats(out, "relu").tolist()
    assert (zero, dead, saturated) == (pytest.approx(3 / 6), pytest.approx(1 / 3), 0.0)
    assert mean == pytest.approx(1.0)
    maps = torch.zeros(2, 2, 3, 3)
    maps[1, 1, 0, 0] = 1.0  # channel 1 fires once: alive; channel 0 never: dead
    assert activation_stats(maps, "relu")[1].item() == pytest.approx(0.5)
    sig = torch.tensor([[0.001, 0.5, 0.999, 0.97]])
    assert activation_stats(sig, "sigmoid")[2].item() == pytest.approx(0.5)
    tanh = torch.tensor([[-0.99, 0.0, 0.5, 0.995]])
    assert activation_stats(tanh, "tanh")[2].item() == pytest.approx(0.5)


def test_hooks_cost_nothing_on_unrecorded_steps_and_are_removed(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    diag = Diagnostics(tmp_path, every=1000)

    class FakeTrainer:
        def __init__(self):
            self.model = model
            self.state = type("S", (), {"global_step": 1, "epoch": 0})()

    diag.on_fit_start(FakeTrainer())
    assert not diag._armed
    model(torch.randn(3, 4))
    assert diag._pending == {}
    diag.on_fit_end(FakeTrainer())
    assert not model[1]._forward_hooks
    assert (tmp_path / "gradients.csv").read_text().startswith("step,epoch,0,2")


def test_the_gradients_hook_sees_complete_gradients_before_the_step(tmp_path):
    """on_after_backward runs once per optimiser step, after accumulation, with gradients in place."""
    from layerlab.train.callbacks import LambdaCallback

    seen = []
    data = load_data(DataConfig(name="digits", limit=256), task="classification", seed=0)
    task = create_task(TaskConfig(), num_classes=10, class_names=None, train_targets=data.train.y)
    model = create_model({"name": "mlp", "hidden": [16]}, input_shape=data.info.input_shape, num_outputs=10)
    hook = LambdaCallback(on_after_backward=lambda trainer: seen.append(
        (trainer.state.global_step, all(p.grad is not None for p in trainer.model.parameters()))))
    cfg = TrainConfig(epochs=1, batch_size=32, accumulate=2)
    Trainer(model, task, cfg, device=torch.device("cpu"), callbacks=[hook]).fit(data.train)
    assert [s for s, _ in seen] == list(range(len(seen))) and len(seen) == 4  # 7 batches -> 4 optimiser steps
    assert all(ok for _, ok in seen)
