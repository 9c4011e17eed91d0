"""Speech synthesis: words to log-mel frames (model ``tts``), frames to a waveform by Griffin-Lim.

The targets are the utterances' words and pauses with the frames each lasts, (B, S, 2) (the digit-strings
source knows where every recording lies); the inputs ``x`` are the utterances' standardised log-mels, which
the model learns to write. Loss: mean absolute error of the log-mel frames (the model given the true
durations: teacher forcing) plus ``duration_weight`` times the squared error of the predicted log(1 + frames)
of every word and pause. ``synthesise`` turns text into a waveform: the words (unknown ones refused), pauses
between them, durations predicted, the run's standardisation undone, then ``griffin_lim.mel_to_wave`` (the
magnitude raised to ``power`` first: above 1 undoes some of the smoothing a regression to the mean leaves).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from layerlab.data.speech import PAUSE
from layerlab.data.targets import TargetSpec
from layerlab.errors import DataError, LayerLabError, UsageError
from layerlab.tasks.base import TASKS, Task
from layerlab.tasks.config import SpeechSynthesisConfig

TAIL_SECONDS = 0.15  # the longest pause kept after the last word (in training it lasts to the clip's end)


class Synthesis(NamedTuple):
    mel: Tensor  # (B, 1, M, T) the model's log-mels
    log_frames: Tensor  # (B, S) its predicted log(1 + frames) of each token
    target: Tensor  # (B, 1, M, T) the utterances' log-mels


@TASKS.register("speech_synthesis")
class SpeechSynthesisTask(Task):
    name = "speech_synthesis"
    target = TargetSpec("tokens", modalities=("audio",), needs="utterances with the place of every word (data.name: digit-strings)")
    monitor = ("val_loss", "min")

    def __init__(self, vocabulary: list[str], *, duration_weight: float = 1.0, iterations: int = 60, power: float = 1.0):
        if PAUSE not in vocabulary:
            raise LayerLabError("speech_synthesis needs words and pauses from a speech source (data.name: digit-strings)")
        self.vocabulary, self.duration_weight, self.iterations = list(vocabulary), duration_weight, iterations
        self.power = power

    @classmethod
    def from_config(cls, cfg: SpeechSynthesisConfig, *, num_classes: int | None, class_names: list[str] | None,
                    train_targets: Tensor) -> SpeechSynthesisTask:
        if train_targets.numel() and train_targets.ndim != 3:
            raise LayerLabError(f"speech_synthesis's targets are (words and pauses, frames) pairs (N, S, 2); the data "
                                f"gives {tuple(train_targets.shape)} (use data.name: digit-strings)")
        return cls(class_names or [], duration_weight=cfg.duration_weight, iterations=cfg.iterations,
                   power=cfg.power)

    def num_outputs(self) -> int:
        return len(self.vocabulary)

    def config_dict(self) -> dict[str, Any]:
        return {"name": self.name, "loss": "l1", "duration_weight": self.duration_weight, "iterations": self.iterations,
                "power": self.power}

    # ------------------------------------------------------------------------------ every step
    def forward(self, model: nn.Module, x: Tensor, y: Tensor) -> Synthesis:
        mel, log_frames = model(y)  # teacher forcing: the true durations place the frames
        return Synthesis(mel, log_frames, x)

    def loss(self, output: Synthesis, target: Tensor) -> Tensor:
        parts = self._losses(output, target)
        return parts["mel_l1"] + self.duration_weight * parts["duration_mse"]

    def _losses(self, output: Synthesis, target: Tensor) -> dict[str, Tensor]:
        real = (target[..., 0] != 0).float()  # (B, S)
        wanted = torch.log1p(target[..., 1].float())
        squared = (output.log_frames.float() - wanted).square() * real
        return {"mel_l1": F.l1_loss(output.mel.float(), output.target.float()),
                "duration_mse": squared.sum() / real.sum().clamp(min=1)}

    # ------------------------------------------------------------------------------ a whole split
    def metric_names(self) -> list[str]:
        return ["loss", "mel_l1", "duration_mse"]

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, split: Any, *, batch_size: int, precision: str = "fp32",
                 report: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
        was_training = model.training
        model.eval()
        totals = torch.zeros(3, dtype=torch.float64)
        for start in range(0, len(split.y), batch_size):
            x, y = split.x[start : start + batch_size], split.y[start : start + batch_size]
            parts = self._losses(self.forward(model, x, y), y)
            loss = parts["mel_l1"] + self.duration_weight * parts["duration_mse"]
            totals += torch.tensor([float(loss), float(parts["mel_l1"]), float(parts["duration_mse"])],
                                   dtype=torch.float64) * len(y)
        model.train(was_training)
        metrics = dict(zip(self.metric_names(), (totals / max(1, len(split.y))).tolist()))
        return metrics, (dict(metrics) if report else {})

    def metrics(self, output: Synthesis, target: Tensor) -> dict[str, float]:
        parts = {k: float(v) for k, v in self._losses(output, target).items()}
        return {"loss": parts["mel_l1"] + self.duration_weight * parts["duration_mse"], **parts}

    def report(self, output: Synthesis, target: Tensor) -> dict[str, Any]:
        return self.metrics(output, target)

    def predict(self, output: Tensor) -> list[dict[str, Any]]:
        raise UsageError("a speech_synthesis run speaks text: layerlab speak RUN \"three one four\" --out x.wav")

    # ------------------------------------------------------------------------------ speaking
    def units(self, text: str) -> Tensor:
        """(1, S, 1) token ids of ``text`` (lower-cased, punctuation dropped): a pause, then each word
        followed by a pause. Raises DataError for an empty text or a word outside the vocabulary."""
        words = re.sub(r"[^\w\s']", " ", text.lower()).split()  # punctuation is dropped, as between words
        if not words:
            raise DataError("the text to speak is empty")
        unknown = [w for w in words if w not in self.vocabulary or w == PAUSE]
        if unknown:
            known = ", ".join(w for w in self.vocabulary[2:])
            raise DataError(f"the text holds the word {unknown[0]!r}, which this model cannot say (it knows: {known})")
        ids = [self.vocabulary.index(PAUSE)]
        for word in words:
            ids += [self.vocabulary.index(word), self.vocabulary.index(PAUSE)]
        return torch.tensor(ids, dtype=torch.long).view(1, -1, 1)

    @torch.inference_mode()
    def spoken(self, model: nn.Module, text: str, *, device: Any) -> tuple[Tensor, list[int]]:
        """The model's mel output for ``text`` and the frames it gives each unit (a pause, then each word and
        the pause after it): the durations ``synthesise`` speaks with."""
        mel, log_frames = model(self.units(text).to(device))
        return mel, torch.expm1(log_frames[0].float()).round().clamp(min=0).long().tolist()

    @torch.inference_mode()
    def synthesise(self, model: nn.Module, text: str, *, preprocessor: Any, device: Any) -> np.ndarray:
        """The waveform (float32 at the run's sample rate, peak 0.9) of ``text``: up to its last word and
        a closing pause of at most ``TAIL_SECONDS``. Raises DataError for text the model cannot say or
        that would not fit in its spectrogram."""
        from layerlab.data.griffin_lim import mel_to_wave

        model.eval()
        mel, frames = self.spoken(model, text, device=device)
        hop_seconds = preprocessor.hop_ms / 1000
        spoken = sum(frames[:-1]) + min(frames[-1], round(TAIL_SECONDS / hop_seconds))
        if sum(frames[:-1]) > mel.shape[-1]:
            raise DataError(f"the text is too long for this model: it would last {sum(frames[:-1]) * hop_seconds:.2f} s, "
                            f"the model writes {preprocessor.samples / preprocessor.sample_rate:g} s; say fewer words")
        logmel = mel[0, 0, :, : max(spoken, 2)].float().cpu()  # (M, T), standardised as the training inputs were
        if preprocessor.mean is not None:
            logmel = logmel * torch.tensor(preprocessor.std)[:, None] + torch.tensor(preprocessor.mean)[:, None]
        wave = mel_to_wave(logmel, preprocessor._logmel, iterations=self.iterations, power=self.power)
        return wave / max(1e-6, float(np.abs(wave).max())) * 0.9
