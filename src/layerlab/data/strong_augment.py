"""Strong augmentation of a whole image batch on its device: RandAugment-like operations and Cutout.

    strong = StrongAugment(low, high, ops=2)   # low, high: (C,) the inputs' range per channel
    x = strong(x, generator)                    # (B, C, H, W) -> (B, C, H, W)

FixMatch (Sohn et al., 2020) learns from the model's confident prediction on a weakly augmented image,
asked of a strongly augmented one. Here each example gets ``ops`` operations drawn at random from
``OPS``, each at a random magnitude, then Cutout, as FixMatch's RandAugment does. Inputs are
standardised, so the operations work on the pixels mapped to [0, 1] by ``low`` and ``high`` (the
inputs' own range per channel) and the result is mapped back. On a CPU each operation runs on the
examples that drew it (about a twelfth of the batch each); elsewhere, and for the operations of
``WHOLE_BATCH``, it runs on the whole batch and is selected per example with ``torch.where`` (no wait for
the device to count the examples). Either way each example's result is the same to the bit, and all
randomness comes from ``generator``, so the result is a pure function of (batch, generator seed). Each
operation is a function ``(x, m) -> x`` of a batch in [0, 1] and per-example magnitudes ``m`` in [-1, 1]
(the sign picks the direction, where there is one).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GREY = 0.5  # what rotations, shears and translations bring in at the edges, and what Cutout fills
MAX_ANGLE = 30.0  # degrees
MAX_SHEAR = 0.3
MAX_SHIFT = 0.3  # of the image's side
MAX_CUTOUT = 0.5  # of the image's side


def _blend(x: torch.Tensor, base: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """PIL's ImageEnhance: ``base + f (x - base)`` with factor ``f = 1 + 0.95 m`` in [0.05, 1.95]."""
    factor = (1 + 0.95 * m)[:, None, None, None]
    return (base + factor * (x - base)).clamp(0, 1)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) the luminance (ITU-R 601-2, as PIL) of RGB images, the image itself for one channel."""
    if x.shape[1] != 3:
        return x.mean(1, keepdim=True)
    return (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:])


def brightness(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _blend(x, torch.zeros_like(x), m)


def colour(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Saturation: towards (m < 0) or away from (m > 0) the grey image. A grey image has no colour to change."""
    return _blend(x, _grey(x).expand_as(x), m)


def contrast(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _blend(x, _grey(x).mean((1, 2, 3), keepdim=True).expand_as(x), m)


def sharpness(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Towards (m < 0) or away from (m > 0) PIL's smoothed image (3x3 kernel, 5 in the middle, / 13)."""
    C = x.shape[1]
    kernel = torch.ones(3, 3, dtype=x.dtype, device=x.device)
    kernel[1, 1] = 5
    kernel = (kernel / 13).expand(C, 1, 3, 3)
    smooth = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=C)
    return _blend(x, smooth, m)


def posterize(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Keep 8 - 4|m| bits of each 8-bit value (4 to 8 bits, 16 to 256 levels)."""
    bits = 8 - (4 * m.abs()).round()
    step = (2 ** (8 - bits))[:, None, None, None]  # 1 to 16 of the 256 levels
    return torch.floor(torch.round(x * 255) / step) * step / 255


def solarize(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Invert the values at or above ``1 - |m|`` (|m| = 0: nothing; 1: everything)."""
    threshold = (1 - m.abs())[:, None, None, None]
    return torch.where((x >= threshold) & (threshold < 1), 1 - x, x)


def autocontrast(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Stretch each image's channels to the whole [0, 1] range (``m`` unused)."""
    low, high = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    return torch.where(high > low, (x - low) / (high - low).clamp_min(1e-6), x)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Each image (B, C, H, W) resampled by its (B, 2, 3) map of output to input coordinates in [-1, 1]
    (``F.affine_grid``), bilinear, GREY brought in from outside."""
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x - GREY, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + GREY


def _theta(m: torch.Tensor, a: float, b: float, c: float, d: float, tx: float = 0.0, ty: float = 0.0,
           ) -> torch.Tensor:
    """(B, 2, 3): ``[[1 + a m, b m, tx m], [c m, 1 + d m, ty m]]`` per example."""
    rows = torch.stack([1 + a * m, b * m, tx * m, c * m, 1 + d * m, ty * m], 1)
    return rows.view(-1, 2, 3)


def rotate(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """By up to MAX_ANGLE degrees about the centre (direction by the sign of m)."""
    angle = m * math.radians(MAX_ANGLE)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([cos, -sin, zero, sin, cos, zero], 1).view(-1, 2, 3)
    return _affine(x, theta)


def shear_x(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _affine(x, _theta(m, 0, MAX_SHEAR, 0, 0))


def shear_y(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _affine(x, _theta(m, 0, 0, MAX_SHEAR, 0))


def translate_x(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """By up to MAX_SHIFT of the width (affine_grid's coordinates span 2 per side)."""
    return _affine(x, _theta(m, 0, 0, 0, 0, tx=2 * MAX_SHIFT))


def translate_y(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return _affine(x, _theta(m, 0, 0, 0, 0, ty=2 * MAX_SHIFT))


def identity(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    return x


# sharpness's convolution gives an image results that differ in the last bit with the batch's size (the
# CPU's kernels are chosen by shape), so it always runs on the whole batch
WHOLE_BATCH = frozenset({"sharpness"})

OPS = {f.__name__: f for f in (identity, autocontrast, brightness, colour, contrast, sharpness, posterize,
                               solarize, rotate, shear_x, shear_y, translate_x, translate_y)}


def cutout(x: torch.Tensor, size: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Fill one square per image with GREY: side ``size`` (B,) in pixels, its centre at ``u`` (B, 2) in
    [0, 1) of the height and width (the square may reach past the edge, as in DeVries & Taylor, 2017)."""
    _, _, H, W = x.shape
    centre_r, centre_c = u[:, 0] * H, u[:, 1] * W
    rows = torch.arange(H, device=x.device, dtype=x.dtype)[None, :] + 0.5
    cols = torch.arange(W, device=x.device, dtype=x.dtype)[None, :] + 0.5
    in_rows = (rows - centre_r[:, None]).abs() < size[:, None] / 2  # (B, H)
    in_cols = (cols - centre_c[:, None]).abs() < size[:, None] / 2  # (B, W)
    return x.masked_fill((in_rows[:, :, None] & in_cols[:, None, :])[:, None], GREY)


class StrongAugment:
    """``ops`` operations per example from ``OPS`` at random magnitudes, then Cutout of up to
    ``cutout`` of the side; inputs in ``[low, high]`` per channel (``(C,)`` tensors) are mapped to
    [0, 1] for the operations and back."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, *, ops: int = 2, cutout: float = MAX_CUTOUT):
        self.low = low.reshape(1, -1, 1, 1).float()
        self.span = (high.reshape(1, -1, 1, 1).float() - self.low).clamp_min(1e-6)
        self.ops, self.cutout = int(ops), float(cutout)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"strong augmentation needs image batches (B, C, H, W), not shape {tuple(x.shape)}")
        low, span = self.low.to(x.device, x.dtype), self.span.to(x.device, x.dtype)
        pixels = ((x - low) / span).clamp(0, 1)
        B, names = len(x), list(OPS)
        for _ in range(self.ops):
            u = _uniform((B, 3), generator, x.device)
            pick = (u[:, 0] * len(names)).long().clamp(max=len(names) - 1)  # (B,) which operation
            m = u[:, 1] * torch.where(u[:, 2] < 0.5, -1.0, 1.0)  # (B,) magnitude in [-1, 1]
            pixels = apply_ops(pixels, pick, m, by_rows=x.device.type == "cpu")
        if self.cutout > 0:
            u = _uniform((B, 3), generator, x.device)
            pixels = cutout(pixels, u[:, 0] * self.cutout * min(x.shape[2:]), u[:, 1:])
        return pixels * span + low


def apply_ops(pixels: torch.Tensor, pick: torch.Tensor, m: torch.Tensor, *, by_rows: bool) -> torch.Tensor:
    """Example i of ``pixels`` (B, C, H, W) in [0, 1] changed by operation ``list(OPS)[pick[i]]`` at magnitude
    ``m[i]``. ``by_rows``: each operation on its own examples only (``pixels`` is changed in place); else on the
    whole batch, then selected with ``torch.where``. The two give the same bits."""
    for k, name in enumerate(list(OPS)[1:], start=1):
        if by_rows and name not in WHOLE_BATCH:
            rows = (pick == k).nonzero().squeeze(1)
            if len(rows):
                pixels[rows] = OPS[name](pixels[rows], m[rows])
        else:
            pixels = torch.where((pick == k)[:, None, None, None], OPS[name](pixels, m), pixels)
    return pixels


def _uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=generator.device).to(device)
