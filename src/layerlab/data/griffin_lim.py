"""Log-mel spectrograms back to waveforms: the mel filterbank inverted by least squares, then Griffin-Lim.

    wave = mel_to_wave(logmel_frames, LogMel(sample_rate=8000, n_mels=40), iterations=60)   # (M, T) -> (n,)

A log-mel spectrogram keeps only the power in a few bands and no phase. The power spectrum is taken back
as the least-squares solution of ``power @ filterbank = mel`` (the pseudo-inverse, clipped at 0), its square
root as the magnitude; Griffin-Lim (1984) then looks for a signal with that magnitude: start from random
phases, and repeat: inverse STFT, STFT, keep the phases; with the momentum of Perraudin et al. (2013),
"fast Griffin-Lim", as torchaudio's ``GriffinLim``. Both transforms are ``torch.stft``/``torch.istft`` with
the window, hop and FFT size of the ``LogMel`` that made the spectrogram.
"""

from __future__ import annotations

import numpy as np
import torch

from layerlab.data.audio import LOG_FLOOR, LogMel


def mel_to_wave(logmel: np.ndarray | torch.Tensor, features: LogMel, *, iterations: int = 60, momentum: float = 0.99,
                seed: int = 0, power: float = 1.0) -> np.ndarray:
    """(n_mels, frames) natural-log mel power (as ``LogMel`` gives it) -> float32 waveform of
    ``(frames - 1) * hop`` samples. ``power`` above 1 raises the magnitude to it first (Tacotron's sharpening:
    the peaks of the spectrum grow against its valleys; the waveform's scale is left to the caller)."""
    mel = (torch.as_tensor(logmel, dtype=torch.float64).exp() - LOG_FLOOR).clamp(min=0)  # (M, T)
    inverse = torch.linalg.pinv(features.filterbank.double().T)  # (F, M): power (F, T) ~ inverse @ mel
    magnitude = (inverse @ mel).clamp(min=0).sqrt()  # (F, T)
    if power != 1.0:
        magnitude = magnitude**power
    magnitude = magnitude.float()
    return griffin_lim(magnitude, features, iterations=iterations, momentum=momentum, seed=seed)


def griffin_lim(magnitude: torch.Tensor, features: LogMel, *, iterations: int, momentum: float, seed: int) -> np.ndarray:
    """A waveform whose STFT magnitude approaches ``magnitude`` (F, T)."""
    stft = {"n_fft": features.n_fft, "hop_length": features.hop_length, "win_length": features.win_length,
            "window": features.window, "center": True}
    length = (magnitude.shape[1] - 1) * features.hop_length
    generator = torch.Generator().manual_seed(seed)
    angles = torch.polar(torch.ones_like(magnitude), 2 * torch.pi * torch.rand(magnitude.shape, generator=generator))
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        wave = torch.istft(magnitude * angles, length=length, **stft)
        rebuilt = torch.stft(wave, return_complex=True, pad_mode="reflect", **stft)
        angles = rebuilt - (momentum / (1 + momentum)) * previous
        angles = angles / angles.abs().clamp(min=1e-16)
        previous = rebuilt
    return torch.istft(magnitude * angles, length=length, **stft).numpy().astype(np.float32)
