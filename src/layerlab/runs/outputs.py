"""What a run writes once training ends: the weights, the calibration, summary.json, history.csv, the
plots and the report."""

from __future__ import annotations

import platform
import sys
import time
from typing import Any

import torch

from layerlab.data import Dataset
from layerlab.recipe import Recipe
from layerlab.rundir import FORMAT_VERSION, RunDir
from layerlab.runs.assemble import Assembled
from layerlab.tasks import Task
from layerlab.train.callbacks import KeepBest
from layerlab.train.checkpoint import save_weights
from layerlab.train.trainer import TrainState


def model_meta(cfg: Recipe, data: Dataset, task: Task) -> dict[str, Any]:
    """``model.json``: what rebuilds and feeds the model (``load_run`` reads it)."""
    return {
        "format": FORMAT_VERSION,
        "model": cfg.model,
        "input_shape": list(data.info.input_shape),
        "num_outputs": task.num_outputs(),
        "task": task.config_dict() if hasattr(task, "config_dict") else cfg.task.model_dump(mode="json"),
        "info": data.info.to_dict(),
        "preprocessor": data.preprocessor.to_dict(),
    }


def write_outputs(rundir: RunDir, cfg: Recipe, built: Assembled, state: TrainState, keep_best: KeepBest,
                  device: torch.device, started: float) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Write the trained run's files; returns the final model (the best epoch's weights, calibrated when
    task.calibrate asks) and the summary. ``started`` is the run's ``time.perf_counter()`` at its start."""
    model = built.model
    if keep_best.weights is not None and state.status != "interrupted":
        model.load_state_dict(keep_best.weights)
    save_weights(rundir.weights, model)
    calibration = None
    if getattr(cfg.task, "calibrate", None) == "temperature" and state.status in ("finished", "stopped"):
        from layerlab.analyze.temperature import calibrate

        model, calibration = calibrate(model, built.data.val.to(device), batch_size=cfg.train.eval_batch_size)
        rundir.write_json(rundir.model_meta, {**rundir.read_json(rundir.model_meta), "calibration": calibration})
    summary = summarize(cfg, built, model, state, keep_best, device, time.perf_counter() - started)
    if calibration is not None:
        summary["calibration"] = calibration
    rundir.write_history(state.history)
    rundir.write_json(rundir.summary, summary)
    _plots(rundir, state.history, summary, keep_best.best_epoch)
    if cfg.train.report:
        from layerlab.analyze.report_page import report_after_run

        report_after_run(rundir, cfg, built.task, model, built.data, device, summary, state.history)
    return model, summary


def summarize(cfg: Recipe, built: Assembled, model: torch.nn.Module, state: TrainState, keep_best: KeepBest,
              device: torch.device, seconds: float) -> dict[str, Any]:
    """``summary.json``: the test metrics (unless interrupted), the best epoch, sizes, times, environment."""
    data = built.data
    test: dict[str, Any] = {}
    report: dict[str, Any] = {}
    if len(data.test) and state.status != "interrupted":
        test, report = built.task.evaluate(model, data.test.to(device), batch_size=cfg.train.eval_batch_size,
                                           precision=cfg.train.precision, report=True)
    return {
        "recipe": cfg.name,
        "status": state.status,
        "stop_reason": state.stop_reason,
        "test": test,
        "report": report,
        "best_epoch": keep_best.best_epoch,
        "monitor": {"metric": keep_best.monitor.metric, "best": keep_best.monitor.best},
        "epochs": state.epoch,
        "steps": state.global_step,
        "params": sum(p.numel() for p in model.parameters()),
        "seconds": round(seconds, 3),
        "train_seconds": round(state.seconds, 3),
        **({"compile_seconds": round(state.compile_seconds, 3)} if cfg.train.compile else {}),
        "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "environment": environment(device),
    }


def environment(device: torch.device) -> dict[str, Any]:
    """The versions and the machine a run ran on (``summary["environment"]``)."""
    import numpy
    import sklearn

    from layerlab import __version__

    env = {
        "layerlab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "device": str(device),
        "threads": torch.get_num_threads(),
    }
    try:
        import torchvision

        env["torchvision"] = torchvision.__version__
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _plots(rundir: RunDir, history: list[dict[str, float]], summary: dict[str, Any], best_epoch: int | None) -> None:
    from layerlab.analyze.plots import plot_confusion, plot_history

    if history:
        plot_history(history, rundir.curves_png, best_epoch=best_epoch)
    report = summary.get("report") or {}
    if "confusion_matrix" in report:
        plot_confusion(report["confusion_matrix"], report["class_names"], rundir.confusion_png)

