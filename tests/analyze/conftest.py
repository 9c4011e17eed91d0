"""Small trained runs shared by the report, explain and audit tests (trained once per session)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine

import layerlab

DIGITS_OVERRIDES = ["train.epochs=3", "model.width=8", "model.blocks=2", "task.calibrate=temperature",
                    "train.diagnostics_every=5"]


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """A small CNN on scikit-learn's digits, temperature-scaled, with diagnostics every 5 steps."""
    out = tmp_path_factory.mktemp("digits") / "run"
    layerlab.run("digits-cnn", DIGITS_OVERRIDES, out=out)
    return out


@pytest.fixture(scope="session")
def wine_table(tmp_path_factory) -> Path:
    """The wine data set as a CSV, with a categorical 'colour' column (a group to audit by)."""
    wine = load_wine()
    rng = np.random.default_rng(0)
    colour = np.where(wine.target == 0, "red", np.where(rng.random(len(wine.target)) < 0.5, "white", "rose"))
    header = [*wine.feature_names, "colour", "cultivar"]
    rows = [[*map(float, x), c, f"c{t}"] for x, c, t in zip(wine.data, colour, wine.target)]
    return write_csv(tmp_path_factory.mktemp("wine") / "wine.csv", header, rows)


@pytest.fixture(scope="session")
def diabetes_run(tmp_path_factory) -> Path:
    """A regression MLP on the diabetes table (its 'sex' column is a group with two values)."""
    diabetes = load_diabetes()
    folder = tmp_path_factory.mktemp("diabetes")
    header = [*diabetes.feature_names, "progression"]
    table = write_csv(folder / "d.csv", header, [[*x, y] for x, y in zip(diabetes.data, diabetes.target)])
    layerlab.run("tabular-mlp", [f"data.path={table}", "task.name=regression", "train.epochs=15"], out=folder / "run")
    return folder / "run"
