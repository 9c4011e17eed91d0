"""What ``load_data`` returns: three splits of model-ready tensors, a description, the preprocessing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from layerlab.data.preprocessor import Preprocessor
    from layerlab.data.targets import StructuredTargets


@dataclass
class Split:
    """Examples of one split, held in memory and batched by index.

    ``x`` is float32 of shape (N, *input_shape), already preprocessed. ``y`` is a tensor of the task's
    kind of target (int64 class indices or token ids, float32 values), or for structured targets (a
    detection's boxes) ``StructuredTargets``, one dict of tensors per example, which is indexed and moved
    to a device as a tensor is.
    """

    x: torch.Tensor
    y: torch.Tensor | StructuredTargets
    ids: np.ndarray | None = None  # one string per example: its file, CSV line or train:<i> (see RawData.meta)
    groups: np.ndarray | None = None  # one string per example under data.groups; None without a rule

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device: torch.device | str) -> Split:
        """The same split on ``device`` (no copy when it is already there)."""
        return Split(self.x.to(device), self.y.to(device), self.ids, self.groups)


@dataclass
class DataInfo:
    """What a model and a task need to know about the data; saved in the run directory as JSON."""

    name: str  # the data source (``data.name``)
    modality: str  # "image" or "table"
    input_shape: tuple[int, ...]  # per example: (C, H, W) or (n_features,)
    num_classes: int | None  # None for regression
    class_names: list[str] | None
    feature_names: list[str] | None  # tables: the model's input columns, after one-hot encoding
    vocab_size: int | None = None  # text: token ids lie in 0..vocab_size-1 (the source side for translation)
    target_vocab_size: int | None = None  # translation: of the target language
    pad_id: int | None = None  # text: the id that pads short sentences

    def model_hints(self) -> dict[str, Any]:
        """Model options the data decides (the vocabulary sizes), for ``create_model(data_fields=...)``."""
        return {k: v for k, v in (("vocab_size", self.vocab_size), ("target_vocab_size", self.target_vocab_size))
                if v is not None}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        return cls(
            name=d["name"],
            modality=d["modality"],
            input_shape=tuple(int(s) for s in d["input_shape"]),
            num_classes=d.get("num_classes"),
            class_names=d.get("class_names"),
            feature_names=d.get("feature_names"),
            vocab_size=d.get("vocab_size"),
            target_vocab_size=d.get("target_vocab_size"),
            pad_id=d.get("pad_id"),
        )


@dataclass
class Dataset:
    """Train, validation and test splits, their description, and the preprocessing that made them."""

    train: Split
    val: Split
    test: Split
    info: DataInfo
    preprocessor: Preprocessor
    unlabeled: Split | None = None  # data.labels_per_class: the training examples without labels (true ones hidden in y); data.unlabeled: its inputs after those (labels UNKNOWN)
