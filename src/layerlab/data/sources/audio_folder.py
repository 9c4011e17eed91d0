"""Recordings in WAV files, labelled by their folder or by a pattern in their names.

    clips/yes/001.wav  clips/no/002.wav ...              label = folder; test split held out by load_data
    clips/train/yes/... clips/test/yes/...               the folder's own test split
    recordings/3_theo_12.wav with data.label_pattern: '(?P<label>\\d)_(?P<speaker>[a-z]+)_'

``fsdd`` is the Free Spoken Digit Dataset (``{digit}_{speaker}_{index}.wav``, 8 kHz): its official split
puts recording indices 0-4 of every speaker and digit in the test set; ``data.test_speaker`` instead
tests on one speaker's recordings and trains on the others' (leave-one-speaker-out).

Every recording becomes a mono waveform at one sample rate, cut or zero-padded to
``data.clip_seconds``; ``AudioPreprocessor`` turns those into standardised log-mel spectrograms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerlab.data.audio import load_waveforms, read_wav, wav_files
from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.config import AudioConfig
from layerlab.data.files import resolve_path
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import AudioFolderConfig
from layerlab.data.sources.csv_table import sort_classes
from layerlab.errors import DataError

FSDD_PATTERN = r"^(?P<label>\d)_(?P<speaker>[a-z]+)_(?P<index>\d+)\.wav$"
FSDD_TEST_INDICES = range(5)  # the dataset's own convention: recordings 0-4 of each speaker and digit
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"


@dataclass
class Recording:
    path: Path
    label: str
    speaker: str | None = None
    index: int | None = None


@SOURCES.register("audio-folder")
def load_audio_folder(cfg: AudioFolderConfig, ctx: SourceContext) -> RawData:
    if cfg.path is None:
        raise DataError("data.path: audio-folder needs the folder of WAV files (one subfolder per class, "
                        "or any layout with data.label_pattern)")
    root = resolve_path(cfg.path, ctx.settings)
    if not root.is_dir():
        raise DataError(f"data.path: {root} is not a folder; audio-folder reads a folder of WAV files")
    pattern = _compile(cfg.label_pattern) if cfg.label_pattern else None
    train_root, test_root = root, None
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_root, test_root = root / "train", root / "test"
    train = _recordings(train_root, pattern)
    test = _recordings(test_root, pattern) if test_root is not None else None
    if cfg.test_speaker is not None:
        if test is not None:
            raise DataError(f"data.test_speaker: {root} has its own train/ and test/ folders; leave one of them out")
        train, test = _leave_speaker_out(train, cfg.test_speaker, "data.label_pattern has no 'speaker' group")
    return _raw_data(cfg, ctx, train, test, root)


@SOURCES.register("fsdd")
def load_fsdd(cfg: AudioConfig, ctx: SourceContext) -> RawData:
    folder, train, test = fsdd_recordings(cfg, ctx)
    return _raw_data(cfg, ctx, train, test, folder)


def fsdd_recordings(cfg: AudioConfig, ctx: SourceContext) -> tuple[Path, list[Recording], list[Recording]]:
    """FSDD's folder and its training and test recordings: the official split, or ``data.test_speaker``'s."""
    folder = _fsdd_folder(cfg, ctx)
    recordings = _recordings(folder, re.compile(FSDD_PATTERN))
    if cfg.test_speaker is not None:
        train, test = _leave_speaker_out(recordings, cfg.test_speaker, "")
    else:
        train = [r for r in recordings if r.index not in FSDD_TEST_INDICES]
        test = [r for r in recordings if r.index in FSDD_TEST_INDICES]
    return folder, train, test


# ------------------------------------------------------------------------------------------- helpers
def _raw_data(cfg: AudioConfig, ctx: SourceContext, train: list[Recording], test: list[Recording] | None,
              root: Path) -> RawData:
    """Waveforms and class indices of the recordings, and the preprocessing to fit (or the run's)."""
    fitted = ctx.fitted if isinstance(ctx.fitted, AudioPreprocessor) else None
    if fitted is not None:  # a trained run: its classes, rate and clip length
        classes, rate, length = fitted.classes or [], fitted.sample_rate, fitted.samples
    else:
        classes = sort_classes(sorted({r.label for r in train}))
        rate = cfg.sample_rate or read_wav(train[0].path)[1]
        length = round(cfg.clip_seconds * rate)
    if len(classes) < 2 and ctx.target.kind == "class":
        raise DataError(f"{train[0].path.parent}: found only the class {classes}; classification needs at least two")

    def read(recordings: list[Recording]) -> tuple[np.ndarray, np.ndarray]:
        unknown = next((r for r in recordings if r.label not in classes), None)
        if unknown is not None:
            raise DataError(f"{unknown.path}: class '{unknown.label}' is not one of {', '.join(classes)}")
        waves = load_waveforms([r.path for r in recordings], sample_rate=rate, length=length,
                               resample_other_rates=cfg.resample)
        return waves, np.array([classes.index(r.label) for r in recordings], dtype=np.int64)

    def fit(train_waves: np.ndarray) -> AudioPreprocessor:
        return AudioPreprocessor.fit(train_waves, sample_rate=rate, n_mels=cfg.n_mels, window_ms=cfg.window_ms,
                                     hop_ms=cfg.hop_ms, resample=cfg.resample, normalize=cfg.normalize,
                                     classes=classes)

    x, y = read(train)
    test_x, test_y = read(test) if test else (None, None)
    def files(recordings: list[Recording]) -> dict[str, np.ndarray]:  # ids, and data.groups' file:REGEX
        return {"file": np.array([str(r.path.relative_to(root)) for r in recordings], dtype=str)}

    return RawData(modality="audio", x=x, y=y, fit=(lambda _: fitted) if fitted else fit, test_x=test_x,
                   test_y=test_y, meta=files(train), test_meta=files(test or []))


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise DataError(f"data.label_pattern: {pattern!r} is not a valid regular expression ({exc})") from None
    if compiled.groups == 0:
        raise DataError(f"data.label_pattern: {pattern!r} has no group; put the label in (?P<label>...) or (...)")
    return compiled


def _recordings(folder: Path, pattern: re.Pattern[str] | None) -> list[Recording]:
    """The WAV files under ``folder`` with their labels (from ``pattern``, else from their subfolder)."""
    files = wav_files(folder)
    if not files:
        raise DataError(f"{folder}: no WAV files (.wav) in this folder or below it")
    recordings = []
    for path in files:
        if pattern is None:
            if path.parent == folder:
                raise DataError(f"{path}: directly in {folder}; put recordings in one subfolder per class, "
                                "or set data.label_pattern to read the class from the file name")
            recordings.append(Recording(path, path.relative_to(folder).parts[0]))
            continue
        match = pattern.search(path.name)
        if match is None:
            raise DataError(f"{path}: the file name does not match data.label_pattern {pattern.pattern!r}")
        groups = match.groupdict()
        label = groups["label"] if "label" in groups else match.group(1)
        if not label:
            raise DataError(f"{path}: data.label_pattern {pattern.pattern!r} matches, but its label group is empty")
        index = groups.get("index")
        recordings.append(Recording(path, label, groups.get("speaker"), int(index) if index is not None else None))
    return recordings


def _leave_speaker_out(recordings: list[Recording], speaker: str, no_group: str) -> tuple[list[Recording], list[Recording]]:
    if any(r.speaker is None for r in recordings):
        raise DataError(f"data.test_speaker: the recordings have no speaker ({no_group})")
    speakers = sorted({r.speaker for r in recordings if r.speaker is not None})
    if speaker not in speakers:
        raise DataError(f"data.test_speaker: '{speaker}' is not a speaker of this data (speakers: {', '.join(speakers)})")
    return [r for r in recordings if r.speaker != speaker], [r for r in recordings if r.speaker == speaker]


def _fsdd_folder(cfg: AudioConfig, ctx: SourceContext) -> Path:
    """The folder of FSDD's WAV files: data.path, or ``fsdd/recordings`` in a data directory."""
    if cfg.path is not None:
        given = resolve_path(cfg.path, ctx.settings)
        for folder in (given / "recordings", given):
            if folder.is_dir() and wav_files(folder):
                return folder
        raise DataError(f"data.path: {given} holds no FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav)")
    looked = []
    for base in ctx.settings.search_path():
        for folder in (base / "fsdd" / "recordings", base / "free-spoken-digit-dataset" / "recordings"):
            if folder.is_dir():
                return folder
            looked.append(folder)
    raise DataError("the Free Spoken Digit Dataset was not found; looked in\n" + "\n".join(f"  {p}" for p in looked)
                    + f"\nTo get it: git clone {FSDD_URL} and set data.path to its folder (or put its "
                    "recordings/ folder under fsdd/ in a folder listed in LAYERLAB_DATA). It is not downloaded "
                    "automatically: no checksummed release archive is published.")
