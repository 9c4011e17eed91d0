"""Groups of examples: who or what each example belongs to, for audits and group-balanced training.

A group rule is a string (``data.groups`` in a recipe, ``--group`` for ``layerlab audit``):

    column:NAME      a column of a CSV table (its raw value; the column may also be a model input)
    file:REGEX       searched in each example's file name (``fsdd``: ``file:^\\d+_([a-z]+)_``);
                     the first parenthesised group is the group, or the whole match when there is none
    meta:PATH        a CSV file with a header and two columns, an example's id and its group; an id
                     is a file name (with or without its folders), a CSV line number, or for data
                     sets without files ``train:<index>`` / ``test:<index>`` (in the source's order,
                     for a source with its own test split) or ``<index>`` (for one without)

Each example carries an ``id`` from its source (``RawData.meta["id"]``); tables carry their raw
cells as ``column:<name>``. ``group_labels`` turns a rule and that metadata into one string per
example, and refuses, naming the examples, a rule that leaves some without a group.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from layerlab.data.dataset import Split
from layerlab.errors import DataError

if TYPE_CHECKING:
    from layerlab.data.config import DataConfig
    from layerlab.data.source import RawData

GroupRule = Callable[[dict[str, np.ndarray]], np.ndarray]
KINDS = ("column", "file", "meta")
SHOWN = 5  # examples named in an error


def parse_group_rule(spec: str, *, base: Path | None = None) -> GroupRule:
    """A function from per-example metadata to group labels, for a rule string (module docstring).

    ``base`` is where a relative ``meta:`` path is looked for after the working directory. Raises
    DataError for an unknown kind, a bad regular expression, or a metadata file that cannot be read.
    """
    kind, sep, value = spec.partition(":")
    if not sep or kind not in KINDS or not value:
        raise DataError(f"groups: '{spec}' is not a group rule; use column:NAME (tables), file:REGEX "
                        "(searched in file names) or meta:PATH (a CSV of id,group)")
    if kind == "column":
        return lambda meta: _column(meta, value)
    if kind == "file":
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise DataError(f"groups: file:{value} is not a valid regular expression ({exc})") from None
        return lambda meta: _from_file_names(meta, pattern)
    table = _read_metadata(_find(value, base))
    return lambda meta: _from_table(meta, table, value)


def group_labels(spec: str, meta: dict[str, np.ndarray], *, base: Path | None = None) -> np.ndarray:
    """The group of each example (a string array) under ``spec``; see ``parse_group_rule``."""
    return parse_group_rule(spec, base=base)(meta)


def balanced_order(groups: np.ndarray, *, seed: int) -> np.ndarray:
    """Indices that repeat the examples of the smaller groups so that every group is as large as the
    largest: each example appears at least once, and the extra draws of a group are spread evenly over
    its examples (whole copies, then a seeded sample without replacement). Sorted, so that the
    trainer's own shuffling decides the batch order."""
    names, codes, counts = np.unique(groups, return_inverse=True, return_counts=True)
    target = counts.max() if len(counts) else 0
    generator = np.random.default_rng([seed % 2**64, *b"group-balance"])
    chosen = []
    for g in range(len(names)):
        members = np.flatnonzero(codes == g)
        copies, extra = divmod(target, len(members))
        chosen += [np.tile(members, copies), generator.choice(members, size=extra, replace=False)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


# ------------------------------------------------------------------------------------------- rules
def _column(meta: dict[str, np.ndarray], name: str) -> np.ndarray:
    key = f"column:{name}"
    if key not in meta:
        columns = [k.removeprefix("column:") for k in meta if k.startswith("column:")]
        if not columns:
            raise DataError(f"groups: column:{name} needs a table (the csv source); this data has no columns. "
                            "Use file:REGEX or meta:PATH")
        from layerlab.errors import did_you_mean

        raise DataError(f"groups: the table has no column '{name}'{did_you_mean(name, columns)} "
                        f"(columns: {', '.join(columns)})")
    return np.asarray(meta[key]).astype(str)


def _from_file_names(meta: dict[str, np.ndarray], pattern: re.Pattern[str]) -> np.ndarray:
    files = meta.get("file")
    if files is None:
        raise DataError(f"groups: file:{pattern.pattern} needs examples read from files; this data set's "
                        "examples have no file names. Use meta:PATH with ids like train:0")
    labels, missing = [], []
    for i, path in enumerate(files):
        found = pattern.search(Path(str(path)).name)
        if found is None:
            missing.append(i)
            labels.append("")
        else:
            labels.append(found.group(1) if pattern.groups else found.group(0))
    if missing:
        names = ", ".join(Path(str(files[i])).name for i in missing[:SHOWN])
        raise DataError(f"groups: file:{pattern.pattern} matches no part of {len(missing)} file name(s) "
                        f"(e.g. {names}); every example needs a group")
    return np.asarray(labels, dtype=str)


def _from_table(meta: dict[str, np.ndarray], table: dict[str, str], source: str) -> np.ndarray:
    ids = np.asarray(meta["id"]).astype(str)
    labels, missing = [], []
    for example in ids:
        group = table.get(example)
        if group is None:
            group = table.get(Path(example).name)  # a file name given without its folders
        if group is None:
            missing.append(example)
        labels.append(group or "")
    if missing:
        raise DataError(f"groups: {source} gives no group for {len(missing)} example(s), e.g. "
                        f"{', '.join(missing[:SHOWN])}; its first column must hold these ids")
    return np.asarray(labels, dtype=str)


def _find(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if not path.exists() and base is not None and (base / path).exists():
        path = base / path
    if not path.is_file():
        raise DataError(f"groups: meta:{value}: no such file")
    return path


def _read_metadata(path: Path) -> dict[str, str]:
    """``{id: group}`` from a CSV file with a header row and (at least) two columns."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"groups: cannot read {path} ({exc})") from None
    if len(rows) < 2 or any(len(row) < 2 for row in rows[1:]):
        raise DataError(f"groups: {path} must have a header and rows of (id, group); "
                        f"found {len(rows)} row(s)")
    return {row[0].strip(): row[1].strip() for row in rows[1:]}


# ------------------------------------------------------------------------------------ in load_data
def attach_metadata(raw: RawData, cfg: DataConfig, splits: tuple[Split, Split, Split],
                    positions: tuple[np.ndarray, np.ndarray, np.ndarray], *, seed: int,
                    base: Path | None = None) -> tuple[Split, Split, Split]:
    """The (train, val, test) splits with their ``ids`` and, under ``cfg.groups``, their ``groups``;
    with ``cfg.group_balance`` the training split is resampled by ``balanced_order``.

    ``positions`` locate each split's examples in ``raw.x`` (train, val, and test when the source has
    no test split of its own) or in ``raw.test_x`` (test, when it has).
    """
    pool_meta = _pool_meta(raw)
    test_meta = _with_ids(raw.test_meta, len(raw.test_y), "test:") if raw.has_test_split else pool_meta
    rule = parse_group_rule(cfg.groups, base=base) if cfg.groups else None
    out = []
    for split, at, meta in zip(splits, positions, (pool_meta, pool_meta, test_meta)):
        chosen = {key: np.asarray(values)[at] for key, values in meta.items()}
        groups = rule(chosen) if rule is not None and len(at) else None
        out.append(Split(split.x, split.y, chosen["id"].astype(str), groups))
    train, val, test = out
    if cfg.group_balance and train.groups is not None:
        order = balanced_order(train.groups, seed=seed)
        index = torch.from_numpy(order)
        train = Split(train.x[index], train.y[index], train.ids[order], train.groups[order])
    return train, val, test


def pool_groups(raw: RawData, cfg: DataConfig, at: np.ndarray, *, base: Path | None = None) -> np.ndarray:
    """The groups (``data.groups``) of the examples at ``at`` in ``raw.x`` (the pool the training and
    validation splits are cut from), for a draw made before the splits carry their metadata."""
    chosen = {key: np.asarray(values)[at] for key, values in _pool_meta(raw).items()}
    return parse_group_rule(cfg.groups, base=base)(chosen)


def _pool_meta(raw: RawData) -> dict[str, np.ndarray]:
    return _with_ids(raw.meta, len(raw.y), "train:" if raw.has_test_split else "")


def _with_ids(meta: dict[str, np.ndarray], n: int, prefix: str) -> dict[str, np.ndarray]:
    if "id" in meta:
        return meta
    if "file" in meta:
        return {**meta, "id": np.asarray(meta["file"]).astype(str)}
    return {**meta, "id": np.char.add(prefix, np.arange(n).astype(str))}
