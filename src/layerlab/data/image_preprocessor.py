"""Preprocessing of images: scale pixels to [0, 1], then standardise each channel.

The per-channel mean and standard deviation come from the training split only. Image files given to
``predict`` are converted to the training images' channels and resized to their size first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from layerlab.data.images import image_files, read_images
from layerlab.data.mapped_pixels import ImageRows
from layerlab.data.pixels import Pixels
from layerlab.data.preprocessor import Preprocessor, input_files
from layerlab.errors import DataError

_CHUNK = 8192  # examples per chunk when computing statistics (bounds the float64 temporaries)


@dataclass
class ImagePreprocessor(Preprocessor):
    kind: ClassVar[str] = "image"

    shape: list[int]  # (C, H, W) of one image
    scale: float  # the raw value of full intensity in the source's data (255 for 8-bit images, 16 for digits)
    mean: list[float] | None = None  # per channel, of pixels scaled to [0, 1]; None = not standardised
    std: list[float] | None = None
    classes: list[str] | None = None

    @classmethod
    def fit(cls, train: np.ndarray, *, scale: float, normalize: bool, classes: list[str] | None,
            chunk: int | None = None) -> ImagePreprocessor:
        """Fit on raw training images (N, C, H, W) whose full intensity is ``scale``, ``chunk`` images at a time
        (default 8192)."""
        shape = [int(s) for s in train.shape[1:]]
        if not normalize or len(train) == 0:
            return cls(shape, float(scale), None, None, classes)
        total = np.zeros(shape[0])
        squares = np.zeros(shape[0])
        chunk = chunk or _CHUNK
        for start in range(0, len(train), chunk):
            part = train[start : start + chunk].astype(np.float64) / scale
            total += part.sum(axis=(0, 2, 3))
            squares += np.square(part).sum(axis=(0, 2, 3))
        count = len(train) * shape[1] * shape[2]
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        std = np.where(std > 1e-6, std, 1.0)  # a constant channel is left unscaled
        return cls(shape, float(scale), mean.tolist(), std.tolist(), classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.shape)

    def with_inputs_of(self, source: Preprocessor) -> ImagePreprocessor:
        """The source run's per-channel mean and std (none if it did not standardise)."""
        assert isinstance(source, ImagePreprocessor)
        if source.shape[0] != self.shape[0]:
            raise DataError(f"model.from_run: that run's images have {source.shape[0]} channel(s), these have "
                            f"{self.shape[0]}; its backbone needs images of the same channels")
        return replace(self, mean=source.mean, std=source.std)

    def transform(self, raw: np.ndarray) -> torch.Tensor:
        if tuple(raw.shape[1:]) != self.input_shape:
            raise DataError(f"images of shape {tuple(raw.shape[1:])} do not fit this preprocessing, "
                            f"which expects {self.input_shape} (channels, height, width)")
        return self._standardise(torch.from_numpy(raw.astype(np.float32)), self.scale)

    def transform_split(self, x: np.ndarray, y: np.ndarray, *, target_dtype: torch.dtype) -> tuple[Any, torch.Tensor]:
        """8-bit images stay 8-bit (``Pixels``: a quarter of the memory), standardised batch by batch to
        the same float32 values ``transform`` gives; other images as ``transform`` makes them."""
        if x.dtype != np.uint8:
            return super().transform_split(x, y, target_dtype=target_dtype)
        if tuple(x.shape[1:]) != self.input_shape:
            self.transform(x[:0])  # the shape's message
        pixels = x.pixels(self.scale, self.mean, self.std) if isinstance(x, ImageRows) else (  # data.cache: mmap
            Pixels.of(x, self.scale, self.mean, self.std))
        return pixels, torch.tensor(np.asarray(y), dtype=target_dtype)

    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        files = input_files(paths, image_files, "image files", refuse={
            ".csv": f"this run's model takes images of shape {self.input_shape}, not CSV tables"})
        channels, height, width = self.shape
        pixels = read_images(files, size=(height, width), channels=channels)
        return self._standardise(torch.from_numpy(pixels.astype(np.float32)), 255.0), [str(f) for f in files]

    def _standardise(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        """Scale float32 pixels (N, C, H, W), in place, to [0, 1] and standardise each channel."""
        x.mul_(1.0 / scale)
        if self.mean is not None and self.std is not None:
            mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
            std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
            x.sub_(mean).div_(std)
        return x

    def _fields(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "scale": self.scale, "mean": self.mean, "std": self.std,
                "classes": self.classes}
