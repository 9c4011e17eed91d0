"""data.unlabeled: unlabelled inputs from a folder without classes or from another source, read at the
labelled data's size with its preprocessing, beside (or instead of) data.labels_per_class's; FixMatch
trains on them, and what does not fit is refused naming data.unlabeled."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits

from layerlab import api
from layerlab.data import load_data
from layerlab.data.unlabeled import UNKNOWN
from layerlab.errors import DataError
from layerlab.recipe import RecipeError, load_recipe

SEMI = "train.semi={method: fixmatch, mu: 2, threshold: 0.5}"


def _digits(*overrides: str):
    cfg = load_recipe("digits-cnn", [SEMI, *overrides])
    return load_data(cfg.data, task=cfg.task.name, seed=cfg.train.seed)


def _digit_pngs(folder, count: int, *, size: int = 8, start: int = 0):
    """``count`` of scikit-learn's digits as 8-bit PNGs (0..16 scaled to 0..255), spread over two
    subfolders whose names say nothing of the class."""
    images = load_digits().images[start : start + count]
    for i, image in enumerate(images):
        sub = folder / "a" if i % 2 else folder / "b" / "deeper"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = np.round(image * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((size, size)).save(sub / f"{i:04d}.png")
    return folder


def test_a_folder_without_classes_is_read_at_the_labelled_size_with_unknown_labels(tmp_path):
    folder = _digit_pngs(tmp_path / "unlabelled", 30, size=16)  # twice the labelled images' side: resized
    few = _digits("data.labels_per_class=5")
    both = _digits("data.labels_per_class=5", f"data.unlabeled={{path: {folder}}}")
    assert len(both.unlabeled) == len(few.unlabeled) + 30
    assert both.unlabeled.x.shape[1:] == both.train.x.shape[1:] == (1, 8, 8)
    # the training split's unlabelled examples first, their hidden labels kept; the folder's unknown
    assert torch.equal(both.unlabeled.y[: len(few.unlabeled)], few.unlabeled.y)
    assert (both.unlabeled.y[len(few.unlabeled):] == UNKNOWN).all()
    assert torch.equal(torch.as_tensor(both.unlabeled.x[: len(few.unlabeled)]), torch.as_tensor(few.unlabeled.x[:]))
    # standardised as the labelled inputs are: the same scale and statistics
    assert abs(float(torch.as_tensor(both.unlabeled.x[len(few.unlabeled):]).mean()) - float(torch.as_tensor(both.train.x[:]).mean())) < 0.3


def test_unlabelled_data_alone_and_a_seeded_limit(tmp_path):
    folder = _digit_pngs(tmp_path / "unlabelled", 40)
    alone = _digits(f"data.unlabeled={{path: {folder}}}")
    whole = load_data(load_recipe("digits-cnn").data, task="classification", seed=0)
    assert len(alone.train) == len(whole.train) and len(alone.unlabeled) == 40  # every training label kept
    a = _digits(f"data.unlabeled={{path: {folder}, limit: 10}}")
    b = _digits(f"data.unlabeled={{path: {folder}, limit: 10}}")
    assert len(a.unlabeled) == 10 and torch.equal(a.unlabeled.x, b.unlabeled.x)


def test_another_source_gives_its_inputs_without_their_labels(tmp_path):
    x = load_digits().images[:25].astype(np.float32)[:, None]  # 0..16, as the digits source gives them
    np.savez(tmp_path / "more.npz", x=x, y=np.zeros(25, dtype=np.int64))
    few = _digits("data.labels_per_class=5")
    both = _digits("data.labels_per_class=5", f"data.unlabeled={{source: {{name: arrays, path: {tmp_path / 'more.npz'}}}}}")
    extra = torch.as_tensor(both.unlabeled.x[len(few.unlabeled):])
    assert extra.shape == (25, 1, 8, 8) and (both.unlabeled.y[len(few.unlabeled):] == UNKNOWN).all()
    # the labelled data's preprocessing: the digits' scale (16) and statistics
    mean, std = few.preprocessor.mean, few.preprocessor.std
    expected = (torch.from_numpy(x) / 16 - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    assert torch.allclose(extra, expected, atol=1e-5)


def test_what_does_not_fit_is_refused_naming_data_unlabeled(tmp_path):
    np.savez(tmp_path / "big.npz", x=np.zeros((4, 1, 10, 10), dtype=np.float32), y=np.zeros(4, dtype=np.int64))
    with pytest.raises(DataError, match=r"data.unlabeled.source: images of shape \(1, 10, 10\) do not fit.*\(1, 8, 8\)"):
        _digits(f"data.unlabeled={{source: {{name: arrays, path: {tmp_path / 'big.npz'}}}}}")
    (tmp_path / "table.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    with pytest.raises(DataError, match="data.unlabeled.source: source csv gives table data; the labelled data is image"):
        _digits(f"data.unlabeled={{source: {{name: csv, path: {tmp_path / 'table.csv'}, target: y}}}}")
    with pytest.raises(DataError, match="data.unlabeled.path: 'nowhere' does not exist"):
        _digits("data.unlabeled={path: nowhere}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="data.unlabeled.path: .*empty: no image files in this folder"):
        _digits(f"data.unlabeled={{path: {tmp_path / 'empty'}}}")


@pytest.mark.parametrize(("override", "message"), [
    ("data.unlabeled={limit: 5}", "data.unlabeled.*: give either path .* or source .*, not neither"),
    ("data.unlabeled={path: a, source: {name: digits}}", "data.unlabeled.*: give either .*, not both"),
    ("data.unlabeled={source: {name: nope}}", "data.unlabeled.source.name: .*nope"),
    ("data.unlabeled={source: {name: digits, limt: 3}}", "data.unlabeled.source.limt"),
    ("data.unlabeled={source: {name: digits, labels_per_class: 3}}", "belong to the labelled data's section"),
    ("data.unlabeled={path: a, limit: 0}", "data.unlabeled.limit"),
])
def test_a_malformed_section_is_refused_with_its_path(override, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("digits-cnn", [SEMI, override])


def test_unlabelled_data_without_train_semi_is_refused():
    with pytest.raises(RecipeError, match="data.unlabeled.*: is what train.semi learns from; set train.semi"):
        load_recipe("digits-cnn", ["data.unlabeled={path: somewhere}"])


def _run_recipe(unlabeled: str, **data) -> dict:
    return {
        "name": "semi-folder",
        "data": {"name": "digits", "augment": {"crop_padding": 1}, "unlabeled": {"path": unlabeled}, **data},
        "model": {"name": "cnn", "width": 8, "blocks": 2},
        "train": {"epochs": 3, "batch_size": 25, "lr": 0.01, "seed": 3, "deterministic": True, "report": False,
                  "diagnostics_every": 0, "semi": {"method": "fixmatch", "mu": 2, "threshold": 0.5}},
    }


def test_fixmatch_learns_with_a_folder_of_unlabelled_images(tmp_path):
    folder = _digit_pngs(tmp_path / "unlabelled", 300, start=1000)
    result = api.run(_run_recipe(str(folder), labels_per_class=5, labeled_repeat=4), out=tmp_path / "run")
    assert result.summary["status"] == "finished"
    assert result.summary["test"]["accuracy"] > 0.3  # 50 labels of 10 classes: well above 0.1
    last = result.history[-1]
    assert last["unlabeled_above_threshold"] > 0
    assert 0 < last["pseudo_label_accuracy"] <= 1  # measured on the training split's hidden labels only
    shutil.rmtree(folder)  # the unlabelled inputs are for training: the run is evaluated without them
    assert api.evaluate(result.run_dir)["metrics"]["accuracy"] == pytest.approx(result.summary["test"]["accuracy"])


def test_with_no_label_known_the_pseudo_label_accuracy_is_not_made_up(tmp_path):
    folder = _digit_pngs(tmp_path / "unlabelled", 200, start=1000)
    result = api.run(_run_recipe(str(folder), limit=500), out=tmp_path / "run")  # 500 labels, 60 steps
    assert result.summary["test"]["accuracy"] > 0.5
    for row in result.history:
        assert math.isnan(row["pseudo_label_accuracy"]) and 0 <= row["unlabeled_above_threshold"] <= 1
    assert result.history[-1]["unlabeled_above_threshold"] > 0


def test_a_checkpoint_from_before_data_unlabeled_resumes_as_it_would_have(tmp_path):
    """Semi checkpoints saved before data.unlabeled counted five things an epoch (no count of the examples
    with a known label, as all had one); resuming one gives the history an uninterrupted run gives."""
    from layerlab.train.callbacks import LambdaCallback
    from layerlab.train.state_io import load_state, save_state

    def interrupt(trainer, loss):
        if trainer.state.global_step == 5:  # mid-epoch: the epoch's counts are in the checkpoint
            trainer.interrupt()

    recipe = _run_recipe("unused", labels_per_class=5, labeled_repeat=4)
    del recipe["data"]["unlabeled"]
    whole = api.run(recipe, out=tmp_path / "whole")
    with pytest.raises(api.Interrupted):
        api.run(recipe, out=tmp_path / "cut", callbacks=[LambdaCallback(on_step_end=interrupt)])
    last = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    state = load_state(last)
    state["callbacks"]["semi"]["counts"] = state["callbacks"]["semi"]["counts"][:5]  # the older layout
    save_state(last, state)
    resumed = api.run(resume=tmp_path / "cut")
    for x, y in zip(whole.history, resumed.history, strict=True):
        for key in ("pseudo_label_accuracy", "unlabeled_above_threshold"):
            assert x[key] == y[key] or (math.isnan(x[key]) and math.isnan(y[key]))
    assert not math.isnan(resumed.history[-1]["pseudo_label_accuracy"])


def test_a_task_without_classes_is_refused_naming_data_unlabeled(shared_data, tmp_path):
    cfg = load_recipe("sunspots-lstm", [SEMI, f"data.unlabeled={{path: {tmp_path}}}"])
    with pytest.raises(DataError, match="data.unlabeled is for learning classes from few labels"):
        load_data(cfg.data, task=cfg.task.name, seed=0)
