"""SpecAugment's frequency and time masking (Park et al., 2019), for a whole batch of spectrograms at once.

    mask = SpecAugment(freq_mask=8, time_mask=10, freq_masks=1, time_masks=2)
    x = mask(x, generator)   # (B, C, mel bins, frames) -> same shape, bands set to 0

Each of ``freq_masks`` frequency masks covers ``f`` consecutive mel bins with ``f`` drawn uniformly
from 0 to ``freq_mask`` and its first bin uniformly from ``0 .. bins - f``; time masks likewise over
frames. Every example draws its own masks. Masked values become 0, the mean of the standardised
log-mel features. Time warping, the paper's third part, is left out (it helped least there).
"""

from __future__ import annotations

import torch


class SpecAugment:
    def __init__(self, *, freq_mask: int = 0, time_mask: int = 0, freq_masks: int = 1, time_masks: int = 1):
        self.freq_mask, self.time_mask = int(freq_mask), int(time_mask)
        self.freq_masks, self.time_masks = int(freq_masks), int(time_masks)
        self.enabled = (self.freq_mask > 0 and self.freq_masks > 0) or (self.time_mask > 0 and self.time_masks > 0)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The batch (B, C, bins, frames) with its masks set to 0 (a new tensor; ``x`` is unchanged)."""
        if not self.enabled:
            return x
        if x.dim() != 4:
            raise ValueError(f"SpecAugment needs spectrogram batches (B, C, bins, frames), not shape {tuple(x.shape)}")
        B, _, bins, frames = x.shape
        masked = torch.zeros(B, bins, frames, dtype=torch.bool, device=x.device)
        if self.freq_mask > 0:
            masked |= band_mask(B, bins, self.freq_mask, self.freq_masks, generator, x.device)[:, :, None]
        if self.time_mask > 0:
            masked |= band_mask(B, frames, self.time_mask, self.time_masks, generator, x.device)[:, None, :]
        return x.masked_fill(masked[:, None], 0.0)


def band_mask(batch: int, size: int, widest: int, count: int, generator: torch.Generator,
              device: torch.device) -> torch.Tensor:
    """(batch, size) bool: ``count`` bands per row, each of a width uniform in 0..min(widest, size)."""
    widest = min(widest, size)
    u = torch.rand((batch, count, 2), generator=generator, device=generator.device).to(device)
    width = (u[..., 0] * (widest + 1)).floor().clamp(max=widest)  # (B, count) in 0..widest
    start = (u[..., 1] * (size - width + 1)).floor()  # (B, count) in 0..size-width
    positions = torch.arange(size, device=device)[None, None, :]  # (1, 1, size)
    inside = (positions >= start[..., None]) & (positions < (start + width)[..., None])  # (B, count, size)
    return inside.any(dim=1)
