"""Runs trained once per test session for the serving tests: digits-cnn (images), an MLP on a CSV table
with a categorical column and missing numbers, and polarity-cnn (sentences)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_wine

SHARED_DATA = (Path(__file__).resolve().parents[3] / "shared" / "data").resolve()


def _env(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    if SHARED_DATA.is_dir():
        monkeypatch.setenv("LAYERLAB_DATA", str(SHARED_DATA))
    monkeypatch.setenv("LAYERLAB_OFFLINE", "1")
    monkeypatch.setenv("LAYERLAB_CACHE", str(base / "cache"))


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from layerlab.api import run

    base = tmp_path_factory.mktemp("digits")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, base)
        return run("digits-cnn", ["train.epochs=2", "train.report=false"], out=base / "run").run_dir


WINE_HEADER = ["alcohol", "malic_acid", "ash", "magnesium", "colour", "cultivar"]


def wine_rows() -> list[list[str]]:
    wine = load_wine()
    rng = np.random.default_rng(0)
    colour = np.where(wine.target == 0, "red", np.where(rng.random(len(wine.target)) < 0.5, "white", "rose"))
    rows = []
    for i, (x, c, t) in enumerate(zip(wine.data, colour, wine.target)):
        numbers = [f"{v:g}" for v in (x[0], x[1], x[2], x[4])]
        if i % 17 == 3:
            numbers[1] = ""  # a missing number: the run fills it with the training mean
        rows.append([*numbers, str(c), f"c{t}"])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def wine() -> tuple[list[str], list[list[str]]]:
    """The header and rows of the table the table run trained on."""
    return WINE_HEADER, wine_rows()


@pytest.fixture(scope="session")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from layerlab.api import run

    base = tmp_path_factory.mktemp("wine")
    table = write_csv(base / "wine.csv", WINE_HEADER, wine_rows())
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, base)
        return run("tabular-mlp", [f"data.path={table}", "train.epochs=30", "train.report=false"],
                   out=base / "run").run_dir


@pytest.fixture(scope="session")
def write_table():
    """``write_table(path, header, rows) -> path``: a CSV file."""
    return write_csv


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def polarity_run(tmp_path_factory: pytest.TempPathFactory, shared_data_dir: Path) -> Path:
    from layerlab.api import run

    out = tmp_path_factory.mktemp("polarity") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAYERLAB_DATA", str(shared_data_dir))
        mp.setenv("LAYERLAB_OFFLINE", "1")
        return run("polarity-cnn", ["data.limit=1500", "train.epochs=1", "train.report=false"], out=out).run_dir
