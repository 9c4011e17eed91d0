"""Audio: WAV files to waveforms, waveforms to log-mel spectrograms.

    samples, rate = read_wav("0_george_0.wav")       # float32 (channels, n) in [-1, 1], Hz
    wave = resample(to_mono(samples), rate, 16000)    # float32 (n',)
    features = LogMel(sample_rate=16000, n_mels=40)(torch.from_numpy(batch))  # (B, n) -> (B, n_mels, frames)

WAV files are read with the standard library's ``wave`` module (8-bit unsigned and 16/24/32-bit signed
PCM); the WAVE_FORMAT_EXTENSIBLE header of many 24/32-bit files and 32-bit float files, which ``wave``
refuses before Python 3.12, are read from their RIFF chunks here. Resampling is polyphase (SciPy's
``resample_poly``: an anti-aliasing FIR filter, then exact rational up/down-sampling). torchaudio is
not used: the STFT is ``torch.stft`` and the mel filterbank is written below (HTK mel scale, as
torchaudio's default ``MelSpectrogram``).
"""

from __future__ import annotations

import math
import struct
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from layerlab.errors import DataError

WAV_SUFFIXES = frozenset({".wav", ".wave"})
LOG_FLOOR = 1e-6  # added to mel power before the log, so silence gives log(1e-6) ≈ -13.8, not -inf

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE


def wav_files(folder: Path) -> list[Path]:
    """The WAV files under ``folder`` (recursively, hidden ones skipped), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in WAV_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


# ------------------------------------------------------------------------------------------ reading
def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """The samples of a WAV file as float32 (channels, frames) in [-1, 1], and its sample rate in Hz.

    Raises DataError naming the file when it is missing, is not a WAV file, is cut short, has no
    samples, or holds an encoding other than PCM (8/16/24/32-bit) or 32/64-bit float.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.getnframes()
            data = handle.readframes(frames)
        fmt = _PCM
    except wave.Error as exc:
        if not str(exc).startswith("unknown format"):
            raise DataError(f"{path}: not a readable WAV file ({exc})") from None
        fmt, channels, width, rate, frames, data = _read_riff(path)  # extensible or float: see the docstring
    except (EOFError, struct.error) as exc:
        raise DataError(f"{path}: not a readable WAV file: {_cut_short(path, exc)}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if channels < 1 or rate < 1:
        raise DataError(f"{path}: not a readable WAV file ({channels} channels at {rate} Hz)")
    usable = len(data) // (width * channels)
    if usable == 0:
        raise DataError(f"{path}: the WAV file has no samples")
    if usable < frames:
        raise DataError(f"{path}: the WAV file is cut short ({usable} of the {frames} frames its header announces)")
    samples = _decode(data[: usable * width * channels], width, fmt, path)
    return samples.reshape(usable, channels).T.copy(), rate  # interleaved (frames, channels) -> (channels, frames)


def _cut_short(path: Path, exc: BaseException) -> str:
    """What a file that ends too early lacks: EOFError and struct.error often come without a message."""
    try:
        size = f"{path.stat().st_size} bytes"
    except OSError:
        size = "too few bytes"
    detail = f" ({exc})" if str(exc) else ""
    return (f"it ends after {size}, inside its header, but a WAV file starts with a RIFF/WAVE header of at "
            f"least 44 bytes (the 'fmt ' chunk, then the 'data' chunk){detail}")


def _decode(data: bytes, width: int, fmt: int, path: Path) -> np.ndarray:
    """Little-endian samples to float32 in [-1, 1]."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if fmt == _FLOAT and width in (4, 8):
        return np.frombuffer(data, dtype=f"<f{width}").astype(np.float32)
    if fmt == _PCM and width == 1:  # 8-bit WAV is unsigned, centred on 128
        return (raw.astype(np.float32) - 128.0) / 128.0
    if fmt == _PCM and width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 2.0**15
    if fmt == _PCM and width == 3:  # place the 3 bytes in the top of an int32: the sign comes for free
        padded = np.zeros((len(raw) // 3, 4), dtype=np.uint8)
        padded[:, 1:] = raw.reshape(-1, 3)
        return padded.view("<i4").ravel().astype(np.float32) / 2.0**31
    if fmt == _PCM and width == 4:
        return (np.frombuffer(data, dtype="<i4").astype(np.float64) / 2.0**31).astype(np.float32)
    kind = "float" if fmt == _FLOAT else "PCM"
    raise DataError(f"{path}: {8 * width}-bit {kind} WAV files are not supported (8/16/24/32-bit PCM, 32/64-bit float)")


def _read_riff(path: Path) -> tuple[int, int, int, int, int, bytes]:
    """(format, channels, sample width, rate, frames, data) from the RIFF chunks of a WAV file."""
    blob = path.read_bytes()
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise DataError(f"{path}: not a readable WAV file (no RIFF/WAVE header)")
    fmt_chunk = data = None
    pos = 12
    while pos + 8 <= len(blob):
        name, size = blob[pos : pos + 4], struct.unpack("<I", blob[pos + 4 : pos + 8])[0]
        body = blob[pos + 8 : pos + 8 + size]
        if name == b"fmt ":
            fmt_chunk = body
        elif name == b"data":
            data = body
        pos += 8 + size + (size & 1)  # chunks are padded to an even length
    if fmt_chunk is None or len(fmt_chunk) < 16 or data is None:
        raise DataError(f"{path}: not a readable WAV file (no 'fmt ' or 'data' chunk)")
    fmt, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt_chunk[:16])
    if fmt == _EXTENSIBLE and len(fmt_chunk) >= 26:
        fmt = struct.unpack("<H", fmt_chunk[24:26])[0]  # the first two bytes of the SubFormat GUID
    if fmt not in (_PCM, _FLOAT):
        raise DataError(f"{path}: WAV encoding {fmt:#06x} is not supported (PCM or float only; compressed audio "
                        "must be converted first)")
    width = (bits + 7) // 8
    if channels < 1 or width < 1:
        raise DataError(f"{path}: not a readable WAV file ({channels} channels of {bits} bits)")
    return fmt, channels, width, rate, len(data) // (width * channels), data


# ----------------------------------------------------------------------------- shaping waveforms
def to_mono(samples: np.ndarray) -> np.ndarray:
    """(channels, n) -> (n,): the mean of the channels."""
    return samples[0] if samples.shape[0] == 1 else samples.mean(axis=0, dtype=np.float32)


def resample(wave_: np.ndarray, rate: int, target: int) -> np.ndarray:
    """A mono waveform at ``rate`` Hz resampled to ``target`` Hz (polyphase, anti-aliased), float32."""
    if rate == target:
        return wave_
    from scipy.signal import resample_poly

    ratio = Fraction(target, rate)
    return resample_poly(wave_, ratio.numerator, ratio.denominator).astype(np.float32)


def fit_length(wave_: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples, zero-padded at the end when the waveform is shorter."""
    if len(wave_) >= length:
        return wave_[:length]
    return np.pad(wave_, (0, length - len(wave_)))


# ------------------------------------------------------------------------------------- log-mel
def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters (n_freqs, n_mels), float32: ``power (…, n_freqs) @ fb`` gives mel power.

    ``n_freqs`` is ``n_fft // 2 + 1`` (the bins of a one-sided STFT from 0 Hz to Nyquist). Filter m
    rises from the (m-1)-th to the m-th of ``n_mels + 2`` points equally spaced on the mel scale and
    falls to the (m+1)-th; the triangles are evaluated at each bin's exact frequency, as torchaudio
    does, so narrow low filters still get weight. Peak height 1 (no area normalisation).
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= {sample_rate / 2} Hz; got {f_min}, {f_max}")
    bins = np.linspace(0.0, sample_rate / 2, n_freqs)  # (n_freqs,)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # (n_mels + 2,)
    widths = np.diff(edges)  # (n_mels + 1,)
    offsets = edges[None, :] - bins[:, None]  # (n_freqs, n_mels + 2)
    rising = -offsets[:, :-2] / widths[:-1]  # (n_freqs, n_mels)
    falling = offsets[:, 2:] / widths[1:]
    return torch.from_numpy(np.maximum(0.0, np.minimum(rising, falling))).float()


class LogMel:
    """Log-mel spectrograms of waveforms: (B, n) -> (B, n_mels, frames), float32.

    STFT with a periodic Hann window of ``win_length`` samples, ``hop_length`` between frames and
    ``n_fft`` points (the next power of two of the window), centred frames (the waveform is reflected
    by ``n_fft // 2`` at both ends); power spectrum; the mel filterbank; ``log(mel + LOG_FLOOR)``.
    ``frames = 1 + n // hop_length``.
    """

    def __init__(self, *, sample_rate: int, n_mels: int = 40, window_ms: float = 32.0, hop_ms: float = 16.0):
        self.sample_rate, self.n_mels = int(sample_rate), int(n_mels)
        self.win_length = max(2, round(sample_rate * window_ms / 1000))
        self.hop_length = max(1, round(sample_rate * hop_ms / 1000))
        self.n_fft = 2 ** math.ceil(math.log2(self.win_length))
        self.window = torch.hann_window(self.win_length, periodic=True)
        self.filterbank = mel_filterbank(self.n_fft // 2 + 1, self.n_mels, self.sample_rate)  # (F, M)
        if (self.filterbank.sum(0) == 0).any():
            raise DataError(f"data.n_mels: {n_mels} mel bands are too many for a {window_ms:g} ms window at "
                            f"{sample_rate} Hz (some bands get no frequency bin); use fewer or a longer window")

    def frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length

    def __call__(self, waves: torch.Tensor) -> torch.Tensor:
        waves = waves.float()
        if waves.shape[-1] <= self.n_fft // 2:  # reflection padding needs more samples than it pads
            waves = torch.nn.functional.pad(waves, (0, self.n_fft // 2 + 1 - waves.shape[-1]))
        spec = torch.stft(waves, self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window.to(waves.device), center=True, pad_mode="reflect",
                          return_complex=True)  # (B, F, frames)
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(power.transpose(-1, -2), self.filterbank.to(waves.device))  # (B, frames, M)
        return torch.log(mel + LOG_FLOOR).transpose(-1, -2).contiguous()  # (B, M, frames)


def load_waveforms(paths: list[Path], *, sample_rate: int, length: int, resample_other_rates: bool) -> np.ndarray:
    """Mono waveforms at ``sample_rate`` Hz, cut or zero-padded to ``length`` samples: float32 (N, length).

    A file at another rate is resampled when ``resample_other_rates``, and refused otherwise. Raises
    DataError naming the first file that cannot be read or is at the wrong rate.
    """
    out = np.empty((len(paths), length), dtype=np.float32)
    for i, path in enumerate(paths):  # decoding is per file anyway; this is not a training hot path
        samples, rate = read_wav(path)
        if rate != sample_rate and not resample_other_rates:
            raise DataError(f"{path}: recorded at {rate} Hz, but this data is at {sample_rate} Hz; set "
                            "data.resample: true to resample such files, or convert them")
        out[i] = fit_length(resample(to_mono(samples), rate, sample_rate), length)
    return out
