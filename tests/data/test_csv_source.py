"""The csv source: standardised numbers, one-hot categories, missing values, targets by name or index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerlab.data import load_data
from layerlab.errors import DataError
from layerlab.recipe import DataConfig

COLORS = ["red", "blue", "green"]


def write_csv(path, *, header=True, delimiter=",", rows=40, label=None):
    """age (some missing), color (text), size (1-3: numbers meant as categories), income, label (yes/no)."""
    lines = [delimiter.join(["age", "color", "size", "income", "label"])] if header else []
    for i in range(rows):
        age = "" if i % 7 == 3 else str(20 + i)
        income = 1000.0 * i + 0.5
        target = label(i) if label else ("yes" if i % 2 else "no")
        lines.append(delimiter.join([age, COLORS[i % 3], str(1 + i % 3), str(income), target]))
    path.write_text("\n".join(lines) + "\n")
    return path


def load(path, settings, task="classification", seed=0, **fields):
    cfg = DataConfig(name="csv", path=str(path), **fields)
    return load_data(cfg, task=task, seed=seed, settings=settings)


def test_classification_with_categorical_columns(tmp_path, settings):
    data = load(write_csv(tmp_path / "t.csv"), settings, categorical=["size"], test_fraction=0.25, val_fraction=0.0)
    info = data.info
    assert info.modality == "table" and info.class_names == ["no", "yes"] and info.num_classes == 2
    assert info.feature_names == ["age", "color=blue", "color=green", "color=red",
                                  "size=1", "size=2", "size=3", "income"]
    assert info.input_shape == (8,) and data.train.x.shape == (30, 8) and len(data.test) == 10
    assert torch.bincount(data.test.y).tolist() == [5, 5]  # stratified
    # one-hot groups: exactly one 1 per row
    assert torch.all(data.train.x[:, 1:4].sum(1) == 1) and torch.all(data.train.x[:, 4:7].sum(1) == 1)
    # numbers standardised with the training split's statistics
    income = data.train.x[:, 7]
    assert income.mean().item() == pytest.approx(0, abs=1e-5) and income.std(unbiased=False).item() == pytest.approx(1, abs=1e-4)


def test_missing_numbers_are_filled_with_the_training_mean(tmp_path, settings):
    data = load(write_csv(tmp_path / "t.csv"), settings, normalize=False, test_fraction=0.0, val_fraction=0.0)
    column = data.preprocessor.columns[0]
    ages = data.train.x[:, 0]
    known = [20 + i for i in range(40) if i % 7 != 3]
    assert column.fill == pytest.approx(np.mean(known))
    missing = [i for i in range(40) if i % 7 == 3]  # rows keep their order when nothing is held out
    assert ages[missing].tolist() == pytest.approx([column.fill] * 6)
    standardised = load(write_csv(tmp_path / "t.csv"), settings, test_fraction=0.0, val_fraction=0.0)
    assert int((standardised.train.x[:, 0] == 0).sum()) == 6  # filled with the mean -> 0 after standardising


def test_unseen_categories_are_all_zeros(tmp_path, settings):
    data = load(write_csv(tmp_path / "t.csv"), settings)
    rows = np.array([["30", "purple", "2", "1000"], ["", "red", "9", "nan"]])
    x = data.preprocessor.transform(rows)
    assert x[0, 1:4].tolist() == [0, 0, 0] and x[1, 1:4].tolist() == [0, 0, 1]
    assert data.preprocessor.feature_names[4:] == ["size", "income"]  # size is numeric unless listed


def test_regression_targets_stay_in_their_units(tmp_path, settings):
    data = load(write_csv(tmp_path / "t.csv"), settings, task="regression", target="income", test_fraction=0.0,
                val_fraction=0.0)
    assert data.train.y.dtype == torch.float32 and data.train.y.shape == (40,)
    assert sorted(data.train.y.tolist()) == [1000.0 * i + 0.5 for i in range(40)]
    assert data.info.num_classes is None and data.info.class_names is None
    assert "label=yes" in data.info.feature_names and "income" not in data.info.feature_names


def test_no_header_target_by_index_and_other_delimiter(tmp_path, settings):
    path = write_csv(tmp_path / "t.csv", header=False, delimiter=";")
    data = load(path, settings, header=False, delimiter=";")
    assert data.info.class_names == ["no", "yes"]
    assert data.info.feature_names == ["0", "1=blue", "1=green", "1=red", "2", "3"]
    by_index = load(path, settings, header=False, delimiter=";", target="3", task="regression")
    assert "4=yes" in by_index.info.feature_names


def test_numeric_classes_sort_as_numbers(tmp_path, settings):
    path = write_csv(tmp_path / "t.csv", label=lambda i: str([1, 2, 10][i % 3]))
    assert load(path, settings).info.class_names == ["1", "2", "10"]


def test_same_seed_same_split(tmp_path, settings):
    path = write_csv(tmp_path / "t.csv")
    a, b, c = load(path, settings, seed=1), load(path, settings, seed=1), load(path, settings, seed=2)
    assert torch.equal(a.test.x, b.test.x) and not torch.equal(a.test.x, c.test.x)


def test_errors_name_the_file_line_and_column(tmp_path, settings):
    path = write_csv(tmp_path / "t.csv", label=lambda i: "" if i == 4 else "a")
    with pytest.raises(DataError, match=r"t.csv: the target column 'label' is empty on 1 row\(s\) \(line 6\)"):
        load(path, settings)
    path = write_csv(tmp_path / "t.csv")
    with pytest.raises(DataError, match=r"t.csv, line 2: target column 'label': 'no' is not a number"):
        load(path, settings, task="regression")
    with pytest.raises(DataError, match="no target column 'lable'; did you mean 'label'"):
        load(path, settings, target="lable")
    with pytest.raises(DataError, match="no categorical column 'colour'; did you mean 'color'"):
        load(path, settings, categorical=["colour"])
    with path.open("a") as handle:
        handle.write("1,red,2\n")
    with pytest.raises(DataError, match=r"t.csv, line 42: 3 fields where the header has 5"):
        load(path, settings)
    with pytest.raises(DataError, match="data.path: the csv source needs the CSV file"):
        load_data(DataConfig(name="csv"), task="classification", seed=0, settings=settings)


def test_a_relative_path_is_looked_up_in_the_search_path(settings):
    write_csv(settings.data_dirs[0] / "table.csv")
    assert len(load("table.csv", settings).info.feature_names) == 6


def test_spatial_augmentation_of_a_table_is_refused(tmp_path, settings):
    with pytest.raises(DataError, match="data.augment.hflip: crops, flips and erasing apply to images"):
        load(write_csv(tmp_path / "t.csv"), settings, augment={"hflip": True})
