"""A table in a CSV file: one row per example, one column the target.

Numeric columns are standardised, and categorical ones (non-numeric, or listed in
``data.categorical``) one-hot encoded, by ``TablePreprocessor`` with statistics of the training split.
For classification the classes are the target's distinct values, sorted (numerically when they are
all numbers); for regression the target is a number, left in the user's units.
"""

from __future__ import annotations

import logging

import numpy as np

from layerlab.data.files import recipe_file
from layerlab.data.source import SOURCES, RawData, SourceContext
from layerlab.data.source_configs import CsvConfig
from layerlab.data.table_preprocessor import TablePreprocessor
from layerlab.data.tables import (
    NotANumber,
    Table,
    infinite_rows,
    is_numeric,
    missing_mask,
    not_numbers,
    parse_numbers,
    read_table,
    where,
)
from layerlab.errors import DataError

log = logging.getLogger(__name__)


@SOURCES.register("csv")
def load_csv(cfg: CsvConfig, ctx: SourceContext) -> RawData:
    path = recipe_file(cfg.path, ctx.settings, "csv", "CSV file")
    table = read_table(path, delimiter=cfg.delimiter, header=cfg.header)
    fitted = ctx.fitted if isinstance(ctx.fitted, TablePreprocessor) else None

    target_key = fitted.target if fitted else cfg.target if cfg.target is not None else table.names[-1]
    target = table.column_index(target_key, role="target column")
    if table.cells.shape[1] < 2:
        raise DataError(f"{path}: only one column; a table needs input columns besides the target")
    y, classes = _targets(table, target, ctx.target.kind, fitted.classes if fitted else None)

    if fitted is not None:  # a trained run's model on (new) data: its columns, as it was trained
        return RawData(modality="table", x=fitted.select_inputs(table), y=y, fit=lambda train: fitted,
                       meta=_meta(table))

    inputs = [j for j in range(len(table.names)) if j != target]
    names = [table.names[j] for j in inputs]
    listed = {table.column_index(c, role="categorical column") for c in cfg.categorical or []}
    categorical = [j in listed or not is_numeric(table.cells[:, j]) for j in inputs]
    for j, is_categorical in zip(inputs, categorical, strict=True):
        _check_column(table, j, numeric=not is_categorical, listed=j in listed)

    def fit(train: np.ndarray) -> TablePreprocessor:
        return TablePreprocessor.fit(train, names=names, categorical=categorical, normalize=cfg.normalize,
                                     target=table.names[target], header=cfg.header, delimiter=cfg.delimiter,
                                     classes=classes)

    return RawData(modality="table", x=table.cells[:, inputs], y=y, fit=fit, meta=_meta(table))


# A column whose cells are numbers but for fewer than this share is taken for a numeric one with typos,
# not for categories: one-hot encoding it would turn every distinct number into an input of its own.
STRAY_SHARE = 0.05


def _check_column(table: Table, column: int, *, numeric: bool, listed: bool) -> None:
    """Refuse (DataError) an input column with infinite numbers, or numbers with a few stray words among them."""
    values, name = table.cells[:, column], table.names[column]
    if numeric:
        infinite = infinite_rows(values)
        if len(infinite):
            raise DataError(f"{table.path}: column '{name}' holds an infinite number on {len(infinite)} row(s) "
                            f"({where(table, infinite, column)}), which would train into a NaN loss; replace "
                            "them with finite numbers or leave the cells empty (empty cells get the column's mean)")
        return
    if listed:
        return
    stray = not_numbers(values)
    present = int((~missing_mask(values)).sum())
    if len(stray) < STRAY_SHARE * present:
        raise DataError(f"{table.path}: column '{name}' holds numbers except on {len(stray)} of {present} row(s) "
                        f"({where(table, stray, column)}); as text it would become {len(set(values.tolist()))} "
                        "one-hot categories. Correct those cells or leave them empty (empty cells get the "
                        f"column's mean), or list '{name}' in data.categorical to encode it as categories")


def _meta(table: Table) -> dict[str, np.ndarray]:
    """Each row's line in the file as its id, and its raw cells as ``column:<name>`` (for data.groups)."""
    return {"id": table.lines.astype(str),
            **{f"column:{name}": table.cells[:, j] for j, name in enumerate(table.names)}}


def _targets(table: Table, target: int, kind: str, known: list[str] | None) -> tuple[np.ndarray, list[str] | None]:
    """The target column as class indices (and the class names) or as float32 numbers."""
    values = table.cells[:, target]
    name = table.names[target]
    missing = np.flatnonzero(missing_mask(values))
    if len(missing):
        lines = ", ".join(str(line) for line in table.lines[missing[:5]]) + (", ..." if len(missing) > 5 else "")
        raise DataError(f"{table.path}: the target column '{name}' is empty on {len(missing)} row(s) "
                        f"(line {lines}); remove those rows or fill in their targets")
    if kind == "real":
        try:
            numbers = parse_numbers(values).astype(np.float32)
        except NotANumber as exc:
            raise DataError(f"{table.path}, line {table.lines[exc.index]}: target column '{name}': {exc}; "
                            "regression needs numeric targets (or use task.name: classification)") from None
        infinite = np.flatnonzero(~np.isfinite(numbers))  # also a finite number too large for float32
        if len(infinite):
            raise DataError(f"{table.path}: target column '{name}' is infinite on {len(infinite)} row(s) "
                            f"({where(table, infinite, target)}); regression needs finite targets")
        return numbers, None

    classes = known if known is not None else sort_classes(np.unique(values).tolist())
    order = np.argsort(classes)
    sorted_classes = np.array(classes, dtype=str)[order]
    position = np.minimum(np.searchsorted(sorted_classes, values), len(classes) - 1)
    unknown = np.flatnonzero(sorted_classes[position] != values)
    if len(unknown):
        first = unknown[0]
        raise DataError(f"{table.path}, line {table.lines[first]}: class '{values[first]}' of column '{name}' "
                        f"is not one of the run's classes ({', '.join(classes)})")
    if known is None and len(classes) > 50 and is_numeric(values):
        log.warning("%s: the target column '%s' has %d distinct numeric values; did you mean task.name: regression?",
                    table.path, name, len(classes))
    return order[position].astype(np.int64), classes


def sort_classes(values: list[str]) -> list[str]:
    """Class names in order: numerically when they are all numbers ("2" before "10"), else alphabetically."""
    try:
        return sorted(values, key=lambda v: (float(v), v))
    except ValueError:
        return sorted(values)
