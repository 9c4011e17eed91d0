"""train.ema: the moving average of the weights, its arithmetic, its use in training and its resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from layerlab import api
from layerlab.errors import LayerLabError
from layerlab.recipe import RecipeError, load_recipe
from layerlab.train.averaging import WeightAverage, ema_decay
from layerlab.train.callbacks import LambdaCallback
from layerlab.train.checkpoint import load_weights
from layerlab.train.state_io import load_state

SMALL = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 600},
    "model": {"name": "cnn", "width": 8, "blocks": 2, "dropout": 0.1},
    "train": {"epochs": 3, "batch_size": 32, "lr": 0.01, "deterministic": True, "seed": 3, "schedule": "cosine",
              "ema": 0.9, "report": False},
}


def test_average_is_the_running_mean_until_its_window_fills_then_exponential():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = WeightAverage(model, decay=0.7)  # the mean of steps 1-3, then exponential
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for step in range(1, 6):
        model.train()
        model(torch.randn(8, 3))  # moves the batch-norm statistics and its counter
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        average.update(model, step)
        d = min(0.7, (step - 1) / step)
        for k, v in model.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    for k, v in average.state_dict().items():
        torch.testing.assert_close(v, expected[k])
    assert average.state_dict()["1.num_batches_tracked"].item() == 5
    assert ema_decay(0.9, 1) == 0 and ema_decay(0.9, 4) == 0.75 and ema_decay(0.9, 100) == 0.9


def test_applied_swaps_the_average_in_and_the_own_weights_back():
    model = nn.Linear(2, 2)
    average = WeightAverage(model, decay=0.5)
    own = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    average.update(model, step=100)  # decay 0.5: halfway
    with average.applied(model):
        torch.testing.assert_close(model.weight, own["weight"] + 0.5)
    torch.testing.assert_close(model.weight, own["weight"] + 1.0)


def test_the_average_of_noisy_sgd_lies_much_closer_to_the_optimum_than_its_last_iterate():
    gen = torch.Generator().manual_seed(0)
    w_true = torch.randn(8, 1, generator=gen)
    model = nn.Linear(8, 1, bias=False)
    nn.init.zeros_(model.weight)
    average = WeightAverage(model, decay=0.99)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1, 1501):
        x = torch.randn(4, 8, generator=gen)
        y = x @ w_true + torch.randn(4, 1, generator=gen)  # noise: constant-rate SGD keeps bouncing around w_true
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average.update(model, step)
    last = (model.weight.detach().T - w_true).norm()
    averaged = (average.state_dict()["weight"].T - w_true).norm()
    assert averaged < 0.4 * last, (averaged, last)


def test_training_validates_with_the_average_and_saves_it(tmp_path):
    seen = []

    def on_epoch_end(trainer, row):
        model = trainer.model.state_dict()
        seen.append(all(torch.equal(model[k], v) for k, v in trainer.average.state_dict().items()))

    recipe = {**SMALL, "data": {**SMALL["data"], "val_fraction": 0.0}}
    run = api.run(recipe, out=tmp_path / "r", callbacks=[LambdaCallback(on_epoch_end=on_epoch_end)])
    assert seen == [True, True, True]
    saved = load_weights(run.run_dir / "model.safetensors")
    ckpt = load_state(run.run_dir / "checkpoints" / "last.ckpt")
    assert all(torch.equal(saved[k], ckpt["average"][k]) for k in saved)
    assert not all(torch.equal(saved[k], ckpt["model"][k]) for k in saved)  # the raw weights are kept for a resume
    assert run.summary["test"]["accuracy"] > 0.5  # 10 classes; the average is a working model


def test_a_resumed_run_continues_the_average_exactly(tmp_path):
    def interrupt(trainer, loss):
        if trainer.state.global_step == 25:
            trainer.interrupt()

    whole = api.run(SMALL, out=tmp_path / "whole")
    with pytest.raises(api.Interrupted):
        api.run(SMALL, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=interrupt)])
    resumed = api.run(resume=tmp_path / "cut")
    a, b = load_weights(whole.run_dir / "model.safetensors"), load_weights(resumed.run_dir / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val_loss"] for r in whole.history] == [r["val_loss"] for r in resumed.history]


def test_a_checkpoint_without_an_average_is_refused_by_name(tmp_path):
    plain = {**SMALL, "train": {**SMALL["train"], "ema": None}}
    with pytest.raises(api.Interrupted):
        api.run(plain, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=lambda t, loss: t.interrupt())])
    recipe_path = tmp_path / "cut" / "recipe.yaml"
    recipe_path.write_text(recipe_path.read_text().replace("ema: null", "ema: 0.9"))
    with pytest.raises(LayerLabError, match="written without train.ema"):
        api.run(resume=tmp_path / "cut")


@pytest.mark.parametrize("decay", [0, 1, 1.5])
def test_a_decay_outside_zero_to_one_is_refused(decay):
    with pytest.raises(RecipeError, match="train.ema"):
        load_recipe({"train": {"ema": decay}})
