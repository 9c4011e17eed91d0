"""The recipe: one YAML file with sections ``data``, ``model``, ``task`` and ``train``.

A recipe is validated completely before any work starts. Every problem is reported with its key path,
what was given, what is allowed and the closest match (``layerlab.recipe_errors``):

    model.name: 'resnt18' is not a known model; did you mean 'resnet18'?
    train.epocs: unknown key; did you mean 'train.epochs'?

The ``model``, ``data`` and ``task`` sections depend on their ``name``: the model family, the data
source, the task. Each is checked against the config class its registry entry declares (the family's
constructor arguments in ``layerlab.models``, a source's options in ``layerlab.data.sources``, a
task's in ``layerlab.tasks``); ``explain`` lists them (``layerlab.recipe_explain``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, ValidationInfo, field_validator, model_validator

from layerlab.config import OffOrAuto, Section
from layerlab.data.config import AugmentConfig, DataConfig
from layerlab.data.registry import SOURCES
from layerlab.data.source_configs import fixed_classes
from layerlab.errors import RecipeError, UsageError, clip, close_match, did_you_mean, short
from layerlab.models.base import MODELS
from layerlab.overrides import apply_overrides
from layerlab.recipe_errors import NestedErrors, problems
from layerlab.recipe_explain import Row, explain_rows
from layerlab.recipe_yaml import MAX_BYTES, RecipeYAMLError, parse_yaml
from layerlab.registry import Registry
from layerlab.semi.config import SemiConfig, semi_section, unlabeled_problem
from layerlab.tasks.config import TaskConfig, task_trait
from layerlab.tasks.registry import TASKS
from layerlab.track.config import TrackConfig
from layerlab.tune.config import TuneConfig
from layerlab.tune.space_check import recipe_problems

__all__ = ["AugmentConfig", "DataConfig", "Recipe", "RecipeError", "StageConfig", "TaskConfig", "TrainConfig",
           "apply_overrides", "explain", "load_recipe", "validate_model_section", "validate_recipe"]

# A recipe.yaml in a folder with one of these files is a run directory's, written by ``layerlab run``.
RUN_FILES = ("model.json", "summary.json", "checkpoint.pt")


# -------------------------------------------------------------------------------------------- train
Optimizer = Literal["sgd", "adam", "adamw", "rmsprop", "adagrad"]
Schedule = Literal["constant", "step", "cosine", "onecycle", "plateau"]


class TrainConfig(Section):
    epochs: int = Field(10, ge=1, description="passes over the training split")
    batch_size: int = Field(128, ge=1, description="examples per optimiser step (before accumulation)")
    eval_batch_size: int = Field(1024, ge=1, description="examples per forward pass when evaluating")
    optimizer: Optimizer = Field("adamw", description="sgd, adam, adamw, rmsprop or adagrad")
    lr: float = Field(1e-3, gt=0, description="peak learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd and rmsprop: momentum")
    nesterov: bool = Field(False, description="sgd: Nesterov momentum")
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = Field((0.9, 0.999), description="adam and adamw: the two moment decay rates, each in [0, 1)")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (decoupled for adamw)")
    l1: float = Field(0.0, ge=0, description="L1 penalty on weights (not biases or norms), added to the loss")
    schedule: Schedule = Field("constant", description="learning-rate schedule: constant, step, cosine, onecycle (a cosine rise from lr/25 to lr over the first 30 % of the steps, then a cosine fall to lr/1e4, reached one step after the last: torch's OneCycleLR with total_steps = steps + 1, pct_start = (0.3 steps + 1)/(steps + 1), final_div_factor=400, cycle_momentum=False; its defaults end at lr/2.5e5 and cycle momentum), plateau")
    schedule_clock: Literal["steps", "time"] = Field("steps", description="what the schedule runs over: steps (train.epochs) or time (train.max_seconds: a cosine or onecycle reaches its end when the budget does, or at the last epoch if that comes first; without max_seconds, steps)")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up from 0 over this many epochs (not with onecycle)")
    step_size: int = Field(10, ge=1, description="step: epochs between learning-rate cuts")
    gamma: float = Field(0.1, gt=0, le=1, description="step and plateau: factor of each cut")
    plateau_patience: int = Field(3, ge=0, description="plateau: epochs without improvement before a cut")
    grad_clip: float | None = Field(None, gt=0, description="clip the gradient norm to this value")
    group_by_length: bool = Field(False, description="token data: put sentences of about one length in a batch (each window of 64 shuffled batches sorted by length, the batches shuffled again), so that little of a batch is padding; it speeds up what computes only up to a batch's longest sentence: translation, the token classifiers (textcnn, rnn, lstm, gru, transformer), hf: models")
    window_shift: bool = Field(False, description="a language model: cut the text into windows at a fresh random offset each epoch (drawn from train.seed and the epoch, so resume stays exact), so that the model meets every start position rather than the same windows each pass, as nanoGPT's random crops do; an epoch has one window fewer")
    cache_frozen: bool = Field(True, description="a stage that trains only the head, without augmentation: compute what the frozen layers feed the head once, for the training and validation splits, and train the head on it rather than rerunning them every epoch (same batches and losses; off: false)")
    accumulate: int = Field(1, ge=1, description="batches whose gradients are summed before each optimiser step")
    monitor: str = Field("auto", description="validation metric for early stopping and the best checkpoint (auto: val_accuracy or val_loss)")
    early_stopping: int | None = Field(None, ge=1, description="stop after this many epochs without improvement of the monitored metric")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    ema: float | None = Field(None, gt=0, lt=1, description="keep an exponential moving average of the weights, with this decay per optimiser step (e.g. 0.999; until about 1/(1-ema) steps have passed, the plain mean of the weights so far); validation, the best epoch, the saved weights and the test use the average; keep the window 1/(1-ema) well below the run's steps (None: off)")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = Field("fp32", description="bf16 autocast (CPU or CUDA), fp16 with loss scaling (CUDA), or auto: bf16 where the CPU or GPU computes bf16 natively (AVX-512 BF16 or AMX; Ampere or later), else fp32")
    device: str = Field("auto", description="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="one seed for splits, initialisation, batch order and augmentation (0 to 2**32-1, what numpy and scikit-learn take)")
    deterministic: bool = Field(False, description="use only deterministic kernels (bit-for-bit repeatable runs)")
    max_seconds: float | None = Field(None, gt=0, description="wall-clock budget for training; stops at the end of the step that passes it")
    checkpoint_every: int = Field(0, ge=0, description="also write a checkpoint every this many optimiser steps (0 = epoch ends only)")
    diagnostics_every: int | None = Field(None, ge=0, description="record per-layer gradient norms and activation statistics every this many steps (None: ~100 times a run; 0: never)")
    report: bool = Field(True, description="write report.html (and its PNGs) into the run directory at the end of the run")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")
    stages: list[StageConfig] = Field(default_factory=list, description="fine-tuning stages, one after another (see train.stages[].*); train.epochs is their sum")
    fine_tune: int = Field(0, ge=0, description="fastai-like shortcut: this many epochs training the head only at train.lr, then the rest of train.epochs everything at lr/2, rates falling to 1/100 at the first layer group (0 = off)")
    distributed: DistributedConfig = Field(default_factory=lambda: DistributedConfig(), description="data-parallel training when started by torchrun or `layerlab run --nproc N` (see train.distributed.*); train.batch_size stays the global batch")
    semi: SerializeAsAny[SemiConfig] | None = Field(None, description="semi-supervised learning from the unlabelled examples data.labels_per_class leaves: {method: pseudo_label | mean_teacher | fixmatch, ...} (see train.semi.*; None: off)")
    compile: bool = Field(False, description="compile the model's training forward and backward with torch.compile (inductor, CPU or CUDA): the first steps compile (their time is reported apart, as compile_seconds in summary.json), later ones run faster; results match plain training within rounding")
    budget: OffOrAuto = Field("off", description="auto, with train.max_seconds: measure the steps per second in a short probe and choose batch size, warm-up, optimiser kernels, a language model's context and a schedule over the clock for the budget (train/budget.py states the rule); the saved recipe holds what was chosen")
    optimizer_impl: Literal["default", "foreach", "fused"] = Field("default", description="the optimiser's kernels: default (torch's choice), foreach (one kernel per group of tensors) or fused (one kernel for the whole step; not rmsprop); results match within rounding")

    @field_validator("semi", mode="before")
    @classmethod
    def _semi_method(cls, section: Any) -> SemiConfig | None:
        return semi_section(section)

    @field_validator("device")
    @classmethod
    def _a_device(cls, device: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]{1,3})?", device):
            hint = close_match(device, ["auto", "cpu", "cuda", "mps"])
            raise ValueError(f"@@{short(device)} is not a device; allowed: auto, cpu, cuda, cuda:N, mps"
                             f"{f'; did you mean {hint!r}?' if hint else ''}")
        return device

    @model_validator(mode="after")
    def _stages_fit(self) -> TrainConfig:
        if self.schedule_clock == "time" and (self.stages or self.fine_tune):
            raise ValueError("@schedule_clock@'time' runs one schedule over the whole budget; fine-tuning stages each run their own over their epochs")
        if self.optimizer_impl == "fused" and self.optimizer == "rmsprop":
            raise ValueError("@optimizer_impl@torch has no fused rmsprop; use foreach or default")
        if self.stages and self.fine_tune:
            raise ValueError("@fine_tune@is a shortcut for two stages; give either train.stages or train.fine_tune")
        if self.fine_tune and self.fine_tune >= self.epochs:
            raise ValueError(f"@fine_tune@{self.fine_tune} frozen epochs leave none of train.epochs ({self.epochs}) to fine-tune everything")
        if self.stages:
            total = sum(s.epochs for s in self.stages)
            if "epochs" in self.model_fields_set and self.epochs != total:
                raise ValueError(f"@epochs@{self.epochs} differs from the sum of the stages' epochs ({total}); leave train.epochs out or make them agree")
            object.__setattr__(self, "epochs", total)  # no re-validation loop
        return self


class DistributedConfig(Section):
    backend: Literal["auto", "gloo", "nccl"] = Field("auto", description="distributed: the process group's backend (auto: nccl on CUDA, gloo on the CPU)")
    sync_batchnorm: bool = Field(False, description="distributed: batch norm statistics over the whole global batch (SyncBatchNorm; CUDA only), not each rank's slice")
    timeout: float = Field(1800.0, gt=0, description="distributed: seconds a rank waits for the others in one collective before it gives up")


class StageConfig(Section):
    epochs: int = Field(1, ge=1, description="stage: its number of epochs")
    trainable: str | int = Field("head", description="stage: what trains: head (the new output layer), all, or N (the head and the last N layer groups below it)")
    lr: float | None = Field(None, gt=0, description="stage: the head's peak learning rate (default train.lr)")
    lr_decay: float = Field(1.0, gt=0, le=1, description="stage: each layer group below the head trains at this times the rate of the one above (discriminative rates)")
    first_group_lr: float | None = Field(None, gt=0, le=1, description="stage: instead of lr_decay, the lowest training group's rate as a fraction of lr (geometric steps between)")
    freeze_bn: bool = Field(False, description="stage: every batch norm keeps its running statistics (frozen groups always run as in evaluation: statistics kept, no dropout)")

    @field_validator("trainable", mode="before")
    @classmethod
    def _head_all_or_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if value in ("head", "all"):
            return value
        hint = close_match(str(value)[:200], ["head", "all"])
        raise ValueError(f"@@{short(value)} is not head, all or a number of layer groups (0 or more){f'; did you mean {hint!r}?' if hint else ''}")


TrainConfig.model_rebuild()


# ------------------------------------------------------------------------------------------- recipe
class Recipe(Section):
    name: str = Field("run", description="name of the recipe; run directories are named after it")
    description: str = Field("", description="one line saying what the recipe is for")
    data: SerializeAsAny[DataConfig] = Field(default_factory=lambda: {"name": "digits"}, validate_default=True, description="where the examples come from and how they are split: 'name' picks the source, the other keys are its options")
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "cnn"}, validate_default=True, description="the network: 'name' picks the family, the other keys are its options")
    task: SerializeAsAny[TaskConfig] = Field(default_factory=lambda: {"name": "classification"}, validate_default=True, description="what is learned, its loss and metrics: 'name' picks the task, the other keys are its options")
    train: TrainConfig = Field(default_factory=TrainConfig, description="how it is learned")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="hyperparameter search (`layerlab tune`): space, strategy, metric, trials")
    track: TrackConfig = Field(default_factory=TrackConfig, description="where the run is recorded: the run index, MLflow, TensorBoard")

    @field_validator("name")
    @classmethod
    def _a_folder_name(cls, name: str) -> str:
        from layerlab.rundir import (
            check_run_name,  # the rule the runs folder applies, checked before any work
        )

        try:
            return check_run_name(name)
        except UsageError as exc:
            raise ValueError(f"@@{str(exc).removeprefix('name: ')}") from None

    @field_validator("model")
    @classmethod
    def _model_fields(cls, section: dict[str, Any]) -> dict[str, Any]:
        return validate_model_section(section)

    @field_validator("data", mode="before")
    @classmethod
    def _source_fields(cls, section: Any, info: ValidationInfo) -> DataConfig:
        return _registered_section(SOURCES, section, "data", "digits", info)

    @field_validator("task", mode="before")
    @classmethod
    def _task_fields(cls, section: Any, info: ValidationInfo) -> TaskConfig:
        return _registered_section(TASKS, section, "task", "classification", info)

    @model_validator(mode="after")
    def _pixels_for_generative(self) -> Recipe:
        if task_trait(self.task, "pixel_space") and self.data.normalize:
            raise ValueError(f"@data.normalize@task {self.task.name} models pixels in [0, 1]; set data.normalize: false")
        return self

    @model_validator(mode="after")
    def _pixels_for_pretrained(self) -> Recipe:
        # A pretrained image model standardises its input as its weights expect (its input transform), so
        # the data stays in [0, 1]; the saved recipe says so.
        if getattr(MODELS.entry(self.model["name"]).config, "takes_pixels", False) and self.data.normalize:
            self.data.normalize = False
        # Likewise a pretrained text model reads text as its own tokenizer cuts it.
        if getattr(MODELS.entry(self.model["name"]).config, "tokenizer_source", False) and "tokenizer" in type(self.data).model_fields:
            self.data.tokenizer = self.model["name"]
        return self

    @model_validator(mode="after")
    def _monitor_known(self) -> Recipe:
        known = [] if self.train.monitor == "auto" else monitor_names(self.task)
        if known and self.train.monitor not in known:
            raise ValueError(f"@train.monitor@{short(self.train.monitor)} is not a metric of task {self.task.name}"
                             f"{did_you_mean(self.train.monitor, known)} (known: {', '.join(known)})")
        return self

    @model_validator(mode="after")
    def _class_weights_fit(self) -> Recipe:
        weights, classes = getattr(self.task, "class_weights", None), fixed_classes(self.data.name)
        if isinstance(weights, list) and classes is not None and len(weights) != len(classes):
            raise ValueError(f"@task.class_weights@{len(weights)} weights given, but data set {self.data.name} has "
                             f"{len(classes)} classes; give one weight per class, or 'balanced'")
        return self

    @model_validator(mode="after")
    def _semi_has_unlabeled(self) -> Recipe:
        if problem := unlabeled_problem(self.data, self.train.semi):
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _calibration_has_data(self) -> Recipe:
        if getattr(self.task, "calibrate", "none") != "none" and self.data.val_fraction == 0:
            raise ValueError("@task.calibrate@temperature scaling is fitted on the validation split; "
                             "set data.val_fraction above 0")
        return self

    @model_validator(mode="after")
    def _search_space_fits(self) -> Recipe:
        found = recipe_problems(self, validate_recipe)  # checks tune.space against the rest of the recipe
        if found:
            raise NestedErrors(found)
        return self

    def model_config_object(self):
        """The model section as its family's config object."""
        return MODELS.entry(self.model["name"]).config(**self.model)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


def validate_model_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``model:`` against its family's config class; returns it with defaults filled in."""
    return MODELS.validate_section(section, "model", default="cnn").model_dump(mode="json")


def monitor_names(task: TaskConfig) -> list[str]:
    """The metrics ``train.monitor`` may name for ``task``, found on a sketch of the task built without
    data (as many classes as any data set has, a vocabulary of tokens); empty when the task needs the
    data to be built, and then the run checks the name once the data is loaded."""
    import torch

    task_cls = TASKS.get(task.name)
    tokens = ["<pad>", "<unk>", "<bos>", "<eos>", *map(str, range(996))]
    for num_classes, class_names in ((None, None), (len(tokens), tokens)):
        try:
            sketch = task_cls.from_config(task, num_classes=num_classes, class_names=class_names, train_targets=torch.empty(0))
            return ["train_loss", *(f"val_{name}" for name in sketch.metric_names())]
        except Exception:  # noqa: BLE001 -- a task that cannot be sketched without its data is checked by the run
            continue
    return []


def _registered_section(registry: Registry, section: Any, path: str, default: str, info: ValidationInfo) -> Any:
    """``data:`` or ``task:`` as its source's or task's own config object (see Registry.validate_section)."""
    if isinstance(section, Section):  # built in Python (DataConfig(name="csv", ...)): checked again as a mapping
        own = registry.entry(section.name).config if section.name in registry else None
        if own is not None and type(section) is own:
            return section
        section = section.model_dump()
    saved = bool((info.context or {}).get("saved"))
    return registry.validate_section(section, path, default=default, saved=saved)


def explain(section: str | None = None, name: str | None = None) -> list[Row]:
    """Rows of (key path, type, default, description) for the recipe, a section (``"train"``), or one
    model family, data source or task (``explain("data", "csv")``, or ``explain("data.csv")``).

    Without a name, ``model`` lists every family's options as ``model[mlp].hidden``, and ``data`` and
    ``task`` every source's or task's options once each. Raises RecipeError for an unknown section or name.
    """
    return explain_rows(Recipe, section, name)


# ------------------------------------------------------------------------------------------ loading
def load_recipe(
    source: str | Path | Mapping[str, Any] | Recipe | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    saved: bool | None = None,
) -> Recipe:
    """Read, override and validate a recipe.

    ``source`` is a YAML path, the name of a built-in recipe, a dict, a ``Recipe`` or None (defaults).
    ``overrides`` are ``"train.epochs=3"`` strings (values parsed as YAML) or a ``{"train.epochs": 3}``
    mapping. ``saved`` says the recipe is a run directory's resolved one (default: a recipe.yaml beside
    the run's files): written by an older LayerLab, its ``data`` and ``task`` sections may hold other
    sources' or tasks' options at their defaults, which are dropped. Raises ``RecipeError`` naming the
    file, key path, value and what is allowed.
    """
    label = None
    if isinstance(source, Recipe):
        raw: dict[str, Any] = source.to_dict()
    elif isinstance(source, Mapping):
        raw = copy.deepcopy(dict(source))
    elif source is None:
        raw = {}
    else:
        label, raw = _read_yaml(source)
        if saved is None:
            saved = any((Path(label).parent / name).exists() for name in RUN_FILES)
    raw = apply_overrides(raw, overrides)
    try:
        return validate_recipe(raw, label, saved=bool(saved))
    except RecipeError as exc:
        raise attributed(exc, overrides, label) from None


def attributed(exc: RecipeError, overrides: Sequence[str] | Mapping[str, Any], label: str | None) -> RecipeError:
    """``exc`` with each problem under an override's key said to come from that override
    (``override train.epocs=3: unknown key; ...``), and the file named only if some problem is its."""
    if isinstance(overrides, Mapping):
        texts = {str(key): f"{key}={short(value)}" for key, value in overrides.items()}
    else:
        texts = {str(text).partition("=")[0].strip(): str(text) for text in overrides}
    found, from_file = [], False
    for line in exc.problems:
        path = line.partition(": ")[0]
        key = max((k for k in texts if path == k or path.startswith(f"{k}.") or k.startswith(f"{path}.")),
                  key=len, default=None)
        if key is None:
            found.append(line)
            from_file = True
        else:
            found.append(f"override {clip(texts[key], 120)}: {line.removeprefix(f'{key}: ')}")
    return RecipeError(found, label if from_file else None)


def validate_recipe(raw: Mapping[str, Any], label: str | None = None, *, saved: bool = False) -> Recipe:
    """``raw`` as a Recipe; ``saved`` as for ``load_recipe``. Raises RecipeError with every problem."""
    try:
        return Recipe.model_validate(raw, context={"saved": saved})
    except ValidationError as exc:
        raise RecipeError(problems(exc, "", Recipe), label) from None


def _read_yaml(source: str | Path) -> tuple[str, dict[str, Any]]:
    from layerlab.recipes import builtin_path

    path = Path(source)
    if not path.exists():
        builtin = builtin_path(str(source))
        if builtin is None:
            from layerlab.recipes import builtin_names

            hint = close_match(str(source), builtin_names())
            more = f"; did you mean the built-in recipe '{hint}'?" if hint else "; `layerlab recipes` lists the built-in ones"
            raise RecipeError([f"no such recipe file or built-in recipe{more}"], str(source))
        path = builtin
    try:
        if path.stat().st_size > MAX_BYTES:
            raise RecipeError([f"the file has {path.stat().st_size:,} bytes; a recipe has at most {MAX_BYTES:,}"], str(path))
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([f"cannot read the file: {short(exc, 200)}"], str(path)) from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if not isinstance(exc, RecipeYAMLError):
            problem = f"not valid YAML ({problem})"
        raise RecipeError([f"{where}{problem}"], str(path)) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError([f"a recipe is a mapping of sections (data, model, task, train), not a {type(raw).__name__}"], str(path))
    return str(path), raw
