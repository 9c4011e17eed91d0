"""What a data source is: a registered function that reads raw examples.

A source is one file under ``layerlab/data/sources/`` with one function registered in ``DATASETS``:

    @DATASETS.register("digits", description="scikit-learn's 8x8 handwritten digits (1,797 images)")
    def load_digits(cfg: DataConfig, ctx: SourceContext) -> RawData: ...

It returns the examples as read (pixels, table cells) with their targets and, when the data set has
one, its own test split. Everything after that (test, limit and validation splits, fitting and
applying the preprocessing) is the same for every source and lives in ``load.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from layerlab.registry import Registry
from layerlab.settings import Settings

if TYPE_CHECKING:
    from layerlab.data.preprocessor import Preprocessor

DATASETS: Registry = Registry("data set")

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class SourceContext:
    """What a source may need besides its recipe section."""

    task: Task
    settings: Settings
    # The preprocessing of a trained run, when its model is evaluated on (new) data: sources take the
    # input shape, columns and classes from it instead of from the data.
    fitted: Preprocessor | None = None


@dataclass
class RawData:
    """Examples as a source read them, before splitting and preprocessing.

    ``x`` is indexed along its first axis: images are (N, C, H, W) raw pixel values (any numeric
    dtype), tables are (N, columns) strings. ``y`` holds class indices (int64) or regression targets
    (float32). ``fit`` fits the preprocessing on the training rows of ``x``.
    """

    modality: Literal["image", "table"]
    x: np.ndarray
    y: np.ndarray
    fit: Callable[[np.ndarray], Preprocessor]
    test_x: np.ndarray | None = None  # the data set's own test split, when it has one
    test_y: np.ndarray | None = None

    @property
    def has_test_split(self) -> bool:
        return self.test_x is not None
