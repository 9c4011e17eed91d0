"""Images kept as their 8-bit pixels on the device and standardised batch by batch (issue 34).

``load_data`` used to hold every image split as standardised float32: four bytes a pixel. ``Pixels``
holds the uint8 pixels (one byte) and the split's standardisation, and stands where that float32
tensor stood: indexing it (``x[idx]``, ``x[a:b]``, as batching does) gives the rows standardised,
``len``, ``shape``, ``device``, ``to`` work on the pixels, and any other use (a torch function, a tensor
method, arithmetic) sees the whole split standardised. The arithmetic is the one
``ImagePreprocessor.transform`` does, element by element (x * (1 / scale) - mean) / std in float32, so
batches, and the runs trained on them, are bit-identical to before.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


class Pixels:
    def __init__(self, pixels: torch.Tensor, scale: float, mean: torch.Tensor | None, std: torch.Tensor | None):
        if pixels.dtype != torch.uint8 or pixels.dim() != 4:
            raise ValueError(f"Pixels holds uint8 images (N, C, H, W), not {pixels.dtype} of shape {tuple(pixels.shape)}")
        self.pixels, self.scale, self.channel_mean, self.channel_std = pixels, float(scale), mean, std

    @classmethod
    def of(cls, raw: np.ndarray, scale: float, mean: list[float] | None, std: list[float] | None) -> Pixels:
        """The uint8 images ``raw`` (N, C, H, W), to be standardised with ``mean`` and ``std`` (None: scaled only)."""
        return cls(torch.from_numpy(np.array(raw, dtype=np.uint8, order="C")), scale, channel_stats(mean), channel_stats(std))

    # ------------------------------------------------------------------ what batching uses
    def __getitem__(self, index: Any) -> torch.Tensor:
        """As the float32 split would answer: rows are picked and standardised, then the rest of the index
        applies (``x[i, 0]``: image i's first channel)."""
        rows, rest = (index[0], index[1:]) if isinstance(index, tuple) and index else (index, ())
        picked = self.pixels[rows]
        single = picked.dim() == self.pixels.dim() - 1  # an integer row: its images' axis is gone
        x = self.standardise(picked[None] if single else picked)
        return x[0][rest] if single else x[(slice(None), *rest)]

    def __len__(self) -> int:
        return len(self.pixels)

    def standardise(self, pixels: torch.Tensor) -> torch.Tensor:
        """float32 images from uint8 ones, as ``ImagePreprocessor._standardise`` makes them."""
        x = pixels.to(torch.float32).mul_(1.0 / self.scale)
        if self.channel_mean is not None and self.channel_std is not None:
            x.sub_(self.channel_mean.to(x.device)).div_(self.channel_std.to(x.device))
        return x

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """On another device: still pixels. To another dtype: the standardised tensor, converted."""
        if any(isinstance(a, torch.dtype) for a in (*args, *kwargs.values())):
            return self.standardised().to(*args, **kwargs)
        return Pixels(self.pixels.to(*args, **kwargs), self.scale, self.channel_mean, self.channel_std)

    def cpu(self) -> Pixels:
        return self.to("cpu")

    def standardised(self) -> torch.Tensor:
        """The whole split as float32 (four times the pixels' memory)."""
        return self.standardise(self.pixels)

    @property
    def shape(self) -> torch.Size:
        return self.pixels.shape

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32  # what it stands for

    @property
    def ndim(self) -> int:
        return 4

    def dim(self) -> int:
        return 4

    def size(self, dim: int | None = None) -> Any:
        return self.pixels.size() if dim is None else self.pixels.size(dim)

    def is_floating_point(self) -> bool:
        return True

    @property
    def nbytes(self) -> int:
        return self.pixels.nbytes

    def __repr__(self) -> str:
        return f"Pixels({tuple(self.shape)}, uint8 on {self.device}, standardised per batch)"

    # ------------------------------------------------------------------ every other use: the float32 tensor
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("pixels", "scale", "channel_mean", "channel_std"):
            raise AttributeError(name)
        return getattr(self.standardised(), name)

    @classmethod
    def __torch_function__(cls, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return func(*_unwrapped(args), **_unwrapped(kwargs or {}))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.standardised().numpy()
        return array if dtype is None else array.astype(dtype)

    def __iter__(self) -> Any:
        return iter(self.standardised())


def channel_stats(values: list[float] | None) -> torch.Tensor | None:
    """Per-channel statistics as float32 (1, C, 1, 1), to broadcast over a batch; None stays None."""
    return None if values is None else torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1)


def _unwrapped(value: Any) -> Any:
    """``value`` with every ``Pixels`` in it (in lists, tuples, dicts) replaced by its float32 tensor."""
    if isinstance(value, Pixels):
        return value.standardised()
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrapped(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrapped(v) for k, v in value.items()}
    return value


def _operator(op: Callable, reflected: bool = False) -> Callable:
    def method(self: Pixels, other: Any) -> Any:
        x, y = self.standardised(), _unwrapped(other)
        return op(y, x) if reflected else op(x, y)

    return method


for _name, _op in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("truediv", operator.truediv),
                   ("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
                   ("gt", operator.gt), ("ge", operator.ge), ("matmul", operator.matmul)):
    setattr(Pixels, f"__{_name}__", _operator(_op))
    if _name in ("add", "sub", "mul", "truediv", "matmul"):
        setattr(Pixels, f"__r{_name}__", _operator(_op, reflected=True))
Pixels.__neg__ = lambda self: -self.standardised()  # type: ignore[attr-defined]
Pixels.__hash__ = object.__hash__  # type: ignore[method-assign]  (== compares elementwise, as a tensor's)
