"""``data.unlabeled``: unlabelled inputs from elsewhere than the training split, for ``train.semi``.

    data:
      name: image-folder
      path: photos              # photos/cat/..., photos/dog/...: the labelled images
      unlabeled:
        path: more-photos       # any images under it, their folders' names ignored

    extra = load_unlabeled(cfg.unlabeled, fitted, modality="image", seed=0, settings=settings)

With ``path`` the files are read as ``layerlab predict`` reads a run's inputs (the preprocessor's
``load_inputs``: images at the labelled images' size and channels, WAV recordings at their rate and
length, CSV rows by column name). With ``source`` another source's training examples go through the
labelled data's preprocessing (``{name: mnist}`` beside Fashion-MNIST). Either way the preprocessing is
the one fitted on the labelled training split, and the inputs' labels are unknown: ``UNKNOWN`` (-1), so
the history's pseudo-label accuracy counts only the examples whose true label is known.
"""

from __future__ import annotations

import numpy as np
import torch

from layerlab.data.config import DataConfig, UnlabeledConfig
from layerlab.data.dataset import Split
from layerlab.data.files import resolve_path
from layerlab.data.pixels import Pixels
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.source import SOURCES, SourceContext
from layerlab.data.splits import rng
from layerlab.errors import DataError
from layerlab.settings import Settings

UNKNOWN = -1  # the label of an unlabelled example whose true class nobody knows


def load_unlabeled(cfg: UnlabeledConfig, fitted: Preprocessor, *, modality: str, seed: int, settings: Settings) -> Split:
    """The inputs ``data.unlabeled`` names, preprocessed as the labelled data; labels all ``UNKNOWN``
    (``load_data`` has refused it for a task without classes, as data.labels_per_class).

    Raises DataError naming data.unlabeled when they cannot be read or do not fit the labelled data.
    """
    where = "data.unlabeled.path" if cfg.path is not None else "data.unlabeled.source"
    try:
        x = _from_path(cfg.path, fitted, settings) if cfg.path is not None else _from_source(cfg.source, fitted, modality, settings)
    except DataError as exc:
        raise DataError(f"{where}: {str(exc).removeprefix('data.path: ')}") from None
    if cfg.limit is not None and cfg.limit < len(x):
        keep = np.sort(rng(seed, "unlabeled").choice(len(x), size=cfg.limit, replace=False))
        x = x[torch.from_numpy(keep)] if not isinstance(x, Pixels) else Pixels(
            x.pixels[torch.from_numpy(keep)], x.scale, x.channel_mean, x.channel_std)
    return Split(x, torch.full((len(x),), UNKNOWN, dtype=torch.int64))


def joined(a: Split | None, b: Split) -> Split:
    """The unlabelled examples of ``a`` (data.labels_per_class's) followed by ``b``'s (data.unlabeled's)."""
    if a is None:
        return b
    if isinstance(a.x, Pixels) and isinstance(b.x, Pixels) and _same_scaling(a.x, b.x):
        x = Pixels(torch.cat([a.x.pixels, b.x.pixels]), a.x.scale, a.x.channel_mean, a.x.channel_std)
    else:
        x = torch.cat([torch.as_tensor(a.x[:]), torch.as_tensor(b.x[:])])
    return Split(x, torch.cat([torch.as_tensor(a.y), torch.as_tensor(b.y)]))


def _from_path(path: str, fitted: Preprocessor, settings: Settings) -> torch.Tensor:
    x, _ = fitted.load_inputs([resolve_path(path, settings)])  # resolve_path: DataError naming where it looked
    return x


def _from_source(section: dict, fitted: Preprocessor, modality: str, settings: Settings) -> torch.Tensor | Pixels:
    cfg = DataConfig(**section)
    raw = SOURCES.get(cfg.name)(cfg, SourceContext("unlabelled data", settings))
    if raw.modality != modality:
        raise DataError(f"source {cfg.name} gives {raw.modality} data; the labelled data is {modality}")
    if raw.ordered:
        raise DataError(f"source {cfg.name} is ordered (a text corpus or a time series), not examples to label")
    x, _ = fitted.transform_split(raw.x, np.full(len(raw.x), UNKNOWN), target_dtype=torch.int64)
    return x


def _same_scaling(a: Pixels, b: Pixels) -> bool:
    def same(u: torch.Tensor | None, v: torch.Tensor | None) -> bool:
        return (u is None and v is None) or (u is not None and v is not None and torch.equal(u, v))
    return a.scale == b.scale and same(a.channel_mean, b.channel_mean) and same(a.channel_std, b.channel_std)
