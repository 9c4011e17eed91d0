"""What a task needs from the data (``TargetSpec``), and targets that are not one tensor.

A task declares its spec as a class attribute; ``load_data`` reads it to decide the targets' type,
whether the splits keep the class proportions, and which kinds of data the task can learn from:

    class RegressionTask(Task):
        target = TargetSpec("real", modalities=("table", "text", "audio"))

Targets that differ in shape from example to example (the boxes of a detection, a mask) are kept as
``StructuredTargets``: one dict of tensors per example, indexed and moved like a tensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

# What one example's target is: a class index, real values (one or a vector), token ids, or a dict of
# tensors of its own shape (boxes and their labels, a mask).
TargetKind = Literal["class", "real", "tokens", "structured"]
MODALITIES = ("image", "table", "text", "audio", "series")


@dataclass(frozen=True)
class TargetSpec:
    kind: TargetKind
    # Learns from the inputs alone (autoencoders, VAEs, GANs); the class labels are still loaded as
    # targets (conditional GANs and class-coloured embeddings use them).
    unsupervised: bool = False
    stratify: bool = False  # the held-out splits keep the class proportions (not for ordered data)
    modalities: tuple[str, ...] = ("image", "table", "text", "audio")  # the kinds of data it learns from
    needs: str = ""  # the data it needs, in words, for the message when other data is given
    # The targets lie on the pixels (boxes, masks, class maps): crops and flips move them with the pixels
    # (``BatchAugment.pair``); erasing would hide objects the targets still show, so load_data refuses it.
    on_pixels: bool = False

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of a tensor of these targets (None: structured, no one tensor)."""
        return {"class": torch.int64, "tokens": torch.int64, "real": torch.float32}.get(self.kind)

    def example_targets(self, n: int) -> Any:
        """``n`` made-up targets (zeros) of this kind, one per example, for a task's metrics to name
        themselves on. None for structured targets, which have no made-up form."""
        if self.kind == "structured":
            return None
        return torch.zeros(n, dtype=self.dtype)


class StructuredTargets(list):
    """One dict of tensors per example (``{"boxes": (k, 4), "labels": (k,)}``), standing where a target
    tensor stands: ``len``, indexing by a slice or an index tensor (as batching does) and ``.to(device)``."""

    def __init__(self, items: Iterable[Mapping[str, torch.Tensor]] = ()):
        super().__init__(dict(item) for item in items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, torch.Tensor):
            return StructuredTargets(super(StructuredTargets, self).__getitem__(i) for i in index.tolist())
        if isinstance(index, slice):
            return StructuredTargets(super().__getitem__(index))
        if hasattr(index, "__len__") and not isinstance(index, str):  # a numpy array or a list of positions
            return StructuredTargets(super(StructuredTargets, self).__getitem__(int(i)) for i in index)
        return super().__getitem__(index)

    def to(self, device: torch.device | str) -> StructuredTargets:
        return StructuredTargets({k: v.to(device) for k, v in item.items()} for item in self)
