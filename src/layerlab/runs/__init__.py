"""The runs layer: train a recipe into a run directory, and read a run directory back.

    from layerlab.runs import run, load_run
    result = run("digits-cnn", ["train.epochs=3"])       # writes result.run_dir
    loaded = load_run(result.run_dir)                     # the model, task and preprocessing, rebuilt
    test = loaded.split("test")                           # the run's own test examples, prepared as it prepared them

Everything a later command does with a run starts from ``load_run``. This layer builds on data, tasks,
models, train and track; ``layerlab.api`` (and through it the CLI), analyze's verbs, tune and transfer
build on it.
"""

from layerlab.runs.assemble import Assembled, assemble
from layerlab.runs.backbone import backbone_inputs, load_backbone
from layerlab.runs.build import build_model
from layerlab.runs.ensemble import evaluate_ensemble, split_fields
from layerlab.runs.evaluation import evaluate, generate, predict
from layerlab.runs.loaded import LoadedRun, load_run, pick_split
from layerlab.runs.monitor import metric_names, resolve_monitor
from layerlab.runs.outputs import environment
from layerlab.runs.synthesis import speak
from layerlab.runs.training import Interrupted, RunResult, run
from layerlab.runs.transcription import transcribe
from layerlab.runs.translation import translate

__all__ = ["Assembled", "Interrupted", "LoadedRun", "RunResult", "assemble", "backbone_inputs", "build_model",
           "environment", "evaluate", "evaluate_ensemble", "generate", "load_backbone", "load_run", "metric_names",
           "pick_split", "predict", "resolve_monitor", "run", "speak", "split_fields", "transcribe", "translate"]
