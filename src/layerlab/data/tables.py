"""Reading CSV tables into a grid of strings, and telling numbers and missing values apart.

Used by the ``csv`` source (training data) and by ``TablePreprocessor.load_inputs`` (``predict``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layerlab.errors import DataError, did_you_mean

# Cells that mean "no value" (compared lower-cased, after stripping spaces).
MISSING = ("", "na", "n/a", "nan", "null", "none", "?")


@dataclass
class Table:
    """A CSV file's cells as strings (spaces stripped), one row per example."""

    path: Path
    names: list[str]  # column names; "0", "1", ... when the file has no header
    cells: np.ndarray  # (rows, columns) of str
    lines: np.ndarray  # (rows,) the line in the file where each row is (1-based)
    header: bool

    def column_index(self, key: str, *, role: str = "column") -> int:
        """The position of a column given by name, or by 0-based index (negative counts from the end)."""
        if key in self.names:
            return self.names.index(key)
        if key.lstrip("-").isdigit():
            index = int(key)
            if -len(self.names) <= index < len(self.names):
                return index % len(self.names)
            raise DataError(f"{self.path}: the {role} index {index} is out of range; the file has "
                            f"{len(self.names)} columns (0 to {len(self.names) - 1})")
        raise DataError(f"{self.path}: no {role} '{key}'{did_you_mean(key, self.names)}; "
                        f"columns: {', '.join(self.names)}")


def read_table(path: Path, *, delimiter: str = ",", header: bool = True) -> Table:
    """Read a CSV file. Raises DataError for an unreadable file, ragged rows or no data rows."""
    if len(delimiter) != 1:
        raise DataError(f"data.delimiter: the column separator must be one character, not {delimiter!r}")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue  # blank line
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None

    if header and rows:
        names, rows, lines = rows[0], rows[1:], lines[1:]
        names = [name or f"column{i}" for i, name in enumerate(names)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(f"{path}: the header names a column more than once: {', '.join(duplicates)}")
    else:
        names = [str(i) for i in range(len(rows[0]) if rows else 0)]
    if not rows:
        raise DataError(f"{path}: no data rows" + (" below the header" if header else ""))
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(names):
            first = "the header" if header else "the first row"
            raise DataError(f"{path}, line {line}: {len(row)} fields where {first} has {len(names)} "
                            f"(is data.delimiter {delimiter!r} right?)")
    return Table(Path(path), names, np.array(rows, dtype=str), np.array(lines, dtype=np.int64), header)


def missing_mask(values: np.ndarray) -> np.ndarray:
    """True where a cell holds no value (empty, NA, nan, ...)."""
    return np.isin(np.char.lower(values.astype(str)), MISSING)


def is_numeric(values: np.ndarray) -> bool:
    """Whether every present value of a column parses as a number."""
    present = values[~missing_mask(values)]
    try:
        present.astype(np.float64)
    except ValueError:
        return False
    return True


class NotANumber(ValueError):
    """A cell of a numeric column that does not parse; ``index`` is its row."""

    def __init__(self, index: int, value: str):
        super().__init__(f"'{value}' is not a number")
        self.index, self.value = index, value


def parse_numbers(values: np.ndarray) -> np.ndarray:
    """A column as float64, NaN where a value is missing. Raises NotANumber for the first bad cell."""
    missing = missing_mask(values)
    out = np.full(len(values), np.nan)
    try:
        out[~missing] = values[~missing].astype(np.float64)
    except ValueError:
        for i in np.flatnonzero(~missing):  # only to find the culprit for the message
            try:
                values[i : i + 1].astype(np.float64)
            except ValueError:
                raise NotANumber(int(i), str(values[i])) from None
        raise
    return out


def not_numbers(values: np.ndarray) -> np.ndarray:
    """The rows of a column whose present values do not parse as numbers."""
    present = np.flatnonzero(~missing_mask(values))
    bad = set()
    for value in np.unique(values[present]).tolist():
        try:
            float(value)
        except ValueError:
            bad.add(value)
    return present[np.isin(values[present], sorted(bad))] if bad else present[:0]


def infinite_rows(values: np.ndarray) -> np.ndarray:
    """The rows of a numeric column that hold an infinite value ('inf', '-inf', '1e999'), which no mean can fill."""
    return np.flatnonzero(np.isinf(parse_numbers(values)))


def where(table: Table, rows: np.ndarray, column: int, shown: int = 5) -> str:
    """``line 12 ('abc'), line 40 ('x'), ...``: the first ``shown`` of ``rows`` with their cells in ``column``."""
    first = ", ".join(f"line {table.lines[i]} ({str(table.cells[i, column])!r})" for i in rows[:shown])
    return first + (", ..." if len(rows) > shown else "")
