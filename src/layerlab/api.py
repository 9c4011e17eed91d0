"""The verbs of LayerLab as Python functions, one per ``layerlab`` command; the CLI calls exactly these.

    import layerlab
    result = layerlab.run("digits-cnn", ["train.epochs=3"])
    print(result.summary["test"]["accuracy"], result.run_dir)

Most verbs are the library's own functions, named here and loaded on first use (so that ``layerlab
runs`` lists runs without importing torch, and ``layerlab tune`` alone imports Optuna):

    command        function here                 the library's
    run            run                           layerlab.runs.run
    (Python only)  fit                           layerlab.runs.fit.fit (the user's nn.Module and data)
    evaluate       evaluate                      layerlab.runs.evaluate
    ensemble       ensemble                      layerlab.runs.evaluate_ensemble, tune.crossval.ensemble_folds
    predict        predict                       layerlab.runs.predict
    generate       generate                      layerlab.runs.generate
    translate      translate                     layerlab.runs.translate
    transcribe     transcribe                    layerlab.runs.transcribe
    speak          speak                         layerlab.runs.speak
    recipes        recipes, recipe_text          layerlab.recipes
    recipe         explain_recipe, load_recipe   layerlab.recipe.explain, load_recipe
    models         models, show_model            layerlab.models, transfer.show.staged_model
    report         report                        layerlab.analyze.report.report
    explain        explain                       layerlab.analyze.explain_run.explain
    audit          audit                         layerlab.analyze.audit.audit
    reconstruct, interpolate, embed, frechet     layerlab.analyze.generated
    tune, compare  tune, compare                 layerlab.tune
    cv             cross_validate                layerlab.tune.cross_validate
    lr-find        lr_find                       layerlab.transfer.lr_find
    runs           list_runs, rebuild_index      layerlab.track.index
    export         export                        layerlab.serve.export.export
    serve          serve                         layerlab.serve.launch.app_for, serve

The runs layer's classes (``RunResult``, ``LoadedRun``, ``Interrupted``) and ``load_run`` are named here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from layerlab.lazy import lazy_exports

if TYPE_CHECKING:  # the lazy exports below, named for type checkers (hence the noqa: F401)
    from layerlab.analyze.audit import audit  # noqa: F401
    from layerlab.analyze.explain_run import explain  # noqa: F401
    from layerlab.analyze.generated import embed, frechet, interpolate, reconstruct  # noqa: F401
    from layerlab.analyze.report import report  # noqa: F401
    from layerlab.models.summary import ModelSummary
    from layerlab.recipe import explain as explain_recipe  # noqa: F401
    from layerlab.recipe import load_recipe  # noqa: F401
    from layerlab.runs import (  # noqa: F401
        Interrupted,
        LoadedRun,
        RunResult,
        environment,
        evaluate,
        evaluate_ensemble,
        generate,
        load_run,
        predict,
        run,
        speak,
        split_fields,
        transcribe,
        translate,
    )
    from layerlab.runs.fit import fit  # noqa: F401
    from layerlab.serve.export import export  # noqa: F401
    from layerlab.track.index import list_runs, rebuild_index  # noqa: F401
    from layerlab.transfer.lr_finder import lr_find  # noqa: F401
    from layerlab.tune import compare, cross_validate, tune  # noqa: F401

_EXPORTS = {
    **dict.fromkeys(["run", "evaluate", "predict", "generate", "translate", "transcribe", "speak", "evaluate_ensemble", "load_run",
                     "RunResult", "LoadedRun", "Interrupted", "environment", "split_fields"], "layerlab.runs"),
    "fit": "layerlab.runs.fit",
    "_metric_names": "layerlab.runs:metric_names",  # the name older code imports
    "explain_recipe": "layerlab.recipe:explain",
    "load_recipe": "layerlab.recipe",
    "report": "layerlab.analyze.report",
    "explain": "layerlab.analyze.explain_run",
    "audit": "layerlab.analyze.audit",
    **dict.fromkeys(["reconstruct", "interpolate", "embed", "frechet"], "layerlab.analyze.generated"),
    **dict.fromkeys(["tune", "compare", "cross_validate"], "layerlab.tune"),
    "lr_find": "layerlab.transfer.lr_finder",
    "export": "layerlab.serve.export",
    **dict.fromkeys(["list_runs", "rebuild_index"], "layerlab.track.index"),
}
__getattr__ = lazy_exports(__name__, _EXPORTS)
__all__ = [name for name in _EXPORTS if not name.startswith("_")] + [
    "ensemble", "recipes", "recipe_text", "models", "show_model", "serve"]


def ensemble(run_dirs: Sequence[str | Path], *, cv: bool = False, split: str = "test",
             device: str = "auto") -> dict[str, Any]:
    """Classifiers' averaged class probabilities on a split their runs share (``runs.evaluate_ensemble``),
    or with ``cv`` those of cross-validation folders, fold by fold (``tune.crossval.ensemble_folds``:
    every fold's test part, so ``split`` must stay "test"). Raises UsageError as those do."""
    from layerlab.errors import UsageError
    from layerlab.runs import evaluate_ensemble
    from layerlab.tune.crossval import ensemble_folds

    if not cv:
        return evaluate_ensemble(run_dirs, split=split, device=device)
    if split != "test":
        raise UsageError("--cv ensembles every fold's test part; --split does not apply")
    return ensemble_folds(run_dirs, device=device)


def recipes() -> list[tuple[str, str]]:
    """The built-in recipes, as (name, description) pairs."""
    from layerlab.recipes import builtin_description, builtin_names

    return [(name, builtin_description(name)) for name in builtin_names()]


def recipe_text(name: str) -> str:
    """A built-in recipe's YAML text; UsageError, with the closest name, for an unknown one."""
    from layerlab.errors import UsageError, did_you_mean
    from layerlab.recipes import builtin_names, builtin_path

    path = builtin_path(name)
    if path is None:
        raise UsageError(f"'{name}' is not a built-in recipe{did_you_mean(name, builtin_names())}")
    return path.read_text(encoding="utf-8")


def models() -> list[Any]:
    """The registered models (entries with ``group``, ``name`` and ``description``), by family; installed
    plugins' (``layerlab.plugins`` entry points) included."""
    from layerlab.models import MODELS
    from layerlab.plugins import load_entry_points

    load_entry_points()
    return sorted(MODELS, key=lambda e: (e.group, e.name))


def show_model(name: str, *, input_shape: tuple[int, ...], num_outputs: int = 10,
               stage: int = 1) -> tuple[ModelSummary, str]:
    """A model's layers, parameters and FLOPs (``models.summarize``) and its label, frozen as a recipe's
    fine-tuning ``stage`` freezes it (``name`` may be a recipe: ``transfer.show.staged_model``)."""
    from layerlab.models import summarize
    from layerlab.transfer.show import staged_model

    model, label = staged_model(name, input_shape=input_shape, num_outputs=num_outputs, stage=stage)
    return summarize(model, input_shape), label


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8000, runtime: str = "torch",
          max_batch: int = 32, max_wait_ms: float = 2.0, precision: str = "fp32") -> None:
    """Serve a run (or an exported file with its JSON spec) over HTTP until interrupted; see
    ``layerlab.serve.server``. ``runtime`` is torch or onnx; ``max_batch=1`` turns micro-batching off;
    ``precision`` (torch runtime) fp32, bf16 or auto."""
    from layerlab.serve.launch import app_for
    from layerlab.serve.launch import serve as serve_http

    app = app_for(run_dir, runtime=runtime, max_batch=max_batch, max_wait_ms=max_wait_ms, precision=precision)
    serve_http(app, host=host, port=port)
