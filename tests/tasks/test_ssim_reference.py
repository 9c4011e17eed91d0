"""``tasks.imaging.ssim`` against scikit-image's ``structural_similarity`` on real images: it is that
function with ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1`` (Wang et al.'s
settings), with the window shrunk to an odd side at most the image's for images under 11 pixels."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import structural_similarity
from sklearn.datasets import load_digits

from layerlab.tasks.imaging import SSIM_SIGMA, ssim


def _noisy(images: np.ndarray, level: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, level, images.shape), 0, 1).astype(np.float32)


def _reference(estimate: np.ndarray, target: np.ndarray, *, sigma: float = SSIM_SIGMA, channel_axis: int | None = None) -> np.ndarray:
    return np.array([structural_similarity(e, t, data_range=1.0, gaussian_weights=True, sigma=sigma,
                                           use_sample_covariance=False, channel_axis=channel_axis)
                     for e, t in zip(estimate, target)])


@pytest.mark.parametrize("level", [0.05, 0.3])
def test_ssim_matches_scikit_image_on_fashion_mnist(fashion_dir, level):
    raw = gzip.open(fashion_dir / "t10k-images-idx3-ubyte.gz").read()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:32].astype(np.float32) / 255
    noisy = _noisy(images, level)
    ours = ssim(torch.from_numpy(noisy)[:, None], torch.from_numpy(images)[:, None]).numpy()
    reference = _reference(noisy, images)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert reference.std() > 0.01  # varied cases, not one value repeated


def test_ssim_matches_scikit_image_on_8x8_digits_with_the_shrunk_window():
    images = load_digits().images[:40].astype(np.float32) / 16
    noisy = _noisy(images, 0.2)
    ours = ssim(torch.from_numpy(noisy)[:, None], torch.from_numpy(images)[:, None]).numpy()
    # an 8x8 image takes a 7x7 window: scikit-image's window for sigma 1.5 * 7 / 11 (its truncate 3.5)
    np.testing.assert_allclose(ours, _reference(noisy, images, sigma=SSIM_SIGMA * 7 / 11), atol=1e-5)


def test_ssim_matches_scikit_image_on_colour_photographs(shared_data):
    files = sorted((shared_data / "pennfudan" / "PennFudanPed" / "PNGImages").glob("*.png"))[:6]
    assert files, "PennFudan's photographs are missing"
    images = np.stack([np.asarray(Image.open(f).convert("RGB").resize((96, 80)), np.float32) / 255 for f in files])
    noisy = _noisy(images, 0.1)
    ours = ssim(torch.from_numpy(noisy).permute(0, 3, 1, 2), torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    np.testing.assert_allclose(ours, _reference(noisy, images, channel_axis=2), atol=1e-5)
