"""``speech-manifest``: your WAV recordings with transcripts, listed in a CSV or TSV manifest.

    path,transcript                      path<TAB>sentence<TAB>...    (Common Voice's columns: path, sentence)
    clips/0001.wav,three one four        clips/0002.wav<TAB>hello world

``data.path`` is the manifest; the recordings' paths are relative to its folder (or absolute). The path
column is ``path`` (or ``file``, ``filename``, ``wav``), the transcript column ``transcript`` (or ``text``,
``sentence``); a file without a header has the two columns in that order. A ``.tsv`` manifest is
tab-separated, any other comma-separated. Every recording is mixed down to mono and resampled to
``data.sample_rate`` (default: the first recording's rate; ``data.resample: false`` refuses other rates)
and zero-padded to ``data.clip_seconds``; a longer one is refused, named. ``data.test_manifest`` lists
the test utterances; without it ``data.test_fraction`` of the utterances are held out (seeded).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from layerlab.data.audio import read_wav, resample, to_mono
from layerlab.data.files import resolve_path
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import SpeechManifestConfig
from layerlab.data.speech import SpeechFormat, Utterances, place, speech_format, speech_raw_data
from layerlab.errors import DataError

PATH_COLUMNS = ("path", "file", "filename", "wav")
TEXT_COLUMNS = ("transcript", "text", "sentence")


@SOURCES.register("speech-manifest")
def load_speech_manifest(cfg: SpeechManifestConfig, ctx: SourceContext) -> RawData:
    if cfg.path is None:
        raise DataError("data.path: speech-manifest needs the manifest, a CSV or TSV file of path,transcript")
    train_rows = read_manifest(resolve_path(cfg.path, ctx.settings), "data.path")
    test_rows = read_manifest(resolve_path(cfg.test_manifest, ctx.settings), "data.test_manifest") if cfg.test_manifest else None
    fmt = speech_format(cfg, ctx, read_wav(train_rows[0][0])[1])
    test = _utterances(test_rows, fmt, cfg) if test_rows else None
    return speech_raw_data(cfg, ctx, fmt, _utterances(train_rows, fmt, cfg), test)


def read_manifest(manifest: Path, key: str) -> list[tuple[Path, str]]:
    """(recording, transcript) pairs of a manifest. Raises DataError naming the file and line."""
    if not manifest.is_file():
        raise DataError(f"{key}: {manifest} is not a file; speech-manifest reads a CSV or TSV file of path,transcript")
    try:
        lines = manifest.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{manifest}: cannot read the manifest ({exc})") from None
    rows = list(csv.reader(lines, delimiter="\t" if manifest.suffix.lower() == ".tsv" else ","))
    if not rows:
        raise DataError(f"{manifest}: the manifest is empty")
    header = [c.strip().lower() for c in rows[0]]
    path_at = next((header.index(c) for c in PATH_COLUMNS if c in header), None)
    text_at = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
    if path_at is None or text_at is None:
        if any(c in header for c in (*PATH_COLUMNS, *TEXT_COLUMNS)):
            raise DataError(f"{manifest}: line 1 needs a path column ({', '.join(PATH_COLUMNS)}) and a transcript "
                            f"column ({', '.join(TEXT_COLUMNS)}); it has {', '.join(header)}")
        path_at, text_at, start = 0, 1, 0  # no header: path, transcript
    else:
        start = 1
    pairs = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(c.strip() for c in row):
            continue
        if len(row) <= max(path_at, text_at):
            raise DataError(f"{manifest}: line {number} has {len(row)} columns; expected a path and a transcript")
        recording = Path(row[path_at].strip())
        recording = recording if recording.is_absolute() else manifest.parent / recording
        if not recording.is_file():
            raise DataError(f"{manifest}: line {number}: {recording} is not a file")
        pairs.append((recording, row[text_at]))
    if not pairs:
        raise DataError(f"{manifest}: the manifest lists no recordings")
    return pairs


def _utterances(rows: list[tuple[Path, str]], fmt: SpeechFormat, cfg: SpeechManifestConfig) -> Utterances:
    waves = np.zeros((len(rows), fmt.samples), dtype=np.float32)
    for i, (path, _) in enumerate(rows):
        samples, rate = read_wav(path)
        if rate != fmt.rate and not cfg.resample:
            raise DataError(f"{path}: recorded at {rate} Hz, but this data is at {fmt.rate} Hz; set "
                            "data.resample: true to resample such files, or convert them")
        waves[i] = place(resample(to_mono(samples), rate, fmt.rate), fmt.samples, str(path), fmt.rate)
    return Utterances(waves, [text for _, text in rows], [str(path) for path, _ in rows])
