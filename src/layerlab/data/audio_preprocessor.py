"""Preprocessing of audio: fixed-length waveforms to standardised log-mel spectrograms.

A source hands over mono waveforms at one sample rate, cut or padded to one length (N, samples). The
preprocessing turns them into log-mel spectrograms (N, 1, n_mels, frames), one "image channel" so that
the image models take them, and standardises each mel band with the mean and standard deviation of the
training split. WAV files given to ``predict`` are read, resampled, cut and prepared the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from layerlab.data.audio import LogMel, load_waveforms, wav_files
from layerlab.data.preprocessor import Preprocessor, input_files
from layerlab.errors import DataError

_CHUNK = 512  # waveforms per STFT call (bounds the complex spectrogram's memory)


@dataclass
class AudioPreprocessor(Preprocessor):
    kind: ClassVar[str] = "audio"

    sample_rate: int  # Hz of the waveforms
    samples: int  # length of every waveform (clip length x sample rate)
    n_mels: int
    window_ms: float
    hop_ms: float
    resample: bool = True  # predict: resample files at other rates (False: refuse them)
    mean: list[float] | None = None  # per mel band, of the log-mel features; None = not standardised
    std: list[float] | None = None
    classes: list[str] | None = None

    def __post_init__(self) -> None:
        self._logmel = LogMel(sample_rate=self.sample_rate, n_mels=self.n_mels, window_ms=self.window_ms,
                              hop_ms=self.hop_ms)

    @classmethod
    def fit(cls, train: np.ndarray, *, sample_rate: int, n_mels: int, window_ms: float, hop_ms: float,
            resample: bool, normalize: bool, classes: list[str] | None) -> AudioPreprocessor:
        """Fit on the training waveforms (N, samples): the per-band statistics of their log-mels."""
        fitted = cls(sample_rate, int(train.shape[1]), n_mels, window_ms, hop_ms, resample, None, None, classes)
        if normalize and len(train):
            total = torch.zeros(n_mels, dtype=torch.float64)
            squares = torch.zeros(n_mels, dtype=torch.float64)
            for start in range(0, len(train), _CHUNK):
                features = fitted._features(train[start : start + _CHUNK]).double()  # (n, M, T)
                total += features.sum(dim=(0, 2))
                squares += features.square().sum(dim=(0, 2))
            count = len(train) * fitted._logmel.frames(fitted.samples)
            mean = total / count
            std = (squares / count - mean.square()).clamp(min=0).sqrt()
            fitted.mean = mean.tolist()
            fitted.std = torch.where(std > 1e-6, std, torch.ones_like(std)).tolist()  # constant band: unscaled
        return fitted

    def with_inputs_of(self, source: Preprocessor) -> AudioPreprocessor:
        """The source run's per-band mean and std of the log-mel features (none if it did not standardise)."""
        assert isinstance(source, AudioPreprocessor)
        if source.n_mels != self.n_mels:
            raise DataError(f"model.from_run: that run's spectrograms have {source.n_mels} mel bands, these "
                            f"{self.n_mels}; set data.n_mels: {source.n_mels}")
        return replace(self, mean=source.mean, std=source.std)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (1, self.n_mels, self._logmel.frames(self.samples))

    def transform(self, raw: np.ndarray) -> torch.Tensor:
        if raw.ndim != 2 or raw.shape[1] != self.samples:
            raise DataError(f"waveforms of shape {tuple(raw.shape[1:])} do not fit this preprocessing, which "
                            f"expects ({self.samples},) samples ({self.samples / self.sample_rate:g} s at {self.sample_rate} Hz)")
        out = torch.empty((len(raw), *self.input_shape), dtype=torch.float32)
        for start in range(0, len(raw), _CHUNK):
            out[start : start + _CHUNK, 0] = self._features(raw[start : start + _CHUNK])
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 1, -1, 1)
            std = torch.tensor(self.std, dtype=torch.float32).view(1, 1, -1, 1)
            out.sub_(mean).div_(std)
        return out

    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        files = input_files(paths, wav_files, "WAV files")
        waves = load_waveforms(files, sample_rate=self.sample_rate, length=self.samples,
                               resample_other_rates=self.resample)
        return self.transform(waves), [str(f) for f in files]

    def _features(self, waves: np.ndarray) -> torch.Tensor:
        return self._logmel(torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)))

    def _fields(self) -> dict[str, Any]:
        return {"sample_rate": self.sample_rate, "samples": self.samples, "n_mels": self.n_mels,
                "window_ms": self.window_ms, "hop_ms": self.hop_ms, "resample": self.resample,
                "mean": self.mean, "std": self.std, "classes": self.classes}
