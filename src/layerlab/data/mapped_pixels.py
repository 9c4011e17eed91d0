"""Cached images read only when used: before preprocessing (``ImageRows``) and as a split (``MappedPixels``).

Under ``data.cache: mmap`` the image-folder source's ``RawData.x`` is an ``ImageRows``: some rows of an
``ImageCache`` file, chosen by position. ``load_data`` indexes it as it indexes an array (test, limit
and validation splits give new ``ImageRows``, no pixels read), fits the preprocessing on it chunk by
chunk (``np.asarray`` of a slice reads those rows), and ``ImagePreprocessor.transform_split`` turns each
split into ``MappedPixels``: ``Pixels`` whose uint8 rows stay in the file. Each batch's rows are read
from the file, moved to the training device and standardised there with ``Pixels.standardise``, so the
batches, and the runs trained on them, are bit-identical to those of images held in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from layerlab.data.image_cache import ImageCache
from layerlab.data.pixels import Pixels, channel_stats


class ImageRows:
    """Rows ``index`` of ``cache`` (all of them by default), read only when asked for (``np.asarray``)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, cache: ImageCache, index: np.ndarray | None = None):
        self.cache = cache
        self.index = np.arange(len(cache), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.cache.shape[1:])

    def __getitem__(self, key: Any) -> ImageRows:
        return ImageRows(self.cache, np.atleast_1d(self.index[_numpy_key(key)]))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rows = self.cache.read(self.index)
        return rows if dtype is None else rows.astype(dtype)

    def astype(self, dtype: Any) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def pixels(self, scale: float, mean: list[float] | None, std: list[float] | None) -> MappedPixels:
        """These rows as a split's inputs, standardised batch by batch (``Pixels.of``'s arithmetic)."""
        return MappedPixels(self, scale, channel_stats(mean), channel_stats(std))


class MappedPixels(Pixels):
    """``Pixels`` whose uint8 rows stay in a cache file; ``device`` is where batches are standardised."""

    def __init__(self, rows: ImageRows, scale: float, mean: torch.Tensor | None, std: torch.Tensor | None,
                 device: torch.device | str = "cpu"):
        # Pixels.__init__ is not called: there is no tensor of pixels to hold
        self.rows, self.scale, self.channel_mean, self.channel_std = rows, float(scale), mean, std
        self._device = torch.device(device)

    def __getitem__(self, index: Any) -> torch.Tensor:
        positions = self.rows.index[_numpy_key(index)]
        pixels = torch.from_numpy(self.rows.cache.read(np.atleast_1d(positions)))
        if np.ndim(positions) == 0:
            pixels = pixels[0]
        return self.standardise(pixels.to(self._device))

    def __len__(self) -> int:
        return len(self.rows)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "rows":  # not set yet (unpickling): no whole split to ask
            raise AttributeError(name)
        return super().__getattr__(name)

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """To a device: the same rows, batches standardised there. To a dtype: the whole split, converted."""
        if any(isinstance(a, torch.dtype) for a in (*args, *kwargs.values())):
            return self.standardised().to(*args, **kwargs)
        device = kwargs.get("device", args[0] if args else self._device)
        return MappedPixels(self.rows, self.scale, self.channel_mean, self.channel_std, device)

    def standardised(self) -> torch.Tensor:
        return self[slice(None)]

    @property
    def pixels(self) -> torch.Tensor:  # type: ignore[override]
        """The whole split's uint8 images, read into memory."""
        return torch.from_numpy(np.asarray(self.rows)).to(self._device)

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self.rows.shape)

    @property
    def device(self) -> torch.device:
        return self._device

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.rows.shape))

    def __repr__(self) -> str:
        return f"MappedPixels({tuple(self.shape)}, uint8 in {self.rows.cache.paths.array}, standardised per batch on {self._device})"


def _numpy_key(key: Any) -> Any:
    """An index for a numpy array from a torch one (on any device), else ``key`` itself."""
    return key.cpu().numpy() if isinstance(key, torch.Tensor) else key
