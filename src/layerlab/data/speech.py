"""What the speech sources (digit-strings, speech-manifest) share: their options, and utterances with
transcripts turned into ``RawData`` for ``speech_recognition``.

Every utterance is a mono waveform at one rate, zero-padded to ``data.clip_seconds`` (the padding is
silence, which the model learns to read as blanks); its transcript becomes a row of token ids, 0-padded
(``layerlab.data.transcripts``). The vocabulary is fitted on the training transcripts only and kept as
the preprocessing's ``classes``, so a run read back decodes with it.
"""

from __future__ import annotations

import io
import wave as wav_file
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerlab.data.audio import LogMel, read_wav, resample, to_mono
from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.config import SpeechConfig, Tokens
from layerlab.data.source import RawData, SourceContext
from layerlab.data.transcripts import build_vocabulary, encode
from layerlab.errors import DataError

SYNTHESIS_TASK = "speech_synthesis"  # the task that needs aligned targets (words, pauses and their frames)
PAUSE = "<pause>"


@dataclass
class Utterances:
    waves: np.ndarray  # (N, samples) float32, mono, at the data's rate, zero-padded
    texts: list[str]  # the transcripts
    ids: list[str]  # where each comes from, for messages and reports
    # where each word lies, (word, first sample, end sample), when known (digit-strings): speech synthesis
    # learns each word's duration from them
    spans: list[list[tuple[str, int, int]]] | None = None


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
    """Waveforms and their targets, and the preprocessing to fit (or the run's). The targets are 0-padded
    token rows (N, L), or for speech synthesis (words and pauses, frames) pairs (N, S, 2)."""
    if not train.texts:
        raise DataError(f"{cfg.name}: no training utterances")
    synthesis = ctx.task == SYNTHESIS_TASK
    vocabulary = fmt.vocabulary or _vocabulary(train.texts, cfg.tokens, synthesis)
    both = [train, *([test] if test else [])]
    if synthesis:
        hop = LogMel(sample_rate=fmt.rate, n_mels=cfg.n_mels, window_ms=cfg.window_ms, hop_ms=cfg.hop_ms).hop_length
        targets = aligned_targets(both, vocabulary, hop=hop, samples=fmt.samples, name=cfg.name)
    else:
        targets = encode([t for u in both for t in u.texts], vocabulary, where=[i for u in both for i in u.ids])
    y, test_y = targets[: len(train.texts)], (targets[len(train.texts):] if test else None)

    def fit(train_waves: np.ndarray) -> AudioPreprocessor:
        return AudioPreprocessor.fit(train_waves, sample_rate=fmt.rate, n_mels=cfg.n_mels, window_ms=cfg.window_ms,
                                     hop_ms=cfg.hop_ms, resample=cfg.resample, normalize=cfg.normalize,
                                     classes=vocabulary)

    fitted = ctx.fitted if fmt.vocabulary is not None else None
    return RawData(modality="audio", x=train.waves, y=y, fit=(lambda _: fitted) if fitted else fit,
                   test_x=test.waves if test else None, test_y=test_y,
                   meta={"file": np.array(train.ids, dtype=str)},
                   test_meta={"file": np.array(test.ids if test else [], dtype=str)})


def _vocabulary(texts: list[str], tokens: Tokens, synthesis: bool) -> list[str]:
    if not synthesis:
        return build_vocabulary(texts, tokens)
    blank, *words = build_vocabulary(texts, "words")
    return [blank, PAUSE, *words]


def aligned_targets(parts: list[Utterances], vocabulary: list[str], *, hop: int, samples: int, name: str) -> np.ndarray:
    """(N, S, 2) int64: each utterance as pause, word, pause, ..., word, pause with each one's frames
    (summing to the spectrogram's frames), 0-padded. Raises DataError for utterances without word spans."""
    if any(u.spans is None for u in parts):
        raise DataError(f"task.name: speech_synthesis learns each word's duration from where it lies in the "
                        f"recording; {name} does not say (use data.name: digit-strings)")
    frames = 1 + samples // hop
    rows = []
    for spans in (s for u in parts for s in (u.spans or [])):
        row, done = [], 0
        for word, start, end in [*spans, (PAUSE, frames * hop, frames * hop)]:
            row.append((vocabulary.index(PAUSE), min(frames, round(start / hop)) - done))  # the pause before
            done += row[-1][1]
            if word != PAUSE:
                row.append((vocabulary.index(word), min(frames, round(end / hop)) - done))
                done += row[-1][1]
        rows.append(row)
    out = np.zeros((len(rows), max(len(r) for r in rows), 2), dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """Mono float samples in [-1, 1] as the bytes of a 16-bit PCM WAV file (clipped to [-1, 1])."""
    pcm = (np.clip(samples, -1, 1) * 32767).round().astype("<i2")
    buffer = io.BytesIO()
    with wav_file.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return buffer.getvalue()


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
