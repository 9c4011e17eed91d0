"""Moving targets that lie on the pixels together with their images: class maps (B, H, W) for
segmentation and ``StructuredTargets`` (boxes, masks) for detection.

``BatchAugment.pair`` draws each example's crop offset and flips once and hands the same draws to the
image batch and, through these functions, to its targets, so the boxes and masks stay on the objects.
A crop shifts the picture by up to ``crop_padding`` pixels; what slides in is zeros in the image and
class 0 (the background) in a class map; boxes are cut to the picture and a box left less than a pixel
wide or high is dropped with its label and mask.
"""

from __future__ import annotations

from typing import Any

import torch

from layerlab.data.targets import StructuredTargets


def shift_maps(maps: torch.Tensor, offsets: torch.Tensor, padding: int) -> torch.Tensor:
    """Each (H, W) map of ``maps`` (B, H, W) moved as a crop at ``offsets`` (B, 2) of the padded picture
    moves it: by (padding - row offset, padding - column offset); class 0 fills what slides in."""
    B, H, W = maps.shape
    padded = torch.nn.functional.pad(maps, (padding, padding, padding, padding))
    rows = offsets[:, 0, None] + torch.arange(H, device=maps.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(W, device=maps.device)
    batch = torch.arange(B, device=maps.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def flip_maps(maps: torch.Tensor, flip: torch.Tensor, dim: int) -> torch.Tensor:
    """``maps`` (B, H, W) with the examples where ``flip`` (B,) is True flipped along ``dim`` (1 rows, 2 columns)."""
    return torch.where(flip[:, None, None], maps.flip(dim), maps)


def move_targets(y: Any, *, size: tuple[int, int], offsets: torch.Tensor | None = None, padding: int = 0,
                 hflip: torch.Tensor | None = None, vflip: torch.Tensor | None = None) -> Any:
    """The targets of a batch after the crop (``offsets``), then the left-right, then the upside-down
    flips the images were given (each ``None`` when that augmentation is off)."""
    if isinstance(y, StructuredTargets):
        return StructuredTargets(_move_one(item, size, None if offsets is None else offsets[i] - padding,
                                           hflip is not None and bool(hflip[i]), vflip is not None and bool(vflip[i]))
                                 for i, item in enumerate(y))
    if offsets is not None:
        y = shift_maps(y, offsets, padding)
    if hflip is not None:
        y = flip_maps(y, hflip, 2)
    if vflip is not None:
        y = flip_maps(y, vflip, 1)
    return y


def _move_one(item: dict[str, torch.Tensor], size: tuple[int, int], shift: torch.Tensor | None,
              hflip: bool, vflip: bool) -> dict[str, torch.Tensor]:
    """One image's boxes (x1, y1, x2, y2) and masks (k, H, W) moved; boxes that leave the picture dropped."""
    H, W = size
    boxes = item["boxes"].clone().float()
    masks = item.get("masks")
    if shift is not None:  # the crop's window starts at shift = offset - padding: content moves by -shift
        dy, dx = float(shift[0]), float(shift[1])
        boxes -= boxes.new_tensor([dx, dy, dx, dy])
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, W)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, H)
        if masks is not None and len(masks):
            p = int(max(abs(dy), abs(dx)))
            masks = shift_maps(masks, (shift + p).long()[None].expand(len(masks), 2), p)
    if hflip:
        boxes = torch.stack([W - boxes[:, 2], boxes[:, 1], W - boxes[:, 0], boxes[:, 3]], dim=1)
        masks = None if masks is None else masks.flip(-1)
    if vflip:
        boxes = torch.stack([boxes[:, 0], H - boxes[:, 3], boxes[:, 2], H - boxes[:, 1]], dim=1)
        masks = None if masks is None else masks.flip(-2)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
    moved = {**item, "boxes": boxes[keep].to(item["boxes"].dtype), "labels": item["labels"][keep]}
    if masks is not None:
        moved["masks"] = masks[keep]
    return moved
