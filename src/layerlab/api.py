"""The verbs of LayerLab as Python functions; the CLI calls exactly these.

    import layerlab
    result = layerlab.run("digits-cnn", ["train.epochs=3"])
    print(result.summary["test"]["accuracy"], result.run_dir)
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from layerlab.analyze.temperature import calibrate, with_saved_calibration
from layerlab.data import DataInfo, Dataset, Preprocessor, Split, load_data
from layerlab.data.batching import BatchAugment
from layerlab.errors import LayerLabError, TrainingError, UsageError, did_you_mean
from layerlab.models import create_model
from layerlab.models.inference import predict_outputs
from layerlab.recipe import DataConfig, Recipe, load_recipe
from layerlab.rundir import FORMAT_VERSION, RunDir
from layerlab.tasks import Task, create_task
from layerlab.track.tracking import open_tracking
from layerlab.train.callbacks import Callback, EarlyStopping, KeepBest, PeriodicCheckpoint, metric_mode
from layerlab.train.checkpoint import load_into, load_weights, save_weights
from layerlab.train.device import resolve_device, seed_everything, set_deterministic
from layerlab.train.diagnostics import Diagnostics, diagnostics_every
from layerlab.train.gradient_time import time_gradient_callback
from layerlab.train.progress import ProgressBar
from layerlab.train.samples import SampleGrid
from layerlab.train.trainer import Trainer, TrainState

log = logging.getLogger(__name__)

RecipeSource = str | Path | Mapping[str, Any] | Recipe | None


class Interrupted(LayerLabError):
    exit_code = 130


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    model: torch.nn.Module | None = None


@dataclass
class LoadedRun:
    """A trained model with all it needs, read back from a run directory."""

    run: RunDir
    recipe: Recipe
    model: torch.nn.Module
    task: Task
    info: DataInfo
    preprocessor: Preprocessor
    device: torch.device


# ------------------------------------------------------------------------------------------ run
def run(
    recipe: RecipeSource = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    out: str | Path | None = None,
    runs_root: str | Path = "runs",
    resume: str | Path | None = None,
    console: Console | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunResult:
    """Train a recipe and write its run directory; returns the directory and the summary.

    ``recipe`` is a YAML path, a built-in recipe's name, a dict, a Recipe or None (the default
    recipe); ``overrides`` are ``"train.epochs=3"`` strings or a ``{key: value}`` mapping. With
    ``resume=RUN_DIR`` the run continues from that directory's last checkpoint (its own recipe, plus
    ``overrides``). ``console`` shows progress when given. Raises RecipeError before any work for a
    bad recipe, Interrupted after Ctrl-C (a checkpoint is kept), TrainingError for a non-finite loss.
    """
    if resume is not None:
        rundir = RunDir.open(resume, need=("recipe", "model_meta", "checkpoint"))
        cfg = load_recipe(rundir.recipe, overrides)
    else:
        from layerlab.recipes import DEFAULT

        cfg = load_recipe(DEFAULT if recipe is None else recipe, overrides)
        rundir = RunDir(Path(out)) if out is not None else RunDir.create(Path(runs_root), cfg.name)
        rundir.path.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    device = _prepare(cfg)
    data = load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed,
                     inputs_from=_backbone_inputs(cfg, rundir, resumed=resume is not None))
    if cfg.data.generated:  # a conditional GAN's samples join the training split
        from layerlab.tasks.adversarial import add_generated

        data = add_generated(data, load_run(cfg.data.generated, device=cfg.train.device),
                             per_class=cfg.data.generated_per_class, seed=cfg.train.seed)
    task = create_task(cfg.task, num_classes=data.info.num_classes, class_names=data.info.class_names,
                       train_targets=data.train.y, preprocessor=data.preprocessor)
    seed_everything(cfg.train.seed)
    model = create_model(cfg.model, input_shape=data.info.input_shape, num_outputs=task.num_outputs(),
                         data_fields=data.info.model_hints(), pretrained=resume is None)
    if cfg.model.get("from_run") and resume is None:
        from layerlab.transfer import load_backbone

        load_backbone(model, cfg.model["from_run"])
    model = task.wrap_model(model)
    if resume is None:
        rundir.recipe.write_text(cfg.to_yaml(), encoding="utf-8")
        rundir.write_json(rundir.model_meta, _model_meta(cfg, data, task))

    monitor, mode = _resolve_monitor(cfg, task, has_val=len(data.val) > 0)
    keep_best = KeepBest(monitor, mode, rundir.best_weights, cfg.train.min_delta)
    cbs: list[Callback] = [keep_best]
    if cfg.train.early_stopping:
        cbs.append(EarlyStopping(monitor, mode, cfg.train.early_stopping, cfg.train.min_delta))
    if cfg.train.checkpoint_every:
        cbs.append(PeriodicCheckpoint(cfg.train.checkpoint_every))
    if console is not None:
        cbs.append(ProgressBar(console, len(data.train)))
    cbs.extend(callbacks)
    cbs.append(SampleGrid(rundir.path / "samples"))  # generative tasks: the fixed noise batch's images
    tracking = open_tracking(cfg, rundir)  # MLflow, TensorBoard (track:), and the run index at the end
    cbs.extend(tracking.callbacks)
    every = diagnostics_every(cfg.train.diagnostics_every, examples=len(data.train), batch_size=cfg.train.batch_size,
                              accumulate=cfg.train.accumulate, epochs=cfg.train.epochs)
    if every:
        cbs.append(Diagnostics(rundir.path / "diagnostics", every=every))
        time_gradients = time_gradient_callback(model, data.train, rundir.path / "diagnostics", task)  # recurrent models
        if time_gradients is not None:
            cbs.append(time_gradients)
    trainer = Trainer(model, task, cfg.train, device=device, augment=BatchAugment(cfg.data.augment),
                      callbacks=cbs, checkpoint_path=rundir.checkpoint, monitor=monitor)
    if console is not None:
        console.print(f"[bold]{cfg.name}[/]: {cfg.model['name']} on {cfg.data.name} "
                      f"({len(data.train):,} train / {len(data.val):,} val / {len(data.test):,} test), "
                      f"{sum(p.numel() for p in model.parameters()):,} parameters, {device}", highlight=False)
    try:
        state = trainer.fit(data.train, data.val, resume=rundir.checkpoint if resume is not None else None)

        if keep_best.weights is not None and state.status != "interrupted":
            model.load_state_dict(keep_best.weights)
        save_weights(rundir.weights, model)
        calibration = None
        if cfg.task.calibrate == "temperature" and state.status in ("finished", "stopped"):
            model, calibration = calibrate(model, data.val.to(device), batch_size=cfg.train.eval_batch_size)
            rundir.write_json(rundir.model_meta, {**rundir.read_json(rundir.model_meta), "calibration": calibration})
        summary = _summarize(cfg, data, task, model, state, keep_best, device, time.perf_counter() - started)
        if calibration is not None:
            summary["calibration"] = calibration
        rundir.write_history(state.history)
        rundir.write_json(rundir.summary, summary)
        _plots(rundir, state.history, summary, keep_best.best_epoch)
        if cfg.train.report:
            from layerlab.analyze.report import report_after_run

            report_after_run(rundir, cfg, task, model, data, device, summary, state.history)
        tracking.finish(summary)
    except BaseException as error:  # the trackers hear of it (MLflow: FAILED), then it goes on up
        tracking.fail(error)
        raise
    if state.status == "interrupted":
        raise Interrupted(f"interrupted; the checkpoint is saved. Continue with: layerlab run --resume {rundir.path}")
    if state.status == "nan":
        raise TrainingError(f"{state.stop_reason}. Training stopped; the last good weights are in {rundir.weights}. "
                            "Try a lower train.lr, train.grad_clip, or train.precision=fp32.")
    return RunResult(rundir.path, summary, state.history, model)


def _prepare(cfg: Recipe) -> torch.device:
    device = resolve_device(cfg.train.device)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    set_deterministic(cfg.train.deterministic)
    return device


def _resolve_monitor(cfg: Recipe, task: Task, *, has_val: bool) -> tuple[str, str]:
    if cfg.train.monitor == "auto":
        metric, mode = task.monitor
        return (metric, mode) if has_val else ("train_loss", "min")
    metric = cfg.train.monitor
    known = ["train_loss"] + ([f"val_{k}" for k in _metric_names(task)] if has_val else [])
    if metric not in known:
        raise LayerLabError(f"train.monitor: '{metric}' is not a metric of this run{did_you_mean(metric, known)} "
                            f"(known: {', '.join(known)})")
    return metric, metric_mode(metric)


def _metric_names(task: Task) -> list[str]:
    """The names ``task.metrics`` returns, found on a tiny made-up batch (or named by the task, when its
    metrics come from its own ``evaluate``: the generative tasks)."""
    if hasattr(task, "metric_names"):
        return list(task.metric_names())
    n = task.num_outputs()
    outputs = torch.zeros(2, n)
    targets = torch.zeros(2, dtype=torch.long) if task.name == "classification" else torch.zeros(2)
    return list(task.metrics(outputs, targets))


def _model_meta(cfg: Recipe, data: Dataset, task: Task) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "model": cfg.model,
        "input_shape": list(data.info.input_shape),
        "num_outputs": task.num_outputs(),
        "task": task.config_dict() if hasattr(task, "config_dict") else cfg.task.model_dump(mode="json"),
        "info": data.info.to_dict(),
        "preprocessor": data.preprocessor.to_dict(),
    }


def _summarize(cfg: Recipe, data: Dataset, task: Task, model: torch.nn.Module, state: TrainState,
               keep_best: KeepBest, device: torch.device, seconds: float) -> dict[str, Any]:
    test: dict[str, Any] = {}
    report: dict[str, Any] = {}
    if len(data.test) and state.status != "interrupted":
        test_split = data.test.to(device)
        test, report = task.evaluate(model, test_split, batch_size=cfg.train.eval_batch_size,
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
        "data": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        "environment": environment(device),
    }


def environment(device: torch.device) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------ reading a run
def load_run(run_dir: str | Path, *, device: str = "auto") -> LoadedRun:
    """Rebuild a trained model, its task and preprocessing from a run directory alone."""
    rundir = RunDir.open(run_dir)
    cfg = load_recipe(rundir.recipe)
    meta = rundir.read_json(rundir.model_meta)
    info = DataInfo.from_dict(meta["info"])
    preprocessor = Preprocessor.from_dict(meta["preprocessor"])
    task_cfg = cfg.task.model_copy(update=_saved_task_fields(meta))
    task = create_task(task_cfg, num_classes=info.num_classes, class_names=info.class_names,
                       train_targets=torch.empty(0, dtype=torch.long), preprocessor=preprocessor)
    model = create_model(meta["model"], input_shape=tuple(meta["input_shape"]), num_outputs=meta["num_outputs"],
                         data_fields=info.model_hints(), pretrained=False)  # the weights are the run's
    model = task.wrap_model(model)
    load_into(model, load_weights(rundir.weights), rundir.weights)
    model = with_saved_calibration(model, meta)
    dev = resolve_device(device)
    model.to(dev).eval()
    return LoadedRun(rundir, cfg, model, task, info, preprocessor, dev)


def _backbone_inputs(cfg: Recipe, rundir: RunDir, *, resumed: bool) -> Preprocessor | None:
    """``model.from_run``: the preprocessing whose input side the data takes (the backbone's run's; on a
    resume the run's own, which took it when the run began, so the backbone's run may be gone by then)."""
    if not cfg.model.get("from_run"):
        return None
    from layerlab.transfer import backbone_inputs

    return backbone_inputs(rundir.path if resumed else cfg.model["from_run"])


def _saved_task_fields(meta: dict[str, Any]) -> dict[str, Any]:
    saved = meta.get("task") or {}
    return {"class_weights": saved["class_weights"]} if "class_weights" in saved else {}


def evaluate(run_dir: str | Path, *, data: str | Path | None = None, split: str = "test",
             device: str = "auto") -> dict[str, Any]:
    """Metrics of a trained run on a split of its data (or of other data given by ``data``: a path).

    The inputs are prepared with the preprocessing fitted when the run trained. ``split`` is train,
    val, test or all. Returns ``{"split": ..., "n": ..., "metrics": {...}, "report": {...}}``.
    """
    loaded = load_run(run_dir, device=device)
    data_cfg = loaded.recipe.data if data is None else loaded.recipe.data.model_copy(update={"path": str(data)})
    dataset = load_data(data_cfg, task=loaded.recipe.task.name, seed=loaded.recipe.train.seed,
                        preprocessor=loaded.preprocessor)
    chosen = _pick_split(dataset, split).to(loaded.device)
    if len(chosen) == 0:
        raise UsageError(f"the {split} split of {data_cfg.name} is empty")
    metrics, report = loaded.task.evaluate(loaded.model, chosen, batch_size=loaded.recipe.train.eval_batch_size,
                                           report=True)
    return {"split": split, "n": len(chosen), "metrics": metrics, "report": report}


def split_fields(data: DataConfig, split: str) -> dict[str, Any]:
    """The data fields that decide which examples land in ``split`` (with train.seed): an ensemble's runs
    must agree on them. The test part is cut first (fold ``fold`` of ``folds``, or ``test_fraction``), so
    the validation fraction and ``limit``, which cut what is left, decide only the train and val parts."""
    fields = ["name", "path", "test_split", "test_speaker", *(("folds", "fold") if data.folds else ("test_fraction",))]
    if split != "test":
        fields += ["val_fraction", "limit"]
    return {f: getattr(data, f) for f in fields}


def evaluate_ensemble(run_dirs: Sequence[str | Path], *, split: str = "test", device: str = "auto") -> dict[str, Any]:
    """Metrics of classifiers' averaged class probabilities on a split their runs share.

    Each run reads the data through its own preprocessing (its own tokenizer or statistics), so runs
    of different models, vocabularies or input sizes can be combined. Returns ``{"split", "n",
    "metrics" (the ensemble's), "members" ({run: its own metrics})}``; ``loss`` is the cross-entropy of
    the averaged probabilities. Raises UsageError unless there are two or more classification runs of
    the same data whose ``split`` holds the same examples (the data fields that decide it, and
    train.seed), with the same classes. Runs that only set aside different validation parts (a
    cross-validation with one, a fine-tuning run without) share their test split.
    """
    if len(run_dirs) < 2:
        raise UsageError(f"an ensemble needs at least two runs, given {len(run_dirs)}")
    first = None
    probabilities, members = [], {}
    for run_dir in run_dirs:
        loaded = load_run(run_dir, device=device)
        if loaded.recipe.task.name != "classification":
            raise UsageError(f"{run_dir}: a {loaded.recipe.task.name} run; ensembles average the class "
                             "probabilities of classification runs")
        split_by = (split_fields(loaded.recipe.data, split), loaded.recipe.train.seed)
        dataset = load_data(loaded.recipe.data, task="classification", seed=loaded.recipe.train.seed,
                            preprocessor=loaded.preprocessor)
        chosen = _pick_split(dataset, split).to(loaded.device)
        if first is None:
            first = (run_dir, loaded, split_by, chosen.y.cpu())
        else:
            _check_same_split(first, run_dir, loaded, split_by, chosen.y.cpu())
        outputs = predict_outputs(loaded.model, chosen.x, batch_size=loaded.recipe.train.eval_batch_size)
        members[str(run_dir)] = loaded.task.metrics(outputs, chosen.y)
        probabilities.append(outputs.float().softmax(1).cpu())
    _, loaded, _, target = first
    log_mean = torch.stack(probabilities).mean(0).clamp_min(1e-12).log()
    metrics = loaded.task.metrics(log_mean, target)
    # the plain cross-entropy of the averaged probabilities (the task's loss may smooth or weight it)
    metrics["loss"] = torch.nn.functional.nll_loss(log_mean, target.long()).item()
    return {"split": split, "n": len(target), "metrics": metrics, "members": members}


def _check_same_split(first: tuple[Any, ...], run_dir: str | Path, loaded: LoadedRun,
                      split_by: tuple[dict[str, Any], int], target: torch.Tensor) -> None:
    first_dir, first_loaded, first_split_by, first_target = first
    if loaded.info.class_names != first_loaded.info.class_names:
        raise UsageError(f"{run_dir} has the classes {loaded.info.class_names}, {first_dir} "
                         f"{first_loaded.info.class_names}; an ensemble's runs must share their classes")
    (fields, seed), (first_fields, first_seed) = split_by, first_split_by
    differ = [f"data.{f} ({fields.get(f)!r} against {first_fields.get(f)!r})"
              for f in dict.fromkeys([*first_fields, *fields]) if fields.get(f) != first_fields.get(f)]
    if seed != first_seed:
        differ.append(f"train.seed ({seed} against {first_seed})")
    if differ or not torch.equal(target, first_target):
        why = ", ".join(differ) or "other examples"
        raise UsageError(f"{run_dir} was not split as {first_dir} was: {why}; an ensemble's runs must be "
                         "tested on the same examples (the same data, split fields and train.seed)")


def _pick_split(dataset: Dataset, split: str) -> Split:
    parts = {"train": [dataset.train], "val": [dataset.val], "test": [dataset.test],
             "all": [dataset.train, dataset.val, dataset.test]}
    if split not in parts:
        raise UsageError(f"--split: '{split}' is not a split{did_you_mean(split, parts)} (train, val, test, all)")
    chosen = [s for s in parts[split] if len(s)]
    if not chosen:
        return dataset.test
    return Split(torch.cat([s.x for s in chosen]), torch.cat([s.y for s in chosen]))


def predict(run_dir: str | Path, inputs: Sequence[str | Path], *, device: str = "auto") -> list[dict[str, Any]]:
    """Predictions for image files, folders of images or CSV files, from a run directory alone.

    Returns one dict per example: ``{"input": id, "label": ..., "probability": ..., "top": [...]}``
    for classification, ``{"input": id, "value": ...}`` for regression.
    """
    if not inputs:
        raise UsageError("predict needs at least one input (image files, a folder, or a CSV file)")
    loaded = load_run(run_dir, device=device)
    x, ids = loaded.preprocessor.load_inputs([Path(p) for p in inputs])
    outputs = predict_outputs(loaded.model, x.to(loaded.device), batch_size=loaded.recipe.train.eval_batch_size)
    return [{"input": i, **p} for i, p in zip(ids, loaded.task.predict(outputs), strict=True)]


def generate(run_dir: str | Path, *, device: str = "auto", **options: Any) -> dict[str, Any]:
    """New examples from a trained generative run (a language model, a VAE or a GAN).

    ``options`` are passed to the run's task: ``prompt``, ``tokens``, ``temperature``, ``top_k`` for
    text; ``n``, ``class_``, ``out`` for images; ``seed`` for both. Returns the task's JSON-able result.
    Raises UsageError when the run's task cannot generate.
    """
    loaded = load_run(run_dir, device=device)
    options["out"] = options.get("out") or str(loaded.run.path / "generated.png")
    return loaded.task.generate(loaded.model, preprocessor=loaded.preprocessor, device=loaded.device, **options)


# ------------------------------------------------------------------------------------ shipping
def export(run_dir: str | Path, *, format: str = "onnx", out: str | Path | None = None, limit: int = 1000,
           tolerance: float = 1e-4) -> Any:
    """Export a run's model (onnx, torchscript or exported-program) with its input standardisation built
    in, checked against PyTorch on up to ``limit`` test examples, and a JSON spec beside it; returns a
    ``layerlab.serve.export.ExportResult``. See ``layerlab.serve.export.export``."""
    from layerlab.serve.export import export as export_run

    return export_run(run_dir, format=format, out=out, limit=limit, tolerance=tolerance)


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, runtime: str = "torch",
          max_batch: int = 32, max_wait_ms: float = 2.0) -> None:
    """Serve a run (or an exported file with its JSON spec) over HTTP until interrupted; see
    ``layerlab.serve.server``. ``runtime`` is torch or onnx; ``max_batch=1`` turns micro-batching off."""
    from layerlab.serve.server import app_for
    from layerlab.serve.server import serve as serve_http

    serve_http(app_for(run_dir, runtime=runtime, max_batch=max_batch, max_wait_ms=max_wait_ms), host=host, port=port)
