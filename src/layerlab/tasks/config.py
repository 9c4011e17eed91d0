"""The ``task`` section: what every task shares, and the options of families of tasks.

Every built-in task's options are a subclass of ``TaskConfig`` declared here with its name, its module,
its ``losses`` and its ``pixel_space`` (``TASKS.declare("regression", "layerlab.tasks.regress",
config=RegressionConfig)``), without torch; the task class registers under the same name in its own file
and loads on first use. A plugin registers its config with its class. A recipe's
``task: {name: regression, ...}`` is checked against that class, so an option of another task is an
unknown key. Options shared by a family of tasks are declared once here.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from layerlab.config import NamedSection
from layerlab.errors import short
from layerlab.registry import Registry
from layerlab.tasks.registry import TASKS


class TaskConfig(NamedSection):
    name: str = Field("classification", description="what is learned: classification, regression, ... (`layerlab recipe explain task NAME` lists a task's options)")
    loss: str = Field("auto", description="auto (the task's usual loss), or one the task allows: cross_entropy; mse, mae, huber; ...")

    # What the recipe checks without loading the task's code (torch): the values task.loss may take
    # ("auto" first), and whether inputs must be pixels in [0, 1] (data.normalize refused). None: no for a
    # built-in task; for a plug-in's task, registered with its class, what the class says.
    losses: ClassVar[tuple[str, ...] | None] = None
    pixel_space: ClassVar[bool | None] = None

    @classmethod
    def registry(cls) -> Registry:
        return TASKS

    @model_validator(mode="after")
    def _loss_fits(self) -> TaskConfig:
        allowed = task_trait(self, "losses")
        if self.loss not in allowed:
            raise ValueError(f"@loss@'{self.loss}' is not a loss for {self.name}; allowed: {', '.join(sorted(allowed))}")
        return self


# ----------------------------------------------------------------------------------------- families
class SmoothingConfig(TaskConfig):
    """Tasks that predict one of a set of classes or tokens with a cross-entropy (classification,
    language models, translation)."""

    label_smoothing: float = Field(0.0, ge=0, lt=1, description="classification, language_model, seq2seq: label smoothing of the cross-entropy")


class GenerativeConfig(TaskConfig):
    """Tasks that generate images from noise (VAEs, GANs) and save samples after every epoch."""

    samples_seed: int = Field(1234, description="vae, adversarial: seed of the fixed noise batch whose samples are saved after every epoch")


class ClassificationConfig(SmoothingConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "cross_entropy")
    class_weights: Literal["none", "balanced"] | list[float] = Field(
        "none", description="classification: per-class loss weights, or 'balanced' (inverse class frequency)"
    )
    top_k: int = Field(5, ge=1, description="classification: k of the top-k accuracy")
    rdrop: float = Field(0.0, ge=0, description="classification: R-Drop (Liang et al., 2021): each training batch goes through the model twice, under two dropout masks, and the loss adds this times the symmetric KL divergence of the two predictions (0 = off; 0.1-1 in the paper; twice the training compute)")
    calibrate: Literal["none", "temperature"] = Field("none", description="classification: temperature scaling fitted on the validation split after training, used by evaluate and predict")

    @field_validator("class_weights")
    @classmethod
    def _usable_weights(cls, value: str | list[float]) -> str | list[float]:
        if isinstance(value, list) and not (all(math.isfinite(w) and w >= 0 for w in value) and any(w > 0 for w in value)):
            raise ValueError(f"@@weights must be finite, non-negative and not all zero, given {short(value)}")
        return value


class RegressionConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "mse", "mae", "huber")
    huber_delta: float = Field(1.0, gt=0, description="regression, forecast: where the Huber loss turns linear")


class ForecastConfig(RegressionConfig):
    relative: bool = Field(False, description="forecast: the model sees each window relative to its last step and forecasts the change from the last value (NLinear), so a trend may leave the training range")


class LanguageModelConfig(SmoothingConfig):
    """A language model takes the options every cross-entropy task does (label smoothing)."""
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "cross_entropy")


class Seq2SeqConfig(SmoothingConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "cross_entropy")
    beam_size: int = Field(1, ge=1, description="seq2seq: beam width when decoding test translations and `translate` (1 = greedy)")
    length_penalty: float = Field(1.0, ge=0, description="seq2seq: beam search ranks by log-probability / length**this (0 = no normalisation)")
    val_bleu: bool = Field(False, description="seq2seq: also decode the validation split (greedy) at every epoch end and record val_bleu and val_chrf: BLEU against training time, for a decoding pass per epoch")


class ReconstructionConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "mse", "bce")
    pixel_space: ClassVar[bool | None] = True
    noise: Literal["none", "gaussian", "salt_pepper", "mask"] = Field("none", description="reconstruction: noise added to the inputs, which the model learns to remove (a denoising autoencoder)")
    noise_level: float = Field(0.3, ge=0, le=1, description="reconstruction: the noise's standard deviation (gaussian) or the fraction of pixels hit (salt_pepper, mask)")


class VAEConfig(GenerativeConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "bce")
    pixel_space: ClassVar[bool | None] = True
    beta: float = Field(1.0, gt=0, description="vae: weight of the KL term (1: the ELBO; above 1: a beta-VAE)")
    kl_warmup: int = Field(0, ge=0, description="vae: training batches over which the KL weight rises linearly from 0 to beta")


class AdversarialConfig(GenerativeConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "bce", "hinge", "wgan-gp")
    pixel_space: ClassVar[bool | None] = True
    n_critic: int = Field(1, ge=1, description="adversarial: discriminator steps per generator step")
    d_lr: float | None = Field(None, gt=0, description="adversarial: the discriminator's learning rate (default train.lr)")
    g_lr: float | None = Field(None, gt=0, description="adversarial: the generator's learning rate (default train.lr)")
    gp_weight: float = Field(10.0, ge=0, description="adversarial: weight of the gradient penalty (loss wgan-gp)")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="adversarial (bce): the real images' target is 1 - this (one-sided label smoothing)")


class SegmentationConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "cross_entropy", "dice", "cross_entropy+dice")
    class_weights: list[float] | None = Field(None, description="segmentation: a weight per class for the cross-entropy (None = equal)")
    ignore_index: int = Field(255, description="segmentation: target pixels of this value count in no loss or metric")


class DetectionConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "model")
    score_threshold: float = Field(0.5, ge=0, le=1, description="detection: predictions below this score are left out of predict's output (not of mAP)")


Decoder = Literal["beam", "greedy"]


class SpeechRecognitionConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "ctc")
    decoder: Decoder = Field("beam", description="speech_recognition: how predictions and the report decode: beam (prefix beam search) or greedy (best path)")
    beam_width: int = Field(8, ge=1, description="speech_recognition: prefixes the beam search keeps per frame")
    worst: int = Field(10, ge=0, description="speech_recognition: utterances with the most word errors listed in the report")


class SpeechSynthesisConfig(TaskConfig):
    losses: ClassVar[tuple[str, ...] | None] = ("auto", "l1")
    duration_weight: float = Field(1.0, ge=0, description="speech_synthesis: weight of the duration predictor's squared error of log(1 + frames)")
    iterations: int = Field(60, ge=1, description="speech_synthesis: Griffin-Lim iterations when a spectrogram becomes a waveform")
    power: float = Field(1.0, gt=0, le=3, description="speech_synthesis: the magnitude raised to this power before Griffin-Lim "
                         "(above 1 deepens the valleys between formants, as Tacotron's 1.2-1.5)")


TASKS.declare("adversarial", "layerlab.tasks.adversarial", config=AdversarialConfig, description="GAN training: alternating discriminator and generator steps (bce, hinge, wgan-gp)")
TASKS.declare("classification", "layerlab.tasks.classify", config=ClassificationConfig, description="one label per example, from a fixed set of classes")
TASKS.declare("detection", "layerlab.tasks.detection", config=DetectionConfig, description="object detection: boxes and classes (and masks) in images")
TASKS.declare("regression", "layerlab.tasks.regress", config=RegressionConfig, description="predict one number (or a vector of numbers) per example")
TASKS.declare("forecast", "layerlab.tasks.forecast", config=ForecastConfig, description="predict the next data.horizon values of a time series (data: series, co2, sunspots)")
TASKS.declare("language_model", "layerlab.tasks.language_model", config=LanguageModelConfig, description="predict each next token of a text (perplexity, bits per character)")
TASKS.declare("reconstruction", "layerlab.tasks.reconstruct", config=ReconstructionConfig, description="give back the input through a bottleneck (autoencoders; denoising with task.noise)")
TASKS.declare("segmentation", "layerlab.tasks.segmentation", config=SegmentationConfig, description="semantic segmentation: a class for every pixel")
TASKS.declare("seq2seq", "layerlab.tasks.seq2seq", config=Seq2SeqConfig, description="translate token sequences (teacher forcing; greedy or beam search; BLEU, chrF)")
TASKS.declare("speech_recognition", "layerlab.tasks.speech_recognition", config=SpeechRecognitionConfig, description="speech to text with CTC: transcripts of characters or words (WER, CER)")
TASKS.declare("speech_synthesis", "layerlab.tasks.speech_synthesis", config=SpeechSynthesisConfig, description="text to speech: words to log-mel frames with durations, Griffin-Lim to a waveform")
TASKS.declare("vae", "layerlab.tasks.vae", config=VAEConfig, description="variational autoencoder: the ELBO (reconstruction + beta * KL), with KL warm-up")


def task_trait(cfg: TaskConfig, trait: str) -> Any:
    """``losses`` or ``pixel_space`` of ``cfg``'s task: its config class's, else its task class's."""
    value = getattr(type(cfg), trait)
    if value is None and not TASKS.entry(cfg.name).module:  # a plug-in's task, registered with its class
        value = getattr(TASKS.get(cfg.name), trait, None)
    return value if value is not None else False
