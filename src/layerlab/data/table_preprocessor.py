"""Preprocessing of tables: numbers standardised, categories one-hot encoded.

Everything is learned from the training split only: the mean that fills a missing number, the mean and
standard deviation that standardise a column, the categories of a categorical column (a category
first seen later is encoded as all zeros). Targets are not touched here, except that the class names
of a classification table are kept so that new data maps its labels to the same indices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from layerlab.data.images import is_image_file
from layerlab.data.preprocessor import Preprocessor
from layerlab.data.tables import NotANumber, Table, missing_mask, parse_numbers, read_table
from layerlab.errors import DataError


@dataclass
class Column:
    """How one input column becomes model inputs."""

    name: str
    kind: Literal["numeric", "categorical"]
    fill: float = 0.0  # numeric: replaces a missing value (the training mean)
    mean: float = 0.0  # numeric: subtracted, then divided by std (0 and 1 when not standardising)
    std: float = 1.0
    categories: list[str] | None = None  # categorical: one input each, in this order

    def feature_names(self) -> list[str]:
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={c}" for c in self.categories or []]


@dataclass
class TablePreprocessor(Preprocessor):
    kind: ClassVar[str] = "table"

    columns: list[Column]  # the input columns, in the model's order
    target: str  # the target column: its name, or its 0-based index as a string when there is no header
    header: bool  # how CSV files given to ``predict`` are read
    delimiter: str = ","
    classes: list[str] | None = None

    def __post_init__(self) -> None:
        self.columns = [c if isinstance(c, Column) else Column(**c) for c in self.columns]

    @classmethod
    def fit(cls, train: np.ndarray, *, names: list[str], categorical: list[bool], normalize: bool, target: str,
            header: bool, delimiter: str, classes: list[str] | None) -> TablePreprocessor:
        """Fit on the training rows (N, columns) of strings; ``categorical`` says which columns are."""
        columns = []
        for j, (name, is_categorical) in enumerate(zip(names, categorical, strict=True)):
            values = train[:, j]
            if is_categorical:
                present = values[~missing_mask(values)]
                columns.append(Column(name, "categorical", categories=sorted(set(present.tolist()))))
                continue
            numbers = parse_numbers(values)
            known = numbers[~np.isnan(numbers)]
            fill = float(known.mean()) if len(known) else 0.0
            mean, std = (fill, float(known.std()) if len(known) else 1.0) if normalize else (0.0, 1.0)
            columns.append(Column(name, "numeric", fill=fill, mean=mean, std=std if std > 1e-12 else 1.0))
        return cls(columns, target, header, delimiter, classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (len(self.feature_names),)

    @property
    def feature_names(self) -> list[str]:
        return [name for column in self.columns for name in column.feature_names()]

    def transform(self, raw: np.ndarray) -> torch.Tensor:
        if raw.ndim != 2 or raw.shape[1] != len(self.columns):
            raise DataError(f"a table of shape {raw.shape} does not fit this preprocessing, "
                            f"which takes {len(self.columns)} columns ({', '.join(c.name for c in self.columns)})")
        out = np.zeros((len(raw), self.input_shape[0]), dtype=np.float32)
        rows = np.arange(len(raw))
        offset = 0
        for j, column in enumerate(self.columns):
            values = raw[:, j]
            if column.kind == "numeric":
                try:
                    numbers = parse_numbers(values)
                except NotANumber as exc:
                    raise DataError(f"column '{column.name}', row {exc.index + 1}: {exc}") from None
                numbers[np.isnan(numbers)] = column.fill
                out[:, offset] = (numbers - column.mean) / column.std
                offset += 1
            else:
                categories = np.array(column.categories or [], dtype=str)
                if len(categories):
                    index = np.minimum(np.searchsorted(categories, values), len(categories) - 1)
                    seen = categories[index] == values  # unseen (and missing) values stay all zeros
                    out[rows[seen], offset + index[seen]] = 1.0
                offset += len(categories)
        return torch.from_numpy(out)

    def select_inputs(self, table: Table) -> np.ndarray:
        """The input columns of a table, in this preprocessing's order (the target may be absent).

        Raises DataError naming the file when a column is missing or a number does not parse.
        """
        if table.header:
            missing = [c.name for c in self.columns if c.name not in table.names]
            if missing:
                raise DataError(f"{table.path}: missing column(s) {', '.join(missing)}; this run's model takes "
                                f"the columns {', '.join(c.name for c in self.columns)}")
            cells = table.cells[:, [table.names.index(c.name) for c in self.columns]]
        else:
            width, n = table.cells.shape[1], len(self.columns)
            if width == n + 1:
                keep = [j for j in range(width) if j != int(self.target) % width]
                cells = table.cells[:, keep]
            elif width == n:
                cells = table.cells
            else:
                raise DataError(f"{table.path}: {width} columns, but this run's model takes {n} input columns "
                                f"({n + 1} with the target column {self.target})")
        for j, column in enumerate(self.columns):
            if column.kind == "numeric":
                try:
                    infinite = np.flatnonzero(np.isinf(parse_numbers(cells[:, j])))
                except NotANumber as exc:
                    raise DataError(f"{table.path}, line {table.lines[exc.index]}: column '{column.name}': "
                                    f"{exc}, but the run was trained with numbers there") from None
                if len(infinite):
                    raise DataError(f"{table.path}, line {table.lines[infinite[0]]}: column '{column.name}': "
                                    f"'{cells[infinite[0], j]}' is infinite ({len(infinite)} such row(s)); give "
                                    "finite numbers, or leave the cells empty")
        return cells

    def load_inputs(self, paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
        parts, ids = [], []
        for path in paths:
            path = Path(path)
            if path.is_dir():
                raise DataError(f"{path}: a folder; this run's model takes rows of CSV files, give the files")
            if not path.exists():
                raise DataError(f"{path}: no such file")
            if is_image_file(path):
                raise DataError(f"{path}: an image, but this run's model takes rows of CSV files")
            table = read_table(path, delimiter=self.delimiter, header=self.header)
            parts.append(self.select_inputs(table))
            ids += [f"{path}:{line}" for line in table.lines.tolist()]
        if not parts:
            raise DataError("no input files given")
        return self.transform(np.concatenate(parts)), ids

    def _fields(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "target": self.target, "header": self.header,
                "delimiter": self.delimiter, "classes": self.classes}
