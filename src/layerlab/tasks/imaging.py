"""Image helpers the generative tasks share: PSNR, SSIM, input noise, and PNG grids.

Images are float tensors (N, C, H, W) in pixel space [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from layerlab.errors import LayerLabError, UsageError

NOISE_KINDS = ("none", "gaussian", "salt_pepper", "mask")
SSIM_SIGMA = 1.5  # Gaussian window of SSIM (Wang et al., 2004)
SSIM_K1, SSIM_K2 = 0.01, 0.03


def psnr(estimate: Tensor, target: Tensor) -> Tensor:
    """Peak signal-to-noise ratio in dB of each image (N,), for pixels in [0, 1] (peak 1).

    A perfect image would be infinite; the mean squared error is floored at 1e-10 (100 dB).
    """
    mse = (estimate.float() - target.float()).square().flatten(1).mean(1)
    return -10 * torch.log10(mse.clamp(min=1e-10))


def ssim(estimate: Tensor, target: Tensor) -> Tensor:
    """Structural similarity of each image (N,), for pixels in [0, 1]: the mean SSIM map under an
    11x11 Gaussian window (sigma 1.5; smaller for small images, at most the image's side), averaged
    over channels, with "valid" borders: scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1)`` (Wang et al.'s settings), equal to it within
    1e-5 on Fashion-MNIST, digits and colour photographs (tests/tasks/test_ssim_reference.py). Not equal
    to torchmetrics' SSIM, whose values on the same noisy Fashion-MNIST images differ by up to 0.33."""
    x, y = estimate.float(), target.float()
    channels, side = x.shape[1], min(x.shape[-2:])
    size = min(11, side - (1 - side % 2))  # odd, at most the side
    sigma = SSIM_SIGMA * size / 11
    coords = torch.arange(size, dtype=torch.float32, device=x.device) - size // 2
    g = torch.exp(-coords.square() / (2 * sigma**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, window, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x.square()
    var_y = blur(y * y) - mu_y.square()
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(1)


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """``x`` with noise: gaussian (standard deviation ``level``, clipped to [0, 1]), salt_pepper (a
    fraction ``level`` of the values set to 0 or 1 at random) or mask (a fraction ``level`` set to 0)."""
    if kind == "none" or level == 0:
        return x
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + level * noise).clamp(0, 1)
    hit = torch.rand(x.shape, generator=generator, device=x.device) < level
    if kind == "mask":
        return x.masked_fill(hit, 0.0)
    if kind == "salt_pepper":
        salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
        return torch.where(hit, salt.to(x.dtype), x)
    raise LayerLabError(f"'{kind}' is not a kind of noise (known: {', '.join(NOISE_KINDS)})")


def grid(images: Tensor, *, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """Images (N, C, H, W) in [0, 1] tiled into one uint8 array (rows, cols) or (rows, cols, 3),
    ``columns`` to a row (default: a square-ish grid), with ``pad`` white pixels between them."""
    if images.ndim != 4 or len(images) == 0:
        raise LayerLabError(f"a grid needs images of shape (N, C, H, W) with N >= 1, got {tuple(images.shape)}")
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = torch.ones(c, rows * (h + pad) + pad, columns * (w + pad) + pad)
    for i, image in enumerate(images.detach().float().clamp(0, 1).cpu()):
        top, left = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        canvas[:, top : top + h, left : left + w] = image
    pixels = (canvas * 255).round().to(torch.uint8).numpy()
    return pixels[0] if c == 1 else np.moveaxis(pixels[:3], 0, -1)


def save_grid(images: Tensor, path: str | Path, *, columns: int | None = None, scale: int = 2) -> Path:
    """Write ``grid(images)`` as a PNG, each pixel drawn ``scale`` times wider and taller."""
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"{path}: image grids are written as PNG; give a path ending in .png")
    pixels = grid(images, columns=columns)
    if scale > 1:
        pixels = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    Image.fromarray(pixels).save(partial, format="PNG")
    partial.replace(path)  # atomic: a reader never sees half a file
    return path


def frechet_distance(a: Tensor, b: Tensor) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of features (N, D) and (M, D):

        |mean_a - mean_b|**2 + tr(cov_a) + tr(cov_b) - 2 tr((cov_a cov_b)**(1/2))

    (Dowson & Landau, 1982; the FID of Heusel et al., 2017, on Inception features). Computed in float64
    through symmetric eigendecompositions: tr((A B)**(1/2)) is the sum of the square roots of the
    eigenvalues of A**(1/2) B A**(1/2). Each set needs at least 2 rows.
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or len(a) < 2 or len(b) < 2:
        raise LayerLabError(f"the Fréchet distance compares two sets of features (N, D) with N >= 2 and the "
                            f"same D; got {tuple(a.shape)} and {tuple(b.shape)}")
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    cov_a, cov_b = torch.cov(a.T).reshape(a.shape[1], a.shape[1]), torch.cov(b.T).reshape(b.shape[1], b.shape[1])
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = (vectors * values.clamp(min=0).sqrt()) @ vectors.T
    middle = root_a @ cov_b @ root_a
    cross = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (a.mean(0) - b.mean(0)).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(0.0, distance.item())
