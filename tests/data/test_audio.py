"""Audio: WAV files of every bit depth, bad files, resampling, log-mel against a float64 reference,
SpecAugment, and the fsdd and audio-folder sources."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.data.audio import LOG_FLOOR, LogMel, hz_to_mel, mel_to_hz, read_wav, resample
from layerlab.data.audio_preprocessor import AudioPreprocessor
from layerlab.data.spec_augment import SpecAugment
from layerlab.errors import DataError
from layerlab.recipe import load_recipe

RATE = 8000


def write_wav(path: Path, samples: np.ndarray, *, rate: int = RATE, width: int = 2) -> Path:
    """Float samples (channels, n) in [-1, 1] as integer PCM of ``width`` bytes, written with ``wave``."""
    samples = np.atleast_2d(samples)
    scale = 2.0 ** (8 * width - 1)
    ints = np.clip(np.round(samples.T * scale), -scale, scale - 1).astype(np.int64)  # (n, channels)
    if width == 1:
        data = (ints + 128).astype(np.uint8).tobytes()
    else:
        data = b"".join(int(v).to_bytes(width, "little", signed=True) for v in ints.ravel())
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(samples.shape[0])
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(data)
    return path


def tone(freq: float, seconds: float = 0.5, rate: int = RATE, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# ------------------------------------------------------------------------------------------ reading
@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_bit_depth_reads_back_the_written_values(tmp_path, width):
    step = 2.0 ** (1 - 8 * width)  # one quantisation step, as a fraction of full scale
    left = np.array([0.0, 0.5, -0.5, -1.0, 1 - step, 0.25])
    right = np.roll(left, 2)
    samples, rate = read_wav(write_wav(tmp_path / f"{width}.wav", np.stack([left, right]), width=width))
    assert rate == RATE and samples.dtype == np.float32 and samples.shape == (2, 6)
    np.testing.assert_allclose(samples, np.stack([left, right]), atol=1e-7)


def write_riff(path: Path, fmt_chunk: bytes, data: bytes) -> Path:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_extensible_24_bit_and_float_files_are_read_too(tmp_path):
    values = [-8388608, -1, 0, 4194304, 8388607]  # 24-bit: -1, ..., 0.5, just under 1
    data = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    guid_pcm = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHH", 0xFFFE, 1, RATE, RATE * 3, 3, 24) + struct.pack("<HHI", 22, 24, 4) + guid_pcm
    samples, _ = read_wav(write_riff(tmp_path / "ext.wav", fmt, data))
    np.testing.assert_allclose(samples[0], np.array(values) / 2**23, atol=1e-7)

    floats = np.array([0.25, -0.75, 1.0], dtype="<f4")
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 16000 * 4, 4, 32)
    samples, rate = read_wav(write_riff(tmp_path / "float.wav", fmt, floats.tobytes()))
    assert rate == 16000
    np.testing.assert_array_equal(samples[0], floats)


def test_unreadable_files_give_an_error_naming_the_file(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(DataError, match=r"garbage\.wav: not a readable WAV file"):
        read_wav(garbage)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.wav: not a readable WAV file"):
        read_wav(empty)
    whole = write_wav(tmp_path / "whole.wav", tone(440)).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.wav: the WAV file is cut short \(1989 of the 4000 frames"):
        read_wav(cut)
    with pytest.raises(DataError, match=r"missing\.wav: cannot read"):
        read_wav(tmp_path / "missing.wav")
    fmt = struct.pack("<HHIIHH", 0x0055, 1, RATE, RATE, 1, 0)  # MP3 inside a WAV container
    with pytest.raises(DataError, match=r"mp3\.wav: WAV encoding 0x0055 is not supported"):
        read_wav(write_riff(tmp_path / "mp3.wav", fmt, b"\x00" * 64))


def test_resampling_keeps_a_tone_at_its_frequency():
    wave_16k = tone(1000.0, seconds=1.0, rate=16000)
    wave_8k = resample(wave_16k, 16000, 8000)
    assert wave_8k.shape == (8000,) and wave_8k.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(wave_8k * np.hanning(len(wave_8k))))
    assert np.argmax(spectrum) * 8000 / len(wave_8k) == pytest.approx(1000.0, abs=2)
    # a tone above the new Nyquist frequency is filtered out, not folded back as an alias
    assert np.abs(resample(tone(6000.0, seconds=1.0, rate=16000), 16000, 8000)[200:-200]).max() < 0.01


# ------------------------------------------------------------------------------------------ log-mel
def reference_logmel(wave_: np.ndarray, rate: int, n_fft: int, hop: int, n_mels: int) -> np.ndarray:
    """float64 numpy log-mel written independently of the code under test: loops, no shared helpers."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    padded = np.pad(wave_.astype(np.float64), n_fft // 2, mode="reflect")
    frames = 1 + len(wave_) // hop
    power = np.stack([np.abs(np.fft.rfft(padded[i * hop : i * hop + n_fft] * window)) ** 2 for i in range(frames)])
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    points = [hz(m) for m in np.linspace(mel(0), mel(rate / 2), n_mels + 2)]
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    bank = np.zeros((len(freqs), n_mels))
    for m in range(n_mels):
        lo, mid, hi = points[m], points[m + 1], points[m + 2]
        for k, f in enumerate(freqs):
            if lo < f < hi:
                bank[k, m] = (f - lo) / (mid - lo) if f <= mid else (hi - f) / (hi - mid)
    return np.log(power @ bank + LOG_FLOOR).T  # (n_mels, frames)


def test_logmel_matches_a_float64_reference_and_peaks_in_the_tone_band():
    n_mels, freq = 40, 1000.0
    logmel = LogMel(sample_rate=RATE, n_mels=n_mels, window_ms=32, hop_ms=16)
    assert (logmel.n_fft, logmel.hop_length) == (256, 128)
    wave_ = tone(freq, seconds=0.5)
    ours = logmel(torch.from_numpy(wave_)[None])[0].numpy()  # (n_mels, frames)
    reference = reference_logmel(wave_, RATE, 256, 128, n_mels)
    assert ours.shape == reference.shape == (n_mels, 1 + 4000 // 128)
    np.testing.assert_allclose(ours, reference, atol=2e-3, rtol=1e-4)
    centres = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(RATE / 2), n_mels + 2))[1:-1]
    expected = int(np.argmin(np.abs(centres - freq)))
    assert (ours[:, 2:-2].argmax(axis=0) == expected).all()  # every frame away from the edges


def test_audio_preprocessor_standardises_each_band_and_survives_json(tmp_path):
    rng = np.random.default_rng(0)
    train = (rng.standard_normal((12, 4000)) * np.linspace(0.01, 0.5, 12)[:, None]).astype(np.float32)
    fitted = AudioPreprocessor.fit(train, sample_rate=RATE, n_mels=16, window_ms=32, hop_ms=16, resample=True,
                                   normalize=True, classes=["a", "b"])
    x = fitted.transform(train)
    assert x.shape == (12, 1, 16, 32) == (12, *fitted.input_shape)
    np.testing.assert_allclose(x.mean(dim=(0, 1, 3)).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(dim=(0, 1, 3), unbiased=False).numpy(), 1, atol=1e-3)
    again = AudioPreprocessor.from_dict(fitted.to_dict())
    assert torch.equal(again.transform(train), x)
    with pytest.raises(DataError, match=r"expects \(4000,\) samples \(0.5 s at 8000 Hz\)"):
        fitted.transform(train[:, :100])


# ------------------------------------------------------------------------------------------ SpecAugment
def bands(row: torch.Tensor) -> list[int]:
    """The widths of the runs of True in a 1-d bool tensor."""
    widths, run = [], 0
    for value in row.tolist() + [False]:
        if value:
            run += 1
        elif run:
            widths.append(run)
            run = 0
    return widths


def test_spec_augment_masks_bands_of_the_requested_widths():
    x = torch.ones(400, 1, 32, 50)
    generator = torch.Generator().manual_seed(0)
    out = SpecAugment(freq_mask=6, time_mask=10, freq_masks=1, time_masks=1)(x, generator)
    assert torch.equal(x, torch.ones_like(x))  # the input is not changed
    freq_rows = (out == 0).all(dim=3)[:, 0]  # (B, 32): a mel band masked over every frame
    time_cols = (out == 0).all(dim=2)[:, 0]  # (B, 50): a frame masked in every band
    freq_widths = [sum(bands(row)) for row in freq_rows]
    time_widths = [sum(bands(col)) for col in time_cols]
    assert all(len(bands(row)) <= 1 for row in freq_rows) and all(len(bands(col)) <= 1 for col in time_cols)
    assert max(freq_widths) == 6 and min(freq_widths) == 0 and max(time_widths) == 10 and min(time_widths) == 0
    # everything outside the masked bands is untouched
    kept = ~(freq_rows[:, :, None] | time_cols[:, None, :])
    assert torch.equal(out[:, 0][kept], x[:, 0][kept]) and (out[:, 0][~kept] == 0).all()
    # two masks per example: up to two bands each, together never wider than twice the widest
    out = SpecAugment(freq_mask=4, freq_masks=2)(x, generator)
    rows = (out == 0).all(dim=3)[:, 0]
    assert max(sum(bands(r)) for r in rows) <= 8 and max(len(bands(r)) for r in rows) == 2
    assert not (out == 0).all(dim=2).any()  # no time masks were asked for


def test_spec_augment_through_the_recipe_is_refused_for_images():
    recipe = load_recipe({"data": {"name": "digits", "augment": {"time_mask": 3}}})
    with pytest.raises(DataError, match=r"data.augment.time_mask: SpecAugment masks log-mel spectrograms"):
        load_data(recipe.data, task="classification", seed=0)


# ------------------------------------------------------------------------------------------ sources
def tone_folder(root: Path, *, per_class: int = 6, flat: bool = False) -> Path:
    """'low' (300 Hz) and 'high' (1500 Hz) tones, in class subfolders or flat as <class>_<speaker>_<i>.wav."""
    rng = np.random.default_rng(1)
    for label, freq in (("low", 300.0), ("high", 1500.0)):
        for i in range(per_class):
            wave_ = tone(freq * (1 + 0.03 * rng.standard_normal()), seconds=0.3 + 0.1 * (i % 3))
            speaker = "ann" if i % 2 else "bob"
            name = f"{label}_{speaker}_{i}.wav" if flat else f"{label}/{speaker}_{i}.wav"
            write_wav(root / name, wave_ + 0.01 * rng.standard_normal(len(wave_)).astype(np.float32))
    return root


def test_audio_folder_labels_by_folder_or_pattern_and_pads_to_the_clip(tmp_path):
    folder = tone_folder(tmp_path / "clips")
    recipe = load_recipe({"data": {"name": "audio-folder", "path": str(folder), "clip_seconds": 0.5, "n_mels": 20,
                                   "test_fraction": 0.25, "val_fraction": 0}})
    data = load_data(recipe.data, task="classification", seed=0)
    assert data.info.class_names == ["high", "low"] and data.info.modality == "audio"
    assert data.info.input_shape == (1, 20, 1 + 4000 // 128) and len(data.train) + len(data.test) == 12

    flat = tone_folder(tmp_path / "flat", flat=True)
    recipe = load_recipe({"data": {"name": "audio-folder", "path": str(flat), "clip_seconds": 0.5, "n_mels": 20,
                                   "label_pattern": r"^(?P<label>[a-z]+)_(?P<speaker>[a-z]+)_", "test_speaker": "ann"}})
    data = load_data(recipe.data, task="classification", seed=0)
    assert data.info.class_names == ["high", "low"] and len(data.test) == 6  # every recording of ann, none of bob


def test_audio_folder_errors_name_the_file(tmp_path):
    folder = tone_folder(tmp_path / "clips")
    (folder / "low" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    recipe = load_recipe({"data": {"name": "audio-folder", "path": str(folder)}})
    with pytest.raises(DataError, match=r"low/broken\.wav: not a readable WAV file"):
        load_data(recipe.data, task="classification", seed=0)

    flat = tone_folder(tmp_path / "flat", flat=True)
    write_wav(flat / "README.wav", tone(100))
    recipe = load_recipe({"data": {"name": "audio-folder", "path": str(flat), "label_pattern": r"^([a-z]+)_[a-z]+_\d"}})
    with pytest.raises(DataError, match=r"README\.wav: the file name does not match data.label_pattern"):
        load_data(recipe.data, task="classification", seed=0)
    recipe = load_recipe({"data": {"name": "audio-folder", "path": str(flat), "label_pattern": "(unclosed"}})
    with pytest.raises(DataError, match=r"data.label_pattern: '\(unclosed' is not a valid regular expression"):
        load_data(recipe.data, task="classification", seed=0)


def test_a_file_at_another_rate_is_resampled_or_refused(tmp_path):
    folder = tone_folder(tmp_path / "clips")
    write_wav(folder / "high" / "studio.wav", tone(1500.0, seconds=0.4, rate=16000), rate=16000)
    base = {"name": "audio-folder", "path": str(folder), "sample_rate": 8000, "clip_seconds": 0.5,
            "test_fraction": 0.0, "val_fraction": 0, "normalize": False}
    data = load_data(load_recipe({"data": base}).data, task="classification", seed=0)
    assert len(data.train) == 13
    with pytest.raises(DataError, match=r"studio\.wav: recorded at 16000 Hz, but this data is at 8000 Hz; set "
                                        r"data.resample: true"):
        load_data(load_recipe({"data": {**base, "resample": False}}).data, task="classification", seed=0)


def test_fsdd_official_split_and_leave_one_speaker_out(shared_data):
    data = load_data(load_recipe({"data": {"name": "fsdd", "val_fraction": 0}}).data, task="classification", seed=0)
    assert (len(data.train), len(data.test)) == (2700, 300)  # indices 0-4 of 6 speakers x 10 digits
    assert data.info.class_names == [str(d) for d in range(10)] and data.info.input_shape == (1, 40, 63)
    assert torch.bincount(data.test.y).tolist() == [30] * 10
    test_files = [Path(f).name for f in data.test.ids] if data.test.ids is not None else []
    assert test_files and all(int(name.split("_")[2].split(".")[0]) < 5 for name in test_files)

    recipe = load_recipe({"data": {"name": "fsdd", "test_speaker": "theo", "val_fraction": 0}})
    data = load_data(recipe.data, task="classification", seed=0)
    assert (len(data.train), len(data.test)) == (2500, 500)
    assert all("_theo_" in f for f in data.test.ids) and not any("_theo_" in f for f in data.train.ids)
    recipe = load_recipe({"data": {"name": "fsdd", "test_speaker": "tho"}})
    with pytest.raises(DataError, match=r"'tho' is not a speaker of this data \(speakers: george, jackson, lucas, "
                                        r"nicolas, theo, yweweler\)"):
        load_data(recipe.data, task="classification", seed=0)
