"""Reduce on plateau: a cut after ``plateau_patience`` epochs without improvement, in the state's counters."""

from __future__ import annotations

import pytest

from layerlab.recipe import TrainConfig
from layerlab.train.plateau import ReduceOnPlateau
from layerlab.train.state import TrainState


def _plateau(**train):
    return ReduceOnPlateau.of(TrainConfig(schedule="plateau", **train), "val_loss")


def test_the_rate_is_cut_after_patience_epochs_without_improvement():
    plateau, state = _plateau(plateau_patience=1, gamma=0.5, min_delta=0.1), TrainState()
    scales = []
    for loss in [1.0, 0.95, 0.97, 0.5, 0.49, 0.48, 0.47]:  # 0.95 and 0.97: less than min_delta better
        plateau.update(state, {"val_loss": loss})
        scales.append(state.lr_scale)
    assert scales == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert state.plateau_best == 0.5 and state.plateau_bad == 1


def test_an_accuracy_must_rise():
    plateau, state = ReduceOnPlateau.of(TrainConfig(schedule="plateau", plateau_patience=0), "val_accuracy"), TrainState()
    plateau.update(state, {"val_accuracy": 0.5})
    plateau.update(state, {"val_accuracy": 0.6})
    assert state.lr_scale == 1.0
    plateau.update(state, {"val_accuracy": 0.4})
    assert state.lr_scale == pytest.approx(0.1)  # gamma's default


def test_an_epoch_without_the_metric_counts_as_nothing():
    plateau, state = _plateau(plateau_patience=0), TrainState()
    plateau.update(state, {"train_loss": 1.0})
    assert (state.lr_scale, state.plateau_best, state.plateau_bad) == (1.0, None, 0)


def test_only_the_plateau_schedule_with_a_monitored_metric_has_one():
    assert ReduceOnPlateau.of(TrainConfig(schedule="cosine"), "val_loss") is None
    assert ReduceOnPlateau.of(TrainConfig(schedule="plateau"), None) is None
