"""MLflow (a real local SQLite store) and TensorBoard event files hold what a finished run did."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from layerlab import api


def test_the_mlflow_store_holds_the_runs_params_metrics_artifacts_and_model(tracked_runs):
    root, fast, _ = tracked_runs
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    (run,) = client.search_runs([experiment.experiment_id])  # the untracked run is not there
    assert run.info.status == "FINISHED" and run.info.run_name == "fast"
    assert json.loads((fast.run_dir / "mlflow.json").read_text())["run_id"] == run.info.run_id
    assert run.data.params["train.lr"] == "0.03" and run.data.params["model.hidden"] == "[32]"
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == [row["val_accuracy"] for row in fast.history]
    assert run.data.metrics["test_accuracy"] == fast.summary["test"]["accuracy"] > 0.5
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"recipe.yaml", "summary.json", "history.csv", "curves.png", "model"} <= names
    model_files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert model_files == {"model/model.safetensors", "model/model.json", "model/recipe.yaml"}
    # the logged model is a loadable LayerLab model: the same predictions as the run's own
    local = client.download_artifacts(run.info.run_id, "model", str(root / "downloaded"))
    logged, own = api.load_run(local), api.load_run(fast.run_dir)
    for name, tensor in own.model.state_dict().items():
        assert (logged.model.state_dict()[name] == tensor).all()


def test_tensorboard_event_files_hold_the_curves(tracked_runs):
    _, fast, slow = tracked_runs
    events = EventAccumulator(str(fast.run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "val/accuracy", "lr", "test/accuracy"} <= set(scalars)
    curve = events.Scalars("val/accuracy")
    assert [e.step for e in curve] == [1, 2]
    assert [round(e.value, 5) for e in curve] == [round(r["val_accuracy"], 5) for r in fast.history]
    assert not (slow.run_dir / "tensorboard").exists()


def test_a_run_that_fails_in_training_is_marked_failed_in_mlflow_and_its_event_file_closed(tmp_path):
    from layerlab.train.callbacks import Callback

    tiny = {"name": "tiny", "data": {"name": "digits", "limit": 300, "val_fraction": 0.2},
            "model": {"name": "mlp", "hidden": [32]}, "train": {"epochs": 2, "diagnostics_every": 0, "report": False}}

    class Breaks(Callback):  # a data or code error in the middle of training
        def on_epoch_end(self, trainer, row):
            raise RuntimeError("the disk went away")

    with pytest.raises(RuntimeError, match="the disk went away"):
        api.run(tiny, {"track.mlflow": True, "track.tensorboard": True}, out=tmp_path / "broken", callbacks=[Breaks()])
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["layerlab.error"] == "RuntimeError: the disk went away"
    events = EventAccumulator(str(tmp_path / "broken" / "tensorboard"))
    events.Reload()
    assert "recipe" in str(events.Tags())  # written and flushed before the failure
