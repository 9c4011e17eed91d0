"""Preprocessors: saved as JSON and rebuilt, and reading new inputs for ``predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from layerlab.data import DataInfo, Preprocessor, load_data
from layerlab.errors import DataError
from layerlab.recipe import DataConfig


def json_round_trip(obj):
    return json.loads(json.dumps(obj))


@pytest.fixture
def digits():
    return load_data(DataConfig(name="digits"), task="classification", seed=0)


@pytest.fixture
def table(tmp_path, settings):
    path = tmp_path / "train.csv"
    path.write_text("height,kind,weight,label\n" + "".join(
        f"{150 + i},{['a', 'b'][i % 2]},{50 + (i * 7) % 30},{['x', 'y', 'z'][i % 3]}\n" for i in range(30)))
    cfg = DataConfig(name="csv", path=str(path))
    return load_data(cfg, task="classification", seed=0, settings=settings)


def test_image_preprocessor_round_trip(digits):
    saved = json_round_trip(digits.preprocessor.to_dict())
    rebuilt = Preprocessor.from_dict(saved)
    assert saved["kind"] == "image" and rebuilt.to_dict() == digits.preprocessor.to_dict()
    raw = load_digits().images[:5, None]
    assert torch.equal(rebuilt.transform(raw), digits.preprocessor.transform(raw))


def test_table_preprocessor_round_trip(table):
    rebuilt = Preprocessor.from_dict(json_round_trip(table.preprocessor.to_dict()))
    assert rebuilt.feature_names == table.info.feature_names == ["height", "kind=a", "kind=b", "weight"]
    rows = np.array([["151", "b", "57"], ["", "c", "60"]])
    assert torch.equal(rebuilt.transform(rows), table.preprocessor.transform(rows))


def test_data_info_round_trip(table):
    assert DataInfo.from_dict(json_round_trip(table.info.to_dict())) == table.info


def test_unknown_saved_form_is_refused():
    with pytest.raises(DataError, match="kind 'hologram'"):
        Preprocessor.from_dict({"kind": "hologram"})


def test_load_inputs_from_image_files_matches_training_preparation(digits, tmp_path):
    images = load_digits().images[:3]
    paths = []
    for i, image in enumerate(images):
        pixels = np.round(image * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).convert("RGB").save(tmp_path / f"d{i}.png")  # RGB is converted to one channel
        paths.append(tmp_path / f"d{i}.png")
    x, ids = digits.preprocessor.load_inputs(paths)
    assert x.shape == (3, 1, 8, 8) and ids == [str(p) for p in paths]
    expected = digits.preprocessor.transform(images[:, None])
    assert torch.allclose(x, expected, atol=1 / 255 / min(digits.preprocessor.std) + 1e-5)


def test_load_inputs_resizes_and_reads_folders(digits, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.new("L", (40, 30), color=255).save(folder / "b.png")
    Image.new("RGB", (8, 8), color=(0, 0, 0)).save(folder / "a.jpg")
    (folder / "notes.txt").write_text("not an image")
    x, ids = digits.preprocessor.load_inputs([folder])
    assert x.shape == (2, 1, 8, 8) and [p.rsplit("/", 1)[1] for p in ids] == ["a.jpg", "b.png"]
    assert x[0].max() < x[1].min()  # black below white after standardising


def test_load_inputs_image_errors_name_the_file(digits, tmp_path):
    with pytest.raises(DataError, match="nothing.png: no such file"):
        digits.preprocessor.load_inputs([tmp_path / "nothing.png"])
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="bad.png: cannot read this image"):
        digits.preprocessor.load_inputs([tmp_path / "bad.png"])
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="t.csv: this run's model takes images"):
        digits.preprocessor.load_inputs([tmp_path / "t.csv"])


def test_load_inputs_from_csv_by_column_name(table, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("weight,height,kind\n57,151,b\n60,,c\n")  # other order, no target, a missing value
    x, ids = table.preprocessor.load_inputs([path])
    assert ids == [f"{path}:2", f"{path}:3"]
    expected = table.preprocessor.transform(np.array([["151", "b", "57"], ["", "c", "60"]]))
    assert torch.equal(x, expected)
    assert x[1, 1:3].tolist() == [0, 0]  # unseen category


def test_load_inputs_from_csv_errors_name_the_file(table, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("height,label\n150,x\n")
    with pytest.raises(DataError, match=r"new.csv: missing column\(s\) kind, weight"):
        table.preprocessor.load_inputs([path])
    path.write_text("height,kind,weight\n150,a,heavy\n")
    with pytest.raises(DataError, match="new.csv, line 2: column 'weight': 'heavy' is not a number"):
        table.preprocessor.load_inputs([path])
    with pytest.raises(DataError, match="missing.csv: no such file"):
        table.preprocessor.load_inputs([tmp_path / "missing.csv"])


def test_load_inputs_from_csv_without_header(tmp_path, settings):
    path = tmp_path / "train.csv"
    path.write_text("".join(f"{i},{i % 3},{'ab'[i % 2]}\n" for i in range(20)))
    data = load_data(DataConfig(name="csv", path=str(path), header=False, target="1"), task="classification",
                     seed=0, settings=settings)
    assert data.info.feature_names == ["0", "2=a", "2=b"]
    with_target, without = tmp_path / "a.csv", tmp_path / "b.csv"
    with_target.write_text("5,2,b\n")
    without.write_text("5,b\n")
    x, ids = data.preprocessor.load_inputs([with_target, without])
    assert torch.equal(x[0], x[1]) and ids == [f"{with_target}:1", f"{without}:1"]
    without.write_text("5\n")
    with pytest.raises(DataError, match="b.csv: 1 columns, but this run's model takes 2 input columns"):
        data.preprocessor.load_inputs([without])


def test_evaluating_new_csv_data_uses_the_runs_columns_and_classes(table, tmp_path, settings):
    path = tmp_path / "eval.csv"
    path.write_text("label,kind,weight,height\nz,a,55,160\ny,b,56,161\nz,a,57,162\n")
    data = load_data(DataConfig(name="csv", path=str(path), test_fraction=0.0, val_fraction=0.0),
                     task="classification", seed=0, settings=settings, preprocessor=table.preprocessor)
    assert data.train.y.tolist() == [2, 1, 2] and data.info.class_names == ["x", "y", "z"]
    assert torch.equal(data.train.x, table.preprocessor.transform(np.array([["160", "a", "55"], ["161", "b", "56"],
                                                                            ["162", "a", "57"]])))
    path.write_text("label,kind,weight,height\nw,a,55,160\n")
    with pytest.raises(DataError, match="eval.csv, line 2: class 'w' of column 'label' is not one of the run's classes"):
        load_data(DataConfig(name="csv", path=str(path)), task="classification", seed=0, settings=settings,
                  preprocessor=table.preprocessor)


def test_a_run_on_images_refuses_table_data(digits, tmp_path, settings):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    with pytest.raises(DataError, match="trained on image data, but csv gives table data"):
        load_data(DataConfig(name="csv", path=str(path)), task="classification", seed=0, settings=settings,
                  preprocessor=digits.preprocessor)


def test_input_files_expands_folders_and_names_what_is_wrong(tmp_path):
    from layerlab.data.preprocessor import input_files

    def listed(folder):
        return sorted(folder.glob("*.wav"))

    (tmp_path / "in").mkdir()
    (tmp_path / "empty").mkdir()
    for name in ("b.wav", "a.wav"):
        (tmp_path / "in" / name).write_bytes(b"")
    (tmp_path / "one.wav").write_bytes(b"")
    files = input_files([tmp_path / "one.wav", tmp_path / "in"], listed, "WAV files")
    assert [f.name for f in files] == ["one.wav", "a.wav", "b.wav"]
    with pytest.raises(DataError, match="empty: no WAV files in this folder"):
        input_files([tmp_path / "empty"], listed, "WAV files")
    with pytest.raises(DataError, match="no input files given"):
        input_files([], listed, "WAV files")
    with pytest.raises(DataError, match="one.wav: not this kind"):
        input_files([tmp_path / "one.wav"], listed, "WAV files", refuse={".wav": "not this kind"})
