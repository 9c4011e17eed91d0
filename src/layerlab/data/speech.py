"""What the speech sources (digit-strings, speech-manifest) share: their options, and utterances with
transcripts turned into ``RawData`` for ``speech_recognition``.

Every utterance is a mono waveform at one rate, zero-padded to ``data.clip_seconds`` (the padding is
silence, which the model learns to read as blanks); its transcript becomes a row of token ids, 0-padded
(``layerlab.data.transcripts``). The vocabulary is fitted on the training transcripts only and kept as
the preprocessing's ``classes``, so a run read back decodes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from layerlab.data.audio import read_wav, resample, to_mono
from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.config import AudioConfig
from layerlab.data.source import RawData, SourceContext
from layerlab.data.transcripts import Tokens, build_vocabulary, encode
from layerlab.errors import DataError


class SpeechConfig(AudioConfig):
    """Sources of spoken utterances with transcripts (speech recognition)."""

    clip_seconds: float = Field(5.0, gt=0, description="speech: the longest utterance in seconds; shorter ones are zero-padded (silence) to it")
    tokens: Tokens = Field("chars", description="speech: the transcripts' tokens for CTC: chars (letters and the space) or words (one token per word)")


@dataclass
class Utterances:
    waves: np.ndarray  # (N, samples) float32, mono, at the data's rate, zero-padded
    texts: list[str]  # the transcripts
    ids: list[str]  # where each comes from, for messages and reports


@dataclass(frozen=True)
class SpeechFormat:
    """The rate and length every utterance is brought to, and the vocabulary when a run fixes it."""

    rate: int
    samples: int
    vocabulary: list[str] | None = None


def speech_format(cfg: SpeechConfig, ctx: SourceContext, native_rate: int) -> SpeechFormat:
    """A trained run's rate, length and vocabulary, else the recipe's (the rate defaults to ``native_rate``)."""
    fitted = ctx.fitted if isinstance(ctx.fitted, AudioPreprocessor) else None
    if fitted is not None:
        return SpeechFormat(fitted.sample_rate, fitted.samples, list(fitted.classes or []))
    rate = cfg.sample_rate or native_rate
    return SpeechFormat(rate, round(cfg.clip_seconds * rate))


def place(wave: np.ndarray, samples: int, where: str, rate: int) -> np.ndarray:
    """``wave`` zero-padded to ``samples``; a longer one is refused (cutting it would cut words off)."""
    if len(wave) > samples:
        raise DataError(f"{where}: the recording lasts {len(wave) / rate:.2f} s, longer than data.clip_seconds "
                        f"({samples / rate:g} s); raise data.clip_seconds or leave it out")
    return np.pad(wave, (0, samples - len(wave)))


def speech_raw_data(cfg: SpeechConfig, ctx: SourceContext, fmt: SpeechFormat, train: Utterances,
                    test: Utterances | None) -> RawData:
    """Waveforms and 0-padded token rows, and the preprocessing to fit (or the run's)."""
    if not train.texts:
        raise DataError(f"{cfg.name}: no training utterances")
    vocabulary = fmt.vocabulary or build_vocabulary(train.texts, cfg.tokens)
    texts = train.texts + (test.texts if test else [])
    ids = train.ids + (test.ids if test else [])
    tokens = encode(texts, vocabulary, where=ids)  # one width for both splits
    y, test_y = tokens[: len(train.texts)], (tokens[len(train.texts):] if test else None)

    def fit(train_waves: np.ndarray) -> AudioPreprocessor:
        return AudioPreprocessor.fit(train_waves, sample_rate=fmt.rate, n_mels=cfg.n_mels, window_ms=cfg.window_ms,
                                     hop_ms=cfg.hop_ms, resample=cfg.resample, normalize=cfg.normalize,
                                     classes=vocabulary)

    fitted = ctx.fitted if fmt.vocabulary is not None else None
    return RawData(modality="audio", x=train.waves, y=y, fit=(lambda _: fitted) if fitted else fit,
                   test_x=test.waves if test else None, test_y=test_y,
                   meta={"file": np.array(train.ids, dtype=str)},
                   test_meta={"file": np.array(test.ids if test else [], dtype=str)})


def read_utterance(path: Path, *, rate: int, samples: int) -> tuple[np.ndarray, list[str]]:
    """A WAV file as the model's input: mono at ``rate`` Hz, zero-padded to ``samples``; and the
    conversions made, in words (several channels mixed down, another rate resampled).

    Raises DataError naming the file when it cannot be read (empty, cut short, compressed: ``read_wav``),
    holds no sound at all, or lasts longer than the model takes (cutting it would cut words off).
    """
    audio, native = read_wav(path)
    notes = []
    if audio.shape[0] > 1:
        notes.append(f"mixed {audio.shape[0]} channels down to mono")
    wave = to_mono(audio)
    if native != rate:
        notes.append(f"resampled from {native} Hz to {rate} Hz")
        wave = resample(wave, native, rate)
    if len(wave) > samples:
        raise DataError(f"{path}: the recording lasts {len(wave) / rate:.2f} s, longer than the "
                        f"{samples / rate:g} s this model takes; cut it into shorter utterances")
    if not np.any(wave):
        raise DataError(f"{path}: the recording is silent (every sample is 0)")
    return np.pad(wave, (0, samples - len(wave))), notes
