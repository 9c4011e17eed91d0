"""The recipe: one YAML file with sections ``data``, ``model``, ``task`` and ``train``.

A recipe is validated completely before any work starts. Every problem is reported with its key path,
what was given, what is allowed and the closest match:

    model.name: 'resnt18' is not a known model; did you mean 'resnet18'?
    train.epocs: unknown key; did you mean 'train.epochs'?

The ``model`` section's fields depend on the model family (``model.name``); they are the family's
constructor arguments, declared by its config class in ``layerlab.models``. Likewise ``data.name`` and
``task.name`` are checked against their registries.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from layerlab.config import Section
from layerlab.errors import RecipeError, close_match
from layerlab.track.config import TrackConfig
from layerlab.tune.config import TuneConfig


# --------------------------------------------------------------------------------------------- data
class AugmentConfig(Section):
    crop_padding: int = Field(0, ge=0, description="random crop after zero-padding each side by this many pixels (0 = off)")
    hflip: bool = Field(False, description="flip images left-right with probability 0.5")
    vflip: bool = Field(False, description="flip images upside-down with probability 0.5")
    erase: float = Field(0.0, ge=0, le=1, description="probability of erasing a random rectangle (random erasing)")
    noise: float = Field(0.0, ge=0, description="standard deviation of Gaussian noise added to normalised inputs")
    freq_mask: int = Field(0, ge=0, description="audio: SpecAugment: mask up to this many consecutive mel bands (0 = off)")
    freq_masks: int = Field(1, ge=1, description="audio: SpecAugment: frequency masks per example")
    time_mask: int = Field(0, ge=0, description="audio: SpecAugment: mask up to this many consecutive frames (0 = off)")
    time_masks: int = Field(1, ge=1, description="audio: SpecAugment: time masks per example")


class DataConfig(Section):
    name: str = Field("digits", description="data source: digits, fashion-mnist, mnist, cifar10, image-folder, csv, fsdd, audio-folder, series, co2, sunspots")
    path: str | None = Field(None, description="file or directory to read (only there; a relative path not found is looked for in each data directory)")
    download: bool = Field(True, description="download from the official address (checked by SHA-256) when not found locally")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="fraction of the training split held out for validation (stratified, seeded)")
    test_fraction: float = Field(0.2, ge=0, lt=1, description="fraction held out for testing when the source has no test split of its own")
    folds: int | None = Field(None, ge=2, description="k-fold cross-validation: cut the data into this many seeded (stratified) folds and test on fold data.fold instead of data.test_fraction (`layerlab cv` runs every fold)")
    fold: int = Field(0, ge=0, description="with data.folds: the fold held out for testing (0-based)")
    limit: int | None = Field(None, gt=0, description="use at most this many training examples (quick runs)")
    normalize: bool = Field(True, description="standardise inputs with statistics from the training split only")
    augment: AugmentConfig = Field(default_factory=AugmentConfig, description="augmentation of training batches")
    target: str | None = Field(None, description="csv, series: the target column (name, or 0-based index when there is no header); default the last")
    header: bool = Field(True, description="csv, series: the first row holds column names")
    delimiter: str = Field(",", description="csv, series: the column separator")
    categorical: list[str] | None = Field(None, description="csv: columns to one-hot encode; default every non-numeric column")
    image_size: int | None = Field(None, gt=0, description="image-folder: resize images to this square size (default: the first image's size)")
    grayscale: bool = Field(False, description="image-folder: convert images to one channel")
    tokenizer: Literal["char", "word", "bpe"] | Annotated[str, StringConstraints(pattern=r"^hf:.+")] = Field("char", description="text: how text becomes tokens: char, word, or bpe (subwords learned from the training split); hf:<model> (a pretrained model's own, set for hf: models)")
    vocab_size: int = Field(8000, ge=5, description="text: word and bpe: the largest vocabulary, special tokens included")
    min_frequency: int = Field(1, ge=1, description="text: word and bpe: tokens seen fewer times in the training split become <unk>")
    lowercase: bool = Field(False, description="text: lower-case the text before tokenising")
    max_length: int = Field(128, ge=1, description="text: tokens per training window (language models), or the most tokens kept of a sentence")
    encoding: str | None = Field(None, description="text: the files' character encoding, e.g. latin-1 (default utf-8; the rt-polarity source knows its own)")
    text_column: str | None = Field(None, description="sentences: in a CSV/TSV file, the text column (name, or 0-based index); the label is data.target")
    source_lang: str = Field("de", description="parallel: the source side's file suffix (train.de or train.de.gz)")
    target_lang: str = Field("en", description="parallel: the target side's file suffix (train.en or train.en.gz)")
    test_split: str | None = Field(None, description="parallel: the stem of the test files (default test; multi30k: test_2016_flickr)")
    label_pattern: str | None = Field(None, description="audio-folder: a regular expression searched in each file name; its group 'label' (or first group) is the class, its group 'speaker' the speaker (default: the class is the file's subfolder)")
    test_speaker: str | None = Field(None, description="audio: test on this speaker's recordings, train on the others' (leave-one-speaker-out; fsdd, or a label_pattern with a 'speaker' group)")
    sample_rate: int | None = Field(None, gt=0, description="audio: the sample rate in Hz every recording is brought to (default: the first file's)")
    resample: bool = Field(True, description="audio: resample recordings made at another rate than data.sample_rate (false: refuse them)")
    clip_seconds: float = Field(1.0, gt=0, description="audio: cut or zero-pad every recording to this many seconds")
    n_mels: int = Field(40, ge=1, description="audio: mel bands of the log-mel spectrogram")
    window_ms: float = Field(32.0, gt=0, description="audio: STFT window length in milliseconds")
    hop_ms: float = Field(16.0, gt=0, description="audio: milliseconds between STFT frames")
    columns: list[str] | None = Field(None, description="series: the columns read as model inputs (default: every numeric column); data.target is the one forecast")
    window: int = Field(24, ge=1, description="series: look-back window: the time steps the model sees")
    horizon: int = Field(1, ge=1, description="series: how many steps ahead are forecast (one model output per step)")
    season: int | None = Field(None, ge=1, description="series: the season's length in steps, for the seasonal-naive baseline (default: the data set's own, co2 12, sunspots 11; none for a csv)")
    groups: str | None = Field(None, description="groups of examples (audits, group_balance): column:NAME, file:REGEX (its first group, in file names) or meta:PATH (CSV of id,group)")
    group_balance: bool = Field(False, description="resample the training split so that every group (data.groups) is seen as often as the largest")
    generated: str | None = Field(None, description="classification: a conditional GAN (cgan) run directory whose samples are added to the training split")
    generated_per_class: int = Field(100, ge=1, description="classification: with data.generated, generated training images per class")

    @model_validator(mode="after")
    def _known_source(self) -> DataConfig:
        from layerlab.data import DATASETS  # the registry fills as the sources are imported

        if self.name not in DATASETS:
            raise ValueError(f"@name@{DATASETS.unknown_message(self.name)}")
        if self.group_balance and not self.groups:
            raise ValueError("@group_balance@needs data.groups, the rule that gives each example its group")
        if self.folds is not None and self.fold >= self.folds:
            raise ValueError(f"@fold@is 0-based and must be below data.folds ({self.folds}), got {self.fold}")
        if self.folds is None and self.fold:
            raise ValueError("@fold@needs data.folds, the number of folds the data is cut into")
        return self


# --------------------------------------------------------------------------------------------- task
class TaskConfig(Section):
    name: str = Field("classification", description="what is learned: classification, regression, ... (see `layerlab recipe explain task`)")
    loss: str = Field("auto", description="auto (the task's usual loss), or one the task allows: cross_entropy; mse, mae, huber; ...")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="classification: label smoothing of the cross-entropy; adversarial (bce): the real images' target is 1 - this (one-sided)")
    class_weights: Literal["none", "balanced"] | list[float] = Field(
        "none", description="classification: per-class loss weights, or 'balanced' (inverse class frequency)"
    )
    top_k: int = Field(5, ge=1, description="classification: k of the top-k accuracy")
    rdrop: float = Field(0.0, ge=0, description="classification: R-Drop (Liang et al., 2021): each training batch goes through the model twice, under two dropout masks, and the loss adds this times the symmetric KL divergence of the two predictions (0 = off; 0.1-1 in the paper; twice the training compute)")
    huber_delta: float = Field(1.0, gt=0, description="regression: where the Huber loss turns linear")
    beam_size: int = Field(1, ge=1, description="seq2seq: beam width when decoding test translations and `translate` (1 = greedy)")
    length_penalty: float = Field(1.0, ge=0, description="seq2seq: beam search ranks by log-probability / length**this (0 = no normalisation)")
    val_bleu: bool = Field(False, description="seq2seq: also decode the validation split (greedy) at every epoch end and record val_bleu and val_chrf: BLEU against training time, for a decoding pass per epoch")
    relative: bool = Field(False, description="forecast: the model sees each window relative to its last step and forecasts the change from the last value (NLinear), so a trend may leave the training range")
    calibrate: Literal["none", "temperature"] = Field("none", description="classification: temperature scaling fitted on the validation split after training, used by evaluate and predict")
    noise: Literal["none", "gaussian", "salt_pepper", "mask"] = Field("none", description="reconstruction: noise added to the inputs, which the model learns to remove (a denoising autoencoder)")
    noise_level: float = Field(0.3, ge=0, le=1, description="reconstruction: the noise's standard deviation (gaussian) or the fraction of pixels hit (salt_pepper, mask)")
    beta: float = Field(1.0, gt=0, description="vae: weight of the KL term (1: the ELBO; above 1: a beta-VAE)")
    kl_warmup: int = Field(0, ge=0, description="vae: training batches over which the KL weight rises linearly from 0 to beta")
    n_critic: int = Field(1, ge=1, description="adversarial: discriminator steps per generator step")
    d_lr: float | None = Field(None, gt=0, description="adversarial: the discriminator's learning rate (default train.lr)")
    g_lr: float | None = Field(None, gt=0, description="adversarial: the generator's learning rate (default train.lr)")
    gp_weight: float = Field(10.0, ge=0, description="adversarial: weight of the gradient penalty (loss wgan-gp)")
    samples_seed: int = Field(1234, description="vae, adversarial: seed of the fixed noise batch whose samples are saved after every epoch")

    @model_validator(mode="after")
    def _loss_fits(self) -> TaskConfig:
        from layerlab.tasks import TASKS  # the registry fills as the tasks are imported

        if self.name not in TASKS:
            raise ValueError(f"@name@{TASKS.unknown_message(self.name)}")
        allowed = TASKS.get(self.name).losses
        if self.loss not in allowed:
            raise ValueError(f"@loss@'{self.loss}' is not a loss for {self.name}; allowed: {', '.join(sorted(allowed))}")
        if self.name == "regression" and self.label_smoothing:
            raise ValueError("@label_smoothing@applies to classification only; remove it for regression")
        if self.rdrop and self.name != "classification":
            raise ValueError(f"@rdrop@R-Drop applies to classification only, not {self.name}; remove it")
        if self.name == "regression" and self.class_weights != "none":
            raise ValueError("@class_weights@applies to classification only; remove it for regression")
        if self.val_bleu and self.name != "seq2seq":
            raise ValueError(f"@val_bleu@BLEU is a translation (seq2seq) metric, not one of {self.name}")
        if self.relative and self.name != "forecast":
            raise ValueError(f"@relative@level-relative windows are a forecasting option, not one of {self.name}")
        if self.calibrate != "none" and self.name != "classification":
            raise ValueError(f"@calibrate@temperature scaling applies to classification only, not {self.name}")
        return self


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
    betas: tuple[float, float] = Field((0.9, 0.999), description="adam and adamw: the two moment decay rates")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (decoupled for adamw)")
    l1: float = Field(0.0, ge=0, description="L1 penalty on weights (not biases or norms), added to the loss")
    schedule: Schedule = Field("constant", description="learning-rate schedule: constant, step, cosine, onecycle, plateau")
    schedule_clock: Literal["steps", "time"] = Field("steps", description="what the schedule runs over: steps (train.epochs) or time (train.max_seconds: a cosine or onecycle reaches its end when the budget does, or at the last epoch if that comes first; without max_seconds, steps)")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up from 0 over this many epochs (not with onecycle)")
    step_size: int = Field(10, ge=1, description="step: epochs between learning-rate cuts")
    gamma: float = Field(0.1, gt=0, le=1, description="step and plateau: factor of each cut")
    plateau_patience: int = Field(3, ge=0, description="plateau: epochs without improvement before a cut")
    grad_clip: float | None = Field(None, gt=0, description="clip the gradient norm to this value")
    group_by_length: bool = Field(False, description="token data: put sentences of about one length in a batch (each window of 64 shuffled batches sorted by length, the batches shuffled again), so that little of a batch is padding; it speeds up what computes only up to a batch's longest sentence: translation, the token classifiers (textcnn, rnn, lstm, gru, transformer), hf: models")
    cache_frozen: bool = Field(True, description="a stage that trains only the head, without augmentation: compute what the frozen layers feed the head once, for the training and validation splits, and train the head on it rather than rerunning them every epoch (same batches and losses; off: false)")
    accumulate: int = Field(1, ge=1, description="batches whose gradients are summed before each optimiser step")
    monitor: str = Field("auto", description="validation metric for early stopping and the best checkpoint (auto: val_accuracy or val_loss)")
    early_stopping: int | None = Field(None, ge=1, description="stop after this many epochs without improvement of the monitored metric")
    min_delta: float = Field(0.0, ge=0, description="smallest change that counts as an improvement")
    ema: float | None = Field(None, gt=0, lt=1, description="keep an exponential moving average of the weights, with this decay per optimiser step (e.g. 0.999; until about 1/(1-ema) steps have passed, the plain mean of the weights so far); validation, the best epoch, the saved weights and the test use the average; keep the window 1/(1-ema) well below the run's steps (None: off)")
    precision: Literal["fp32", "bf16", "fp16", "auto"] = Field("fp32", description="bf16 autocast (CPU or CUDA), fp16 with loss scaling (CUDA), or auto: bf16 where the CPU or GPU computes bf16 natively (AVX-512 BF16 or AMX; Ampere or later), else fp32")
    device: str = Field("auto", description="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    seed: int = Field(0, description="one seed for splits, initialisation, batch order and augmentation")
    deterministic: bool = Field(False, description="use only deterministic kernels (bit-for-bit repeatable runs)")
    max_seconds: float | None = Field(None, gt=0, description="wall-clock budget for training; stops at the end of the step that passes it")
    checkpoint_every: int = Field(0, ge=0, description="also write a checkpoint every this many optimiser steps (0 = epoch ends only)")
    diagnostics_every: int | None = Field(None, ge=0, description="record per-layer gradient norms and activation statistics every this many steps (None: ~100 times a run; 0: never)")
    report: bool = Field(True, description="write report.html (and its PNGs) into the run directory at the end of the run")
    threads: int | None = Field(None, ge=1, description="CPU threads for torch (default: torch's choice)")
    stages: list[StageConfig] = Field(default_factory=list, description="fine-tuning stages, one after another (see train.stages[].*); train.epochs is their sum")
    fine_tune: int = Field(0, ge=0, description="fastai-like shortcut: this many epochs training the head only at train.lr, then the rest of train.epochs everything at lr/2, rates falling to 1/100 at the first layer group (0 = off)")

    @model_validator(mode="after")
    def _stages_fit(self) -> TrainConfig:
        if self.schedule_clock == "time" and (self.stages or self.fine_tune):
            raise ValueError("@schedule_clock@'time' runs one schedule over the whole budget; fine-tuning stages each run their own over their epochs")
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
        hint = close_match(str(value), ["head", "all"])
        raise ValueError(f"@@{value!r} is not head, all or a number of layer groups (0 or more){f'; did you mean {hint!r}?' if hint else ''}")


TrainConfig.model_rebuild()


# ------------------------------------------------------------------------------------------- recipe
class Recipe(Section):
    name: str = Field("run", description="name of the recipe; run directories are named after it")
    description: str = Field("", description="one line saying what the recipe is for")
    data: DataConfig = Field(default_factory=DataConfig, description="where the examples come from and how they are split")
    model: dict[str, Any] = Field(default_factory=lambda: {"name": "cnn"}, validate_default=True, description="the network: 'name' picks the family, the other keys are its options")
    task: TaskConfig = Field(default_factory=TaskConfig, description="what is learned: its loss and metrics")
    train: TrainConfig = Field(default_factory=TrainConfig, description="how it is learned")
    tune: TuneConfig = Field(default_factory=TuneConfig, description="hyperparameter search (`layerlab tune`): space, strategy, metric, trials")
    track: TrackConfig = Field(default_factory=TrackConfig, description="where the run is recorded: the run index, MLflow, TensorBoard")

    @field_validator("model")
    @classmethod
    def _model_fields(cls, section: dict[str, Any]) -> dict[str, Any]:
        return validate_model_section(section)

    @model_validator(mode="after")
    def _pixels_for_generative(self) -> Recipe:
        from layerlab.tasks import TASKS

        if getattr(TASKS.get(self.task.name), "pixel_space", False) and self.data.normalize:
            raise ValueError(f"@data.normalize@task {self.task.name} models pixels in [0, 1]; set data.normalize: false")
        return self

    @model_validator(mode="after")
    def _pixels_for_pretrained(self) -> Recipe:
        from layerlab.models import MODELS

        # A pretrained image model standardises its input as its weights expect (its input transform), so
        # the data stays in [0, 1]; the saved recipe says so.
        if getattr(MODELS.entry(self.model["name"]).config, "takes_pixels", False) and self.data.normalize:
            self.data.normalize = False
        # Likewise a pretrained text model reads text as its own tokenizer cuts it.
        if getattr(MODELS.entry(self.model["name"]).config, "tokenizer_source", False):
            self.data.tokenizer = self.model["name"]
        return self

    @model_validator(mode="after")
    def _calibration_has_data(self) -> Recipe:
        if self.task.calibrate != "none" and self.data.val_fraction == 0:
            raise ValueError("@task.calibrate@temperature scaling is fitted on the validation split; "
                             "set data.val_fraction above 0")
        return self

    @model_validator(mode="after")
    def _search_space_fits(self) -> Recipe:
        from layerlab.tune.space import recipe_problems  # checks tune.space against the rest of the recipe

        problems = recipe_problems(self)
        if problems:
            raise _NestedErrors(problems)
        return self

    def model_config_object(self):
        """The model section as its family's config object."""
        from layerlab.models import MODELS

        return MODELS.entry(self.model["name"]).config(**self.model)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


def validate_model_section(section: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``model:`` against its family's config class; returns it with defaults filled in."""
    from layerlab.models import MODELS

    if not isinstance(section, Mapping):
        raise ValueError("@@expected a mapping with at least 'name'")
    name = section.get("name", "cnn")
    if name not in MODELS:
        raise ValueError(f"@name@{MODELS.unknown_message(name)}")
    config_cls = MODELS.entry(name).config
    try:
        return config_cls(**{**section, "name": name}).model_dump(mode="json")
    except ValidationError as exc:
        raise _NestedErrors(_problems(exc, "model", config_cls)) from None


class _NestedErrors(ValueError):
    """Carries already formatted problems out of a nested validation."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# ------------------------------------------------------------------------------------------ loading
def load_recipe(
    source: str | Path | Mapping[str, Any] | Recipe | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Recipe:
    """Read, override and validate a recipe.

    ``source`` is a YAML path, the name of a built-in recipe, a dict, a ``Recipe`` or None (defaults).
    ``overrides`` are ``"train.epochs=3"`` strings (values parsed as YAML) or a ``{"train.epochs": 3}``
    mapping. Raises ``RecipeError`` naming the file, key path, value and what is allowed.
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
    raw = apply_overrides(raw, overrides, label)
    return validate_recipe(raw, label)


def validate_recipe(raw: Mapping[str, Any], label: str | None = None) -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(_problems(exc, "", Recipe, raw), label) from None


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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([f"cannot read the file: {exc}"], str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RecipeError([f"{where}not valid YAML ({problem})"], str(path)) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RecipeError([f"a recipe is a mapping of sections (data, model, task, train), not a {type(raw).__name__}"], str(path))
    return str(path), raw


def apply_overrides(
    raw: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any], label: str | None = None
) -> dict[str, Any]:
    """Set ``a.b.c=value`` keys in a raw recipe dict (a copy). Values are parsed as YAML."""
    raw = copy.deepcopy(raw)
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            key, sep, value = str(text).partition("=")
            if not sep or not key.strip():
                raise RecipeError([f"override '{text}' is not of the form key.path=value (e.g. train.epochs=3)"], label)
            try:
                parsed = yaml.safe_load(value) if value.strip() else None
            except yaml.YAMLError:
                parsed = value
            items.append((key.strip(), parsed))
    for key, value in items:
        node = raw
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                path = ".".join(parts[: depth + 1])
                raise RecipeError([f"{key}: cannot set a key inside '{path}', which is {child!r}"], label)
            node = child
        node[parts[-1]] = value
    return raw


# -------------------------------------------------------------------------------- error translation
def _problems(exc: ValidationError, prefix: str, root_cls: type, raw: Any = None) -> list[str]:
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        msg = err.get("msg", "")
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _NestedErrors):
            problems.extend(ctx_error.problems)
            continue
        if err["type"] == "value_error" and isinstance(ctx_error, ValueError) and str(ctx_error).startswith("@"):
            _, field, text = str(ctx_error).split("@", 2)
            path = _join(prefix, *loc, field)
            problems.append(f"{path}: {text}" if path else text)
            continue
        path = _join(prefix, *loc)
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown key{_key_hint(root_cls, loc, prefix)}")
        elif err["type"] == "literal_error":
            expected = (err.get("ctx") or {}).get("expected", "")
            choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
            hint = close_match(str(given), choices)
            hint_text = f"; did you mean '{hint}'?" if hint else ""
            problems.append(f"{path}: {given!r} is not allowed; allowed: {', '.join(choices)}{hint_text}")
        elif err["type"] == "missing":
            problems.append(f"{path}: required")
        else:
            problems.append(f"{path}: {msg[0].lower() + msg[1:] if msg else 'invalid'}, given {given!r}")
    return _dedupe(problems)


def _key_hint(root_cls: type, loc: list[str], prefix: str) -> str:
    """'; did you mean ...' for an unknown key, looking at the fields of its section's class."""
    cls = root_cls
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and hasattr(annotation, "model_fields")):
            return ""
        cls = annotation
    match = close_match(loc[-1], getattr(cls, "model_fields", {}))
    return f"; did you mean '{_join(prefix, *loc[:-1], match)}'?" if match else f"; known keys: {', '.join(getattr(cls, 'model_fields', {}))}"


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# --------------------------------------------------------------------------------------- explaining
def explain(section: str | None = None) -> list[tuple[str, str, str, str]]:
    """Rows of (key path, type, default, description) for a section (or all of them).

    ``model`` lists the options of every model family, as ``model[mlp].hidden``.
    """
    from layerlab.models import MODELS

    sections = {"data": DataConfig, "task": TaskConfig, "train": TrainConfig, "tune": TuneConfig, "track": TrackConfig}
    if section is not None and section not in {*sections, "model"} and not section.startswith("model."):
        hint = close_match(section, [*sections, "model"])
        raise RecipeError([f"'{section}' is not a recipe section{f'; did you mean {hint!r}?' if hint else ''} (data, model, task, train, tune, track)"])
    rows: list[tuple[str, str, str, str]] = []
    if section is None:
        rows += _rows(Recipe, "", skip={"data", "model", "task", "train", "tune", "track"})
    for name, cls in sections.items():
        if section in (None, name):
            rows += _rows(cls, name)
    if section is None or section == "model" or section.startswith("model."):
        wanted = section.split(".", 1)[1] if section and "." in section else None
        if wanted is not None and wanted not in MODELS:
            raise RecipeError([f"model.name: {MODELS.unknown_message(wanted)}"])
        for entry in MODELS:
            if wanted in (None, entry.name):
                rows += _rows(entry.config, f"model[{entry.name}]")
    return rows


def _rows(cls: type, prefix: str, skip: set[str] = frozenset()) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, field in cls.model_fields.items():
        if name in skip:
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            rows += _rows(annotation, _join(prefix, name))
            continue
        item = (getattr(annotation, "__args__", None) or [None])[0] if getattr(annotation, "__origin__", None) is list else None
        if isinstance(item, type) and issubclass(item, Section):  # a list of sections (train.stages)
            default = field.get_default(call_default_factory=True)
            rows.append((_join(prefix, name), f"list[{item.__name__}]", repr(default), field.description or ""))
            rows += _rows(item, _join(prefix, f"{name}[]"))
            continue
        default = field.get_default(call_default_factory=True)
        rows.append((_join(prefix, name), _type_name(annotation), repr(default), field.description or ""))
    return rows


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    return text.replace("typing.", "").replace("NoneType", "None")
