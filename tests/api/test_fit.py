"""``layerlab.fit``: the user's own nn.Module on data handed over in Python, into a run directory that
every verb reads (evaluate, predict, report, export)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import layerlab
from layerlab import api
from layerlab.data.idx import read_idx
from layerlab.errors import LayerLabError, RecipeError, UsageError

FAST = {"epochs": 2, "batch_size": 64, "report": False, "diagnostics_every": 0}


class SmallCNN(nn.Module):
    """A user's CNN for 28x28 grayscale images."""

    def __init__(self, width: int = 8, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(2 * width * 7 * 7, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class TableNet(nn.Module):
    """A user's MLP that needs its input width: not rebuildable unless fit records it."""

    def __init__(self, inputs: int, classes: int = 2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(inputs, 32), nn.ReLU(), nn.Linear(32, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FlatNet(nn.Module):
    """A linear classifier of 28x28 RGB images into two classes (image-folder reads RGB by default)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3 * 28 * 28, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def _fashion(folder: Path, n_train: int, n_test: int) -> tuple[np.ndarray, ...]:
    x = read_idx(folder / "train-images-idx3-ubyte.gz")[:n_train]
    y = read_idx(folder / "train-labels-idx1-ubyte.gz")[:n_train]
    tx = read_idx(folder / "t10k-images-idx3-ubyte.gz")[:n_test]
    ty = read_idx(folder / "t10k-labels-idx1-ubyte.gz")[:n_test]
    return x, y.astype(np.int64), tx, ty.astype(np.int64)


@pytest.mark.slow
def test_a_users_cnn_on_fashion_arrays_learns_and_its_run_serves_every_verb(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, tx, ty = _fashion(fashion_dir, 3000, 1000)
    net = SmallCNN()
    result = layerlab.fit(net, (x, y), test=(tx, ty), out=tmp_path / "run", **FAST)
    assert result.summary["test"]["accuracy"] > 0.6  # chance: 0.1
    assert result.model is not None

    again = api.evaluate(result.run_dir)  # the model rebuilt by import, the test split read back
    assert again["n"] == 1000
    assert again["metrics"]["accuracy"] == pytest.approx(result.summary["test"]["accuracy"], abs=1e-6)

    files = []
    for i in range(50):  # new image files, read as PNGs and prepared with the run's preprocessing
        Image.fromarray(tx[i]).save(tmp_path / f"item{i}.png")
        files.append(tmp_path / f"item{i}.png")
    rows = api.predict(result.run_dir, files)
    assert np.mean([row["label"] == str(label) for row, label in zip(rows, ty[:50], strict=True)]) > 0.6

    assert api.report(result.run_dir).is_file()
    exported = api.export(result.run_dir, format="onnx", limit=200)
    assert Path(exported.path).is_file()


@pytest.mark.slow
def test_class_names_and_a_dataset_of_tensors(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, _, _ = _fashion(fashion_dir, 2000, 0)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x[:, None] / 255.0).float(), torch.from_numpy(y))
    names = ["top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
    result = layerlab.fit(SmallCNN(), dataset, classes=names, out=tmp_path / "run", **FAST)
    assert result.summary["test"]["accuracy"] > 0.5
    loaded = api.load_run(result.run_dir)
    assert loaded.task.class_names == names


def _shop_frame(n: int, seed: int):
    """A table with a learnable rule mixing a category and numbers: buy when the colour is red and the
    price is low, or the colour is blue and the rating is high (a few missing cells)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    price = rng.uniform(0, 100, n)
    rating = rng.integers(1, 6, n).astype(float)
    buy = ((colour == "red") & (price < 50)) | ((colour == "blue") & (rating >= 4))
    frame = pd.DataFrame({"colour": pd.Categorical(colour), "price": price, "rating": rating,
                          "buy": np.where(buy, "yes", "no")})
    frame.loc[::50, "rating"] = np.nan
    return frame


@pytest.mark.slow
def test_a_dataframe_with_categorical_columns_trains(tmp_path: Path) -> None:
    frame = _shop_frame(3000, seed=0)
    # colour one-hot (3) + price + rating: five inputs, recorded so the run can be loaded back
    result = layerlab.fit(TableNet(5), frame, target="buy", model_args={"inputs": 5}, out=tmp_path / "run",
                          **{**FAST, "epochs": 15, "lr": 3e-3})
    assert result.summary["test"]["accuracy"] > 0.85  # the majority class ("no") is about 0.63
    loaded = api.load_run(result.run_dir)
    assert loaded.preprocessor.feature_names == ["colour=blue", "colour=green", "colour=red", "price", "rating"]
    assert loaded.task.class_names == ["no", "yes"]

    new = _shop_frame(40, seed=1)
    new.drop(columns=["buy"]).to_csv(tmp_path / "new.csv", index=False)
    rows = api.predict(result.run_dir, [tmp_path / "new.csv"])
    agree = np.mean([row["label"] == want for row, want in zip(rows, new["buy"], strict=True)])
    assert agree > 0.8


def test_a_module_whose_arguments_were_not_recorded_trains_but_is_not_rebuilt(tmp_path: Path) -> None:
    frame = _shop_frame(400, seed=0)
    result = layerlab.fit(TableNet(5), frame, target="buy", out=tmp_path / "run", **{**FAST, "epochs": 1})
    with pytest.raises(LayerLabError, match=r"constructor arguments were not recorded \(inputs have no default\).*model_args"):
        api.evaluate(result.run_dir)


def test_a_class_defined_in_a_function_is_refused_by_load_with_its_reason(tmp_path: Path) -> None:
    class Local(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(5, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x)

    result = layerlab.fit(Local(), _shop_frame(300, seed=0), target="buy", out=tmp_path / "run", **{**FAST, "epochs": 1})
    with pytest.raises(LayerLabError, match="has no .*<locals>.Local; the class must be importable"):
        api.load_run(result.run_dir)


def test_a_torch_sequential_trains_but_load_says_to_define_a_class(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    result = layerlab.fit(net, _shop_frame(300, seed=0), target="buy", out=tmp_path / "run", **{**FAST, "epochs": 1})
    with pytest.raises(LayerLabError, match="torch container built in place .* define the model as a class"):
        api.load_run(result.run_dir)


def test_train_fields_are_checked_with_the_recipes_errors_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"train.epocs: unknown key; did you mean 'train.epochs'\?"):
        layerlab.fit(SmallCNN(), (np.zeros((4, 28, 28)), np.zeros(4)), epocs=2, out=tmp_path / "run")
    with pytest.raises(RecipeError, match=r"train.lr"):
        layerlab.fit(SmallCNN(), (np.zeros((4, 28, 28)), np.zeros(4)), lr=-1, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_data_is_refused_with_what_fit_takes(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="expected \\(x, y\\) arrays or tensors, a pandas DataFrame"):
        layerlab.fit(SmallCNN(), 42, out=tmp_path / "a")
    with pytest.raises(UsageError, match="3 inputs but 2 targets"):
        layerlab.fit(SmallCNN(), (np.zeros((3, 5)), np.zeros(2)), out=tmp_path / "b")
    with pytest.raises(UsageError, match="no column 'bye' in the DataFrame; did you mean 'buy'"):
        layerlab.fit(TableNet(5), _shop_frame(10, seed=0), target="bye", out=tmp_path / "c")
    with pytest.raises(UsageError, match="val: examples of shape \\(4,\\), but the training data's are \\(5,\\)"):
        layerlab.fit(SmallCNN(), (np.zeros((3, 5)), np.zeros(3)), val=(np.zeros((3, 4)), np.zeros(3)), out=tmp_path / "e")
    with pytest.raises(UsageError, match="model must be a torch nn.Module"):
        layerlab.fit("cnn", (np.zeros((3, 5)), np.zeros(3)), out=tmp_path / "d")


def test_a_folder_of_images_trains_through_the_image_folder_source(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, _, _ = _fashion(fashion_dir, 3000, 0)
    for label, name in ((0, "top"), (1, "trouser")):  # two classes, 150 PNG files each
        (tmp_path / "photos" / name).mkdir(parents=True)
        for i in np.flatnonzero(y == label)[:150]:
            Image.fromarray(x[i]).save(tmp_path / "photos" / name / f"{i}.png")
    net = FlatNet()
    result = layerlab.fit(net, tmp_path / "photos", out=tmp_path / "run", **{**FAST, "epochs": 3})
    assert result.summary["test"]["accuracy"] > 0.85  # chance 0.5
    assert api.load_run(result.run_dir).task.class_names == ["top", "trouser"]
