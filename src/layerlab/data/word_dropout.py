"""Word dropout for batches of token ids: the strong view of a sentence for FixMatch (issue 32).

    drop = WordDropout(rate=0.3, pad_id=0)
    x = drop(x, generator)   # (B, T) token ids -> (B, T): words left out, the rest closed up, padded again

Each token that is not padding is left out with probability ``rate`` (word dropout as Iyyer et al.,
2015 use it: the sentence without those words, not with a placeholder in their place); the tokens kept
stay in their order at the start of the row, and padding fills the rest, as ``TextPreprocessor`` pads
(at the end). A sentence keeps at least one token: its first, where the draw left none. All randomness
comes from ``generator``, so the result is a pure function of (batch, generator seed).
"""

from __future__ import annotations

import torch

STRONG_RATE = 0.3  # FixMatch's strong view of token inputs leaves out about three words in ten


class WordDropout:
    def __init__(self, rate: float = STRONG_RATE, pad_id: int = 0):
        if not 0 <= rate < 1:
            raise ValueError(f"word dropout's rate must be in [0, 1), got {rate}")
        self.rate, self.pad_id = float(rate), int(pad_id)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The batch with words left out (a new tensor; ``x`` is unchanged)."""
        if x.dim() != 2 or x.is_floating_point():
            raise ValueError(f"word dropout needs batches of token ids (B, T), not {x.dtype} of shape {tuple(x.shape)}")
        words = x != self.pad_id
        u = torch.rand(x.shape, generator=generator, device=generator.device).to(x.device)
        keep = words & (u >= self.rate)
        emptied = words.any(1) & ~keep.any(1)
        first = words.to(torch.int8).argmax(1)  # each row's first word
        keep[emptied, first[emptied]] = True
        order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices  # kept tokens first, in order
        out = torch.gather(x, 1, order)
        after = torch.arange(x.shape[1], device=x.device)[None, :] >= keep.sum(1, keepdim=True)
        return out.masked_fill(after, self.pad_id)
