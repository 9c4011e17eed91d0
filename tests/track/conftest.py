"""Two finished runs of a tiny recipe (digits, a one-layer MLP), shared by the tracking tests."""

from __future__ import annotations

import pytest

from layerlab import api

TINY = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 300, "val_fraction": 0.2},
    "model": {"name": "mlp", "hidden": [32]},
    "train": {"epochs": 2, "batch_size": 64, "lr": 0.01, "diagnostics_every": 0, "report": False},
}


@pytest.fixture(scope="session")
def tracked_runs(tmp_path_factory):
    """runs/fast (lr 0.03, logged to MLflow and TensorBoard) and runs/slow (lr 1e-5), both finished."""
    root = tmp_path_factory.mktemp("runs")
    fast = api.run(TINY, {"train.lr": 0.03, "track.mlflow": True, "track.tensorboard": True}, out=root / "fast")
    slow = api.run(TINY, {"train.lr": 1e-5}, out=root / "slow")
    return root, fast, slow
