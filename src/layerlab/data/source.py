"""What a data source is: a registered function that reads raw examples.

A source is one file under ``layerlab/data/sources/`` with one function registered in ``SOURCES``;
the class of its recipe options (a ``DataConfig`` subclass) is declared with its name, without torch, in
``layerlab.data.source_configs``:

    class CsvConfig(ColumnsConfig):                                    # data/source_configs.py
        categorical: list[str] | None = Field(None, description="...")
    SOURCES.declare("csv", "layerlab.data.sources.csv_table", config=CsvConfig, description="a CSV table")

    @SOURCES.register("csv")                                           # data/sources/csv_table.py
    def load_csv(cfg: CsvConfig, ctx: SourceContext) -> RawData: ...

It returns the examples as read (pixels, table cells) with their targets and, when the data set has
one, its own test split. Everything after that (test, limit and validation splits, fitting and
applying the preprocessing) is the same for every source and lives in ``load.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from layerlab.data.registry import DATASETS, SOURCES
from layerlab.data.targets import TargetSpec
from layerlab.settings import Settings

if TYPE_CHECKING:
    from layerlab.data.preprocessor import Preprocessor

CLASS_TARGETS = TargetSpec("class", stratify=True)  # classification's
__all__ = ["CLASS_TARGETS", "DATASETS", "SOURCES", "RawData", "SourceContext"]


@dataclass(frozen=True)
class SourceContext:
    """What a source may need besides its recipe section."""

    task: str  # the task's name, for messages
    settings: Settings
    # The preprocessing of a trained run, when its model is evaluated on (new) data: sources take the
    # input shape, columns and classes from it instead of from the data.
    fitted: Preprocessor | None = None
    target: TargetSpec = CLASS_TARGETS  # what the task needs of the targets


@dataclass
class RawData:
    """Examples as a source read them, before splitting and preprocessing.

    ``x`` is indexed along its first axis: images are (N, C, H, W) raw pixel values (any numeric
    dtype), tables are (N, columns) strings. ``y`` holds class indices (int64) or regression targets
    (float32). ``fit`` fits the preprocessing on the training rows of ``x``.
    """

    modality: Literal["image", "table", "text", "audio", "series"]
    x: np.ndarray
    y: np.ndarray
    fit: Callable[[np.ndarray], Preprocessor]
    test_x: np.ndarray | None = None  # the data set's own test split, when it has one
    test_y: np.ndarray | None = None
    # Per-example metadata, one array per key, aligned with x (and test_x): "file" (the path an example
    # was read from), "id" (its identity; default the file, else train:<i>/test:<i>), "column:<name>"
    # (a table's raw cells). Used for groups (layerlab.data.groups) and to name examples in reports.
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    test_meta: dict[str, np.ndarray] = field(default_factory=dict)
    # Examples in an order that matters (the characters of a text, the steps of a time series): the
    # held-out splits are cut from the end by position, never shuffled or stratified, and ``limit``
    # keeps the first examples. With ``val_size`` the last ``val_size`` examples of ``x`` are the data
    # set's own validation split (Multi30k's val); an unordered source may set it too (layerlab.fit's val
    # data): its test split and limit then apply to the examples before those, and the validation split is them.
    ordered: bool = False
    val_size: int | None = None
    # Ordered examples dropped before each held-out split, so that no target lies in two splits
    # (forecasting windows: horizon - 1, as neighbouring windows share all but one target step).
    gap: int = 0

    @property
    def has_test_split(self) -> bool:
        return self.test_x is not None
