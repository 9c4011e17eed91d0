"""The preprocessing of a run: all that turns raw inputs into model inputs.

It is fitted on the training split only (normalisation statistics, the categories of table columns,
the class names) and saved in the run directory as plain JSON, so that ``evaluate`` and ``predict``
prepare new inputs exactly as the training inputs were prepared. There are two kinds, one per
modality: ``ImagePreprocessor`` and ``TablePreprocessor``; ``Preprocessor.from_dict`` rebuilds either.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from layerlab.errors import DataError

FORMAT = 1  # bumped when the saved form changes incompatibly
# The module of each built-in kind: a saved preprocessing loads it (the data package imports its modules
# lazily, so a run read back may name a kind not imported yet)
KIND_MODULES = {"audio": "layerlab.data.audio_preprocessor", "image": "layerlab.data.image_preprocessor",
                "series": "layerlab.data.series_preprocessor", "table": "layerlab.data.table_preprocessor",
                "text": "layerlab.data.text.preprocessor"}


class Preprocessor(ABC):
    """Base of the two kinds of preprocessing; see ``ImagePreprocessor`` and ``TablePreprocessor``."""

    kind: ClassVar[str]  # "image" or "table": the modality it prepares
    _kinds: ClassVar[dict[str, type[Preprocessor]]] = {}

    classes: list[str] | None  # the class names, in the order of the class indices (None: regression)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Preprocessor._kinds[cls.kind] = cls

    @property
    @abstractmethod
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one model input."""

    @property
    def feature_names(self) -> list[str] | None:
        """Names of the model's input features (tables), or None."""
        return None

    @abstractmethod
    def transform(self, raw: np.ndarray) -> torch.Tensor:
        """Model inputs (float32, (N, *input_shape)) from raw examples as a source reads them."""

    def transform_split(self, x: np.ndarray, y: np.ndarray, *,
                        target_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Model inputs and targets of one split. Most preprocessing prepares the inputs only; text cut
        into windows (language modelling) and sentence pairs (translation) make both from ``x``."""
        return self.transform(x), torch.tensor(np.asarray(y), dtype=target_dtype)

    def data_fields(self) -> dict[str, Any]:
        """Further ``DataInfo`` fields this preprocessing knows (text: vocabulary sizes, padding id)."""
        return {}

    def with_inputs_of(self, source: Preprocessor) -> Preprocessor:
        """This preprocessing with its input side taken from ``source``: the preprocessing of the run a
        backbone comes from (``model.from_run``), so that the backbone sees inputs prepared as it learned
        them (its normalisation statistics, its tokenizer), while the targets and classes stay this data's.
        This default keeps this data's own statistics (tables and
        series: their columns and scales are their own data's). Raises DataError when the two do not fit."""
        return self

    @abstractmethod
    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        """Model inputs read from files, and one id per example (for ``layerlab predict``).

        Images: image files or folders of them; tables: CSV files (the target column may be there and
        is ignored). Raises DataError naming the file that cannot be read or does not fit.
        """

    @abstractmethod
    def _fields(self) -> dict[str, Any]:
        """The JSON-able fields that rebuild this preprocessor through its constructor."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (no pickle) that ``Preprocessor.from_dict`` turns back into this."""
        return {"kind": self.kind, "format": FORMAT, **self._fields()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preprocessor:
        """Rebuild a preprocessor saved with ``to_dict``. Raises DataError for an unknown form."""
        fields = dict(d)
        kind = fields.pop("kind", None)
        version = fields.pop("format", FORMAT)
        if kind in KIND_MODULES and kind not in Preprocessor._kinds:
            importlib.import_module(KIND_MODULES[kind])
        if kind not in Preprocessor._kinds or version != FORMAT:
            raise DataError(f"saved preprocessing of kind {kind!r}, format {version} is not one this version "
                            f"of LayerLab reads (kinds: {', '.join(sorted({*KIND_MODULES, *Preprocessor._kinds}))}; format {FORMAT})")
        return Preprocessor._kinds[kind](**fields)


def input_files(paths: list[Path], list_folder: Callable[[Path], list[Path]], what: str, *,
                refuse: dict[str, str] | None = None) -> list[Path]:
    """The files named by ``paths`` for ``layerlab predict``: files as given, folders as ``list_folder``
    finds them (``what``: "image files", "WAV files"). ``refuse`` maps a suffix to the reason such a
    file does not fit. A missing path, an empty folder or nothing at all is a DataError naming it."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list_folder(path)
            if not found:
                raise DataError(f"{path}: no {what} in this folder")
            files += found
        elif not path.exists():
            raise DataError(f"{path}: no such file or folder")
        elif refuse and path.suffix.lower() in refuse:
            raise DataError(f"{path}: {refuse[path.suffix.lower()]}")
        else:
            files.append(path)  # the reader says so if it is not of the kind
    if not files:
        raise DataError("no input files given")
    return files
