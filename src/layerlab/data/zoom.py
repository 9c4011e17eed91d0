"""Random zoom (``data.augment.zoom``): each image of a batch scaled about its centre by its own factor,
drawn uniformly from [1 - zoom, 1 + zoom], and the targets that lie on its pixels scaled with it.

A factor above 1 enlarges the picture (its borders leave the frame); below 1 shrinks it, and what comes
in at the borders is zeros in the image (the mean, once standardised) and class 0 (the background) in a
class map. A pixel at ``p`` (pixel-edge coordinates, 0 to the side) goes to ``side / 2 + f * (p - side / 2)``:
images are resampled bilinearly, class maps and masks by their nearest pixel, boxes mapped exactly, cut
to the picture, and dropped with their label and mask when left less than a pixel wide or high.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from layerlab.data.targets import StructuredTargets


def zoom_factors(n: int, zoom: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``n`` factors (n,) uniform in [1 - zoom, 1 + zoom], drawn from ``generator`` and placed on ``device``."""
    u = torch.rand((n,), generator=generator, device=generator.device).to(device)
    return 1.0 - zoom + 2.0 * zoom * u


def zoom_images(x: torch.Tensor, factors: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``x`` (B, C, H, W) with each example scaled about its centre by ``factors`` (B,); zeros come in."""
    B = len(x)
    theta = torch.zeros(B, 2, 3, device=x.device, dtype=torch.float32)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / factors.float()  # output point u samples the input at u / f
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x.float(), grid, mode=mode, padding_mode="zeros", align_corners=False).to(x.dtype)


def zoom_targets(y: Any, factors: torch.Tensor, size: tuple[int, int]) -> Any:
    """The targets of a batch whose images were zoomed by ``factors``: class maps (B, H, W), or
    ``StructuredTargets`` of boxes (and masks) per image."""
    if isinstance(y, StructuredTargets):
        return StructuredTargets(_zoom_one(item, float(factors[i]), size) for i, item in enumerate(y))
    return zoom_images(y[:, None], factors, mode="nearest")[:, 0]


def _zoom_one(item: dict[str, torch.Tensor], factor: float, size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """One image's boxes (x1, y1, x2, y2) and masks (k, H, W) zoomed; boxes that leave the picture dropped."""
    H, W = size
    boxes = item["boxes"].float()
    centre = boxes.new_tensor([W / 2, H / 2, W / 2, H / 2])
    boxes = centre + factor * (boxes - centre)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, W)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, H)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    moved = {**item, "boxes": boxes[keep].to(item["boxes"].dtype), "labels": item["labels"][keep]}
    masks = item.get("masks")
    if masks is not None:
        if len(masks):
            factors = torch.full((len(masks),), factor, device=masks.device)
            masks = zoom_images(masks[:, None].float(), factors, mode="nearest")[:, 0].to(masks.dtype)
        moved["masks"] = masks[keep]
    return moved
