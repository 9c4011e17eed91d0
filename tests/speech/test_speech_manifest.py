"""The speech-manifest source: WAV files listed with transcripts in a CSV/TSV manifest, brought to one rate
and padded; a bad manifest or recording is refused naming the file and line."""

from __future__ import annotations

import shutil
import wave

import numpy as np
import pytest

from layerlab.data import load_data
from layerlab.errors import DataError
from layerlab.recipe import load_recipe

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _load(manifest, **data):
    recipe = load_recipe({"data": {"name": "speech-manifest", "path": str(manifest), "clip_seconds": 2.5, "val_fraction": 0,
                                   **data}, "task": {"name": "speech_recognition"}, "model": {"name": "acoustic"}})
    return load_data(recipe.data, task="speech_recognition", seed=0)


@pytest.fixture
def clips(shared_data, tmp_path):
    """20 FSDD recordings copied into clips/, the first one also as a stereo 16 kHz file."""
    folder = tmp_path / "clips"
    folder.mkdir()
    names = [f"{d}_theo_{i}" for d in range(10) for i in (7, 8)]
    for name in names:
        shutil.copy(shared_data / "fsdd" / "recordings" / f"{name}.wav", folder / f"{name}.wav")
    with wave.open(str(folder / f"{names[0]}.wav")) as handle:
        mono = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    with wave.open(str(folder / "stereo16k.wav"), "wb") as handle:
        handle.setnchannels(2), handle.setsampwidth(2), handle.setframerate(16000)
        handle.writeframes(np.repeat(np.repeat(mono, 2), 2).tobytes())  # each sample twice in time, both channels
    return tmp_path, names


def test_a_csv_manifest_with_a_test_manifest(clips):
    root, names = clips
    lines = [f"clips/{n}.wav,{WORDS[int(n[0])].upper()}" for n in names]
    train, test = lines[1::2], lines[0:8:2]  # every digit in training; 0-3 in testing as well
    (root / "train.csv").write_text("path,transcript\n" + "\n".join([lines[0], *train]) + "\nclips/stereo16k.wav,Zero\n")
    (root / "test.csv").write_text("path,transcript\n" + "\n".join(test) + "\n")
    data = _load(root / "train.csv", test_manifest=str(root / "test.csv"))
    assert len(data.train) == 12 and len(data.test) == 4
    vocabulary = data.info.class_names
    assert vocabulary[:2] == ["<blank>", " "] and all(len(t) == 1 for t in vocabulary[1:])
    texts = ["".join(vocabulary[i] for i in row if i) for row in data.train.y.tolist()]
    assert texts[0] == "zero" and texts[-1] == "zero"  # lower-cased
    assert data.preprocessor.sample_rate == 8000 and data.preprocessor.samples == 20000
    # the stereo 16 kHz copy, mixed down and resampled, gives nearly the features of the original
    assert float((data.train.x[-1] - data.train.x[0]).abs().mean()) < 0.2 * float(data.train.x[0].abs().mean())


def test_a_common_voice_style_tsv_without_a_test_manifest(clips):
    root, names = clips
    rows = [f"client\tclips/{n}.wav\t{WORDS[int(n[0])]}\t0" for n in names]
    (root / "train.tsv").write_text("client_id\tpath\tsentence\tup_votes\n" + "\n".join(rows) + "\n")
    data = _load(root / "train.tsv", tokens="words", test_fraction=0.25)
    assert len(data.train) + len(data.test) == 20 and len(data.test) == 5
    assert data.info.class_names == ["<blank>", *sorted(WORDS)]


def test_bad_manifests_and_recordings_are_named(clips):
    root, names = clips
    (root / "cols.csv").write_text("file,label\nclips/a.wav,one\n")
    with pytest.raises(DataError, match=r"cols.csv: line 1 needs a path column .* transcript column"):
        _load(root / "cols.csv")
    (root / "missing.csv").write_text(f"path,text\nclips/{names[0]}.wav,zero\nclips/nothere.wav,one\n")
    with pytest.raises(DataError, match=r"missing.csv: line 3: .*nothere.wav is not a file"):
        _load(root / "missing.csv")
    (root / "long.csv").write_text(f"clips/{names[0]}.wav,zero\n")
    with pytest.raises(DataError, match=rf"{names[0]}.wav: the recording lasts 0\.\d+ s, longer than data.clip_seconds"):
        _load(root / "long.csv", clip_seconds=0.1)
    (root / "train.csv").write_text(f"clips/{names[0]}.wav,zero\nclips/{names[2]}.wav,one\n")
    (root / "test.csv").write_text(f"clips/{names[2]}.wav,one!\n")
    with pytest.raises(DataError, match=r"one!.* holds '!', which is not in the vocabulary"):
        _load(root / "train.csv", test_manifest=str(root / "test.csv"))
    (root / "blank.csv").write_text(f"clips/{names[0]}.wav,  \n")
    with pytest.raises(DataError, match="the transcript is empty"):
        _load(root / "blank.csv")
