"""``layerlab.fit(..., val=DATA)``: held-out data of the training data's kind is the validation split as it
is (every example, in order, prepared with the training statistics), and the per-epoch validation metrics
are the model's on exactly those examples; data unlike the training data is refused before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import layerlab
from layerlab import api
from layerlab.errors import UsageError
from tests.api.test_fit import FAST, SmallCNN, TableNet, _fashion, _shop_frame


def _history_row(result, epoch: int) -> dict:
    return next(row for row in result.history if int(row["epoch"]) == epoch)


@pytest.mark.slow
def test_val_arrays_are_the_validation_split_as_given_and_the_model_learns(fashion_dir: Path, tmp_path: Path) -> None:
    x, y, tx, ty = _fashion(fashion_dir, 2500, 500)
    x, y, vx, vy = x[:2000], y[:2000], x[2000:], y[2000:]
    result = layerlab.fit(SmallCNN(), (x, y), val=(vx, vy), test=(tx, ty), out=tmp_path / "run", **FAST)
    assert result.summary["data"] == {"train": 2000, "val": 500, "test": 500}  # no fraction cut from the 2,000
    assert result.summary["test"]["accuracy"] > 0.6  # chance: 0.1

    loaded = api.load_run(result.run_dir)
    val = loaded.split("val")
    assert val.ids.tolist() == [f"val:{i}" for i in range(500)]  # every example given, in its order
    assert torch.equal(val.y, torch.from_numpy(vy))
    given = loaded.preprocessor.transform(vx[:, None])  # the inputs given, prepared with the training statistics
    assert torch.equal(val.x, given)

    # the history's validation metrics are the model's on exactly those examples (the kept epoch's weights)
    with torch.no_grad():
        predicted = loaded.model(given.to(loaded.device)).argmax(1).cpu().numpy()
    row = _history_row(result, result.summary["best_epoch"])
    assert row["val_accuracy"] == pytest.approx(float(np.mean(predicted == vy)), abs=1e-6)
    assert api.evaluate(result.run_dir, split="val")["metrics"]["accuracy"] == pytest.approx(row["val_accuracy"], abs=1e-6)


def test_a_val_dataframe_is_the_validation_split_with_the_training_encoding(tmp_path: Path) -> None:
    frame, held = _shop_frame(600, seed=0), _shop_frame(150, seed=1)
    result = layerlab.fit(TableNet(5), frame, target="buy", val=held, test=None, model_args={"inputs": 5},
                          out=tmp_path / "run", **{**FAST, "epochs": 3, "lr": 3e-3})
    assert result.summary["data"] == {"train": 600, "val": 150, "test": 0}
    loaded = api.load_run(result.run_dir)
    val = loaded.split("val")
    assert val.ids.tolist() == [f"val:{i}" for i in range(150)]
    want = [loaded.task.class_names.index(label) for label in held["buy"]]
    assert val.y.tolist() == want
    with torch.no_grad():
        predicted = loaded.model(val.x.to(loaded.device)).argmax(1).cpu().numpy()
    row = _history_row(result, result.summary["best_epoch"])
    assert row["val_accuracy"] == pytest.approx(float(np.mean(predicted == np.array(want))), abs=1e-6)


def test_val_data_unlike_the_training_data_is_refused_before_any_work(tmp_path: Path) -> None:
    frame = _shop_frame(60, seed=0)
    images, labels = np.zeros((6, 28, 28), np.uint8), np.arange(6) % 2
    cases = [
        (dict(model=TableNet(5), data=frame, target="buy", val=frame.drop(columns=["price"])),
         r"val: its columns differ from the training data's \(missing \['price'\]: expected \['colour', 'price', 'rating'\]\)"),
        (dict(model=TableNet(5), data=frame, target="buy", val=frame[["rating", "price", "colour", "buy"]]),
         r"val: its columns differ from the training data's \(in another order"),
        (dict(model=TableNet(5), data=frame, target="buy", val=(np.zeros((3, 3)), np.zeros(3))),
         r"val: target='buy' names a DataFrame's column"),
        (dict(model=SmallCNN(), data=(images, labels), val=(np.zeros((2, 20, 20), np.uint8), labels[:2])),
         r"val: examples of shape \(20, 20\), but the training data's are \(28, 28\)"),
        (dict(model=SmallCNN(), data=(images, labels), val=(np.zeros((2, 28, 28), np.float32), labels[:2])),
         r"val: images of dtype float32, but the training images are uint8"),
        (dict(model=SmallCNN(), data=(images, labels), val=(images[:0], labels[:0])), r"val: no examples"),
        (dict(model=SmallCNN(), data=(images, labels), val=None), r"val is a fraction of the training data .* not None"),
    ]
    for i, (kwargs, message) in enumerate(cases):
        with pytest.raises(UsageError, match=message):
            layerlab.fit(**kwargs, out=tmp_path / f"run{i}")
        assert not (tmp_path / f"run{i}").exists()


def test_val_data_with_a_folder_of_images_is_refused(tmp_path: Path) -> None:
    (tmp_path / "photos" / "a").mkdir(parents=True)
    with pytest.raises(UsageError, match="val as data goes with data in memory"):
        layerlab.fit(SmallCNN(), tmp_path / "photos", val=(np.zeros((2, 28, 28)), np.zeros(2)), out=tmp_path / "run")
