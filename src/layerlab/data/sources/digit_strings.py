"""``digit-strings``: spoken digit strings ("three one four") made of FSDD's recordings, for speech recognition.

Each utterance takes one speaker's recordings of 1 to ``data.max_digits`` digits (uniform) and joins them
with pauses of silence drawn uniformly from ``data.pause_ms``, after a leading pause of the same kind.
Everything is drawn from ``data.utterance_seed``, so the utterances are the same on every machine. A digit
whose recording would run past ``data.clip_seconds`` ends the utterance there.

Test utterances are made only from the recordings of the data set's own test split (indices 0-4 of every
speaker and digit), or with ``data.test_speaker`` only from that speaker's recordings while the training
utterances come from the other speakers. Validation utterances (``data.val_fraction``) are cut from the
training utterances, so they reuse training recordings in new strings: the test split is the clean one.
"""

from __future__ import annotations

import numpy as np

from layerlab.data.audio import read_wav, resample, to_mono
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import DigitStringsConfig
from layerlab.data.sources.audio_folder import Recording, fsdd_recordings
from layerlab.data.speech import SpeechFormat, Utterances, speech_format, speech_raw_data
from layerlab.errors import DataError

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_RATE = 8000


@SOURCES.register("digit-strings")
def load_digit_strings(cfg: DigitStringsConfig, ctx: SourceContext) -> RawData:
    _, train, test = fsdd_recordings(cfg, ctx)
    if cfg.speakers:
        known = sorted({r.speaker or "" for r in train + test})
        unknown = [s for s in cfg.speakers if s not in known]
        if unknown:
            raise DataError(f"data.speakers: '{unknown[0]}' is not a speaker of FSDD (speakers: {', '.join(known)})")
        train, test = ([r for r in part if r.speaker in cfg.speakers] for part in (train, test))
        if not train or not test:
            raise DataError("data.speakers: with data.test_speaker, keep the held-out speaker among data.speakers "
                            "and at least one other")
    fmt = speech_format(cfg, ctx, FSDD_RATE)
    generator = np.random.default_rng([cfg.utterance_seed, 31])
    return speech_raw_data(cfg, ctx, fmt, join_utterances(train, cfg, fmt, cfg.utterances, generator),
                           join_utterances(test, cfg, fmt, cfg.test_utterances, generator))


def join_utterances(recordings: list[Recording], cfg: DigitStringsConfig, fmt: SpeechFormat, count: int,
                    generator: np.random.Generator) -> Utterances:
    """``count`` utterances, each one speaker's recordings joined with pauses, and their transcripts."""
    pool: dict[str, dict[str, list[tuple[np.ndarray, str]]]] = {}  # speaker -> digit -> (waveform, file name)
    for r in recordings:
        pool.setdefault(r.speaker or "", {}).setdefault(r.label, []).append((_read(r, fmt.rate), r.path.stem))
    low, high = (round(ms * fmt.rate / 1000) for ms in cfg.pause_ms)
    longest = max(len(wave) for takes in pool.values() for waves in takes.values() for wave, _ in waves)
    if high + longest > fmt.samples:
        raise DataError(f"data.clip_seconds: {fmt.samples / fmt.rate:g} s cannot hold the longest recording "
                        f"({longest / fmt.rate:.2f} s) after a pause of {cfg.pause_ms[1]:g} ms; raise it")
    speakers = sorted(pool)
    waves = np.zeros((count, fmt.samples), dtype=np.float32)
    texts, ids, spans = [], [], []
    for i in range(count):
        speaker = speakers[generator.integers(len(speakers))]
        digits = generator.integers(0, 10, size=generator.integers(cfg.min_digits, cfg.max_digits + 1))
        at, words, parts, where = int(generator.integers(low, high + 1)), [], [], []
        for digit in digits:
            takes = pool[speaker].get(str(digit), [])
            if not takes:
                continue
            wave, name = takes[int(generator.integers(len(takes)))]
            if at + len(wave) > fmt.samples:
                break
            waves[i, at : at + len(wave)] = wave
            where.append((DIGIT_WORDS[digit], at, at + len(wave)))
            at += len(wave) + int(generator.integers(low, high + 1))
            words.append(DIGIT_WORDS[digit])
            parts.append(name)
        texts.append(" ".join(words))
        ids.append("+".join(parts))
        spans.append(where)
    return Utterances(waves, texts, ids, spans)


def _read(recording: Recording, rate: int) -> np.ndarray:
    samples, native = read_wav(recording.path)
    return resample(to_mono(samples), native, rate)
