"""Batches by index from in-memory tensors, and augmentation of whole batches on their device.

    order = epoch_order(len(train), seed=seed, epoch=epoch, device=device)
    order = length_grouped(order, token_lengths(train.x, train.y), batch_size=128, seed=seed, epoch=epoch)  # optional
    for x, y in batches(train.x, train.y, batch_size=128, order=order, start=done):
        x = augment(x, generator)   # (B, C, H, W) -> (B, C, H, W)

The order of an epoch is a pure function of (n, seed, epoch), and a batch's augmentation a pure
function of (batch, generator seed), so a run resumed mid-epoch sees exactly the batches it would
have seen. Nothing here loops over examples in Python.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from layerlab.data.pixel_targets import move_targets
from layerlab.data.spec_augment import SpecAugment
from layerlab.data.zoom import zoom_factors, zoom_images, zoom_targets
from layerlab.errors import DataError

if TYPE_CHECKING:
    from layerlab.data.config import AugmentConfig

# Random erasing draws the rectangle's area and aspect ratio from these ranges (as torchvision does).
ERASE_AREA = (0.02, 0.33)
ERASE_ASPECT = (0.3, 3.3)


def epoch_order(n: int, *, seed: int, epoch: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The shuffled order of ``range(n)`` for one epoch: a pure function of (n, seed, epoch).

    Drawn on the CPU, so the order is the same whatever the training device.
    """
    return torch.randperm(n, generator=_generator(seed, epoch)).to(device)


def token_lengths(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N,) the number of real (non-padding, id 0 is padding) tokens of each example: its input's, plus its
    target's where that is a token sequence too (translation). Only for token data."""
    if x.dim() != 2 or x.is_floating_point():
        raise DataError(f"train.group_by_length groups token sequences by their length; this data's inputs are "
                        f"{str(x.dtype).removeprefix('torch.')} of shape {tuple(x.shape[1:])} per example, not token ids")
    lengths = (x != 0).sum(1)
    if y.dim() == 2 and not y.is_floating_point():
        lengths = lengths + (y != 0).sum(1)
    return lengths


def length_grouped(order: torch.Tensor, lengths: torch.Tensor, *, batch_size: int, seed: int, epoch: int,
                   window: int = 64) -> torch.Tensor:
    """``order`` rearranged so that each batch of ``batches`` holds examples of about one length.

    The shuffled order is cut into windows of ``window`` batches; each window is sorted by length
    (longest first) and cut into batches; the full batches are shuffled, a smaller last one stays last.
    Padding to a batch's longest example then costs little, while which examples meet in a batch, and
    the order of the batches, stay random. A pure function of (order, lengths, seed, epoch), so a resumed
    epoch sees the batches it would have seen.
    """
    n = len(order)
    if n == 0:
        return order
    span = batch_size * window
    ranks = lengths[order].long()
    key = (torch.arange(n, device=order.device) // span) * (int(ranks.max()) + 1) + (int(ranks.max()) - ranks)
    grouped = order[torch.argsort(key, stable=True)]
    full = n // batch_size
    shuffle = torch.randperm(full, generator=_generator(seed, epoch, 1)).to(order.device)
    head = grouped[: full * batch_size].view(full, batch_size)[shuffle].reshape(-1)
    return torch.cat([head, grouped[full * batch_size :]])


def shifted_windows(x: torch.Tensor, y: torch.Tensor, *, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A language model's (N, L) windows cut anew at an offset drawn from (seed, epoch): (N - 1, L) views.

    ``x`` and ``y`` must be consecutive windows of one token stream, ``y`` shifted by one (what the text
    source gives a language model: ``x.flatten()[1:] == y.flatten()[:-1]``), else a DataError says so. Each epoch sees the stream cut at a fresh offset in ``[0, L)``, so over the run the model
    meets every start position rather than the same N windows (nanoGPT's random crops, without repeats
    within an epoch). A pure function of (seed, epoch): a resumed run sees the windows it would have seen.
    """
    check_windows(x, y)
    n, length = x.shape
    offset = int(torch.randint(length, (1,), generator=_generator(seed, epoch, 2)))
    span = (n - 1) * length
    return (x.reshape(-1)[offset : offset + span].view(n - 1, length),
            y.reshape(-1)[offset : offset + span].view(n - 1, length))


def check_windows(x: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse data that are not consecutive windows of one token stream (``shifted_windows``' input)."""
    what = "train.window_shift cuts a language model's text into windows at a fresh offset each epoch"
    if x.dim() != 2 or x.is_floating_point() or not isinstance(y, torch.Tensor) or y.shape != x.shape:
        raise DataError(f"{what}; this data's inputs are {str(x.dtype).removeprefix('torch.')} of shape "
                        f"{tuple(x.shape[1:])} per example, not a language model's windows of token ids")
    if len(x) < 2:
        raise DataError(f"{what}; the training split holds {len(x)} window(s), and a shift needs at least 2")
    flat_x, flat_y = x.reshape(-1), y.reshape(-1)
    if not torch.equal(flat_x[1:], flat_y[:-1]):
        raise DataError(f"{what}; these training examples are not consecutive windows of one text (each target the "
                        "input shifted by one token, each window following the last): use it with a language model "
                        "on a text corpus (task.name: language_model)")


def _generator(seed: int, epoch: int, *stream: int) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch) and, for a second draw in the same epoch, a stream number."""
    state = np.random.SeedSequence([seed % 2**64, epoch % 2**64, *stream]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) % 2**63)


def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """How many batches ``batches`` yields for ``n`` examples."""
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def batches(x: torch.Tensor, y: torch.Tensor, *, batch_size: int, order: torch.Tensor | None = None,
            start: int = 0, drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x[idx], y[idx])`` batches in ``order`` (None: sequential), skipping the first ``start``.

    ``order`` is a permutation of ``range(len(x))`` on x's device; ``start`` is the number of batches
    already done (resuming mid-epoch). The last batch is smaller unless ``drop_last``.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} examples but y has {len(y)}")
    if order is not None and len(order) != n:
        raise ValueError(f"order has {len(order)} indices for {n} examples")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    for i in range(start, num_batches(n, batch_size, drop_last)):
        lo, hi = i * batch_size, min((i + 1) * batch_size, n)
        if order is None:
            yield x[lo:hi], y[lo:hi]
        else:
            idx = order[lo:hi]
            yield x[idx], y[idx]


class BatchAugment:
    """Random crop, flips, zoom (``layerlab.data.zoom``), random erasing, SpecAugment masks (``layerlab.data.spec_augment``) and
    Gaussian noise, for a whole batch (B, C, H, W) at once.

    Every example gets its own random crop offset, flips and rectangle, drawn as tensors on the
    batch's device; all randomness comes from the ``generator`` passed in, so the result is a pure
    function of (batch, generator seed). ``enabled`` is False when every option is off.
    """

    def __init__(self, cfg: AugmentConfig, *, on_pixels: bool = False):
        self.on_pixels = on_pixels  # the targets lie on the pixels (class maps, boxes): ``pair`` moves them too
        self.crop_padding = cfg.crop_padding
        self.hflip, self.vflip = cfg.hflip, cfg.vflip
        self.zoom = cfg.zoom
        self.erase = cfg.erase
        self.noise = cfg.noise
        self.spec = SpecAugment(freq_mask=cfg.freq_mask, time_mask=cfg.time_mask, freq_masks=cfg.freq_masks,
                                time_masks=cfg.time_masks)  # audio: masks of the log-mel spectrograms
        self.spatial = bool(self.crop_padding or self.hflip or self.vflip or self.zoom or self.erase or self.spec.enabled)
        self.enabled = self.spatial or self.noise > 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The augmented batch (a new tensor; ``x`` is not changed)."""
        if not self.enabled:
            return x
        if self.spatial and x.dim() != 4:
            raise DataError(f"data.augment: crops, flips and erasing need image batches (B, C, H, W), "
                            f"not shape {tuple(x.shape)}")
        if self.crop_padding:
            x = self._crop(x, generator)
        if self.hflip:
            x = torch.where(_rand((len(x), 1, 1, 1), generator, x.device) < 0.5, x.flip(3), x)
        if self.vflip:
            x = torch.where(_rand((len(x), 1, 1, 1), generator, x.device) < 0.5, x.flip(2), x)
        if self.zoom:
            x = zoom_images(x, zoom_factors(len(x), self.zoom, generator, x.device))
        if self.erase:
            x = self._erase(x, generator)
        if self.spec.enabled:
            x = self.spec(x, generator)
        if self.noise > 0:
            x = x + self.noise * _randn(x.shape, generator, x.device, x.dtype)
        return x

    def pair(self, x: torch.Tensor, y: Any, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        """The augmented batch and its targets: moved with the pixels where they lie on them (class maps,
        boxes and masks: ``layerlab.data.pixel_targets``), else ``(self(x, generator), y)``. The draws, and
        so the images, are the same as ``__call__``'s."""
        if not (self.on_pixels and self.enabled):
            return self(x, generator), y
        moves: dict[str, Any] = {"size": tuple(x.shape[-2:]), "padding": self.crop_padding}
        if self.crop_padding:
            moves["offsets"] = self._crop_offsets(x, generator)
            x = self._crop(x, generator, moves["offsets"])
        for name, dim in (("hflip", 3), ("vflip", 2)):
            if getattr(self, name):
                moves[name] = _rand((len(x),), generator, x.device) < 0.5
                x = torch.where(moves[name][:, None, None, None], x.flip(dim), x)
        y = move_targets(y, **moves)
        if self.zoom:  # after the crop and the flips, as in __call__
            factors = zoom_factors(len(x), self.zoom, generator, x.device)
            x, y = zoom_images(x, factors), zoom_targets(y, factors, moves["size"])
        if self.noise > 0:
            x = x + self.noise * _randn(x.shape, generator, x.device, x.dtype)
        return x, y

    def _crop_offsets(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Each example's window offset (B, 2), rows and columns in [0, 2p]."""
        p = self.crop_padding
        return (_rand((len(x), 2), generator, x.device) * (2 * p + 1)).long().clamp_(max=2 * p)

    def _crop(self, x: torch.Tensor, generator: torch.Generator, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Pad with zeros by p on each side, then cut each example's (H, W) window at a random offset."""
        B, C, H, W = x.shape
        p = self.crop_padding
        padded = F.pad(x, (p, p, p, p))  # (B, C, H+2p, W+2p)
        offsets = self._crop_offsets(x, generator) if offsets is None else offsets  # (B, 2) in [0, 2p]
        rows = offsets[:, 0, None] + torch.arange(H, device=x.device)  # (B, H)
        cols = offsets[:, 1, None] + torch.arange(W, device=x.device)  # (B, W)
        batch = torch.arange(B, device=x.device)[:, None, None, None]
        channel = torch.arange(C, device=x.device)[None, :, None, None]
        return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]  # (B, C, H, W)

    def _erase(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """With probability ``erase``, zero one random rectangle of each example (all channels)."""
        B, _, H, W = x.shape
        u = _rand((B, 5), generator, x.device)  # apply?, area, log-aspect, top, left
        area = (ERASE_AREA[0] + u[:, 1] * (ERASE_AREA[1] - ERASE_AREA[0])) * H * W
        log_lo, log_hi = math.log(ERASE_ASPECT[0]), math.log(ERASE_ASPECT[1])
        aspect = torch.exp(log_lo + u[:, 2] * (log_hi - log_lo))
        h = torch.sqrt(area * aspect).round().clamp(1, H)  # (B,)
        w = torch.sqrt(area / aspect).round().clamp(1, W)
        top = (u[:, 3] * (H - h + 1)).floor()
        left = (u[:, 4] * (W - w + 1)).floor()
        rows = torch.arange(H, device=x.device)[None, :]  # (1, H)
        cols = torch.arange(W, device=x.device)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (B, H)
        in_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (B, W)
        mask = in_rows[:, :, None] & in_cols[:, None, :] & (u[:, 0] < self.erase)[:, None, None]  # (B, H, W)
        return x.masked_fill(mask[:, None], 0.0)


def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) numbers from ``generator`` (on its own device), placed on ``device``."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def _randn(shape: torch.Size, generator: torch.Generator, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)
