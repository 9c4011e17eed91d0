"""End to end through the `layerlab` command: the default recipe, CSV tables, errors, evaluate, predict."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_diabetes, load_digits, load_wine

from layerlab.cli import main


def layerlab(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "layerlab", *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"layerlab {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """The default recipe, run once for the module through the real command."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    layerlab("run", "--out", str(out), "-q")
    return out


def test_help_does_not_import_torch():
    code = "import sys\nfrom layerlab.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: layerlab" in proc.stdout and proc.stdout.strip().endswith("False")


def test_default_recipe_reaches_95_percent_on_digits(digits_run):
    result = summary(digits_run)
    assert result["status"] == "finished"
    assert result["test"]["accuracy"] >= 0.95
    assert abs(result["data"]["test"] - 0.2 * 1797) <= 1 and result["params"] > 0 and result["seconds"] > 0
    assert {"torch", "python", "device"} <= set(result["environment"])
    for name in ("recipe.yaml", "model.safetensors", "model.json", "history.csv", "curves.png", "confusion.png",
                 "checkpoints/last.ckpt"):
        assert (digits_run / name).is_file(), name
    assert len((digits_run / "history.csv").read_text().splitlines()) == 1 + 15
    assert 1 <= result["best_epoch"] <= 15


def test_evaluate_reads_the_run_directory(digits_run, capsys):
    assert main(["evaluate", str(digits_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == summary(digits_run)["data"]["test"]
    assert result["metrics"]["accuracy"] == pytest.approx(summary(digits_run)["test"]["accuracy"])


def test_predict_from_a_copied_run_directory(digits_run, tmp_path, capsys):
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(digits_run, moved)
    digits = load_digits()
    images = tmp_path / "images"
    images.mkdir()
    for i in range(40):
        pixels = (digits.images[-(i + 1)] * 255 / 16).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(images / f"{i:02d}_{digits.target[-(i + 1)]}.png")
    assert main(["predict", str(moved), str(images), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 40
    correct = sum(Path(r["input"]).stem.split("_")[1] == r["label"] for r in rows)
    assert correct >= 34, rows[:5]


def test_bad_recipe_exits_2_with_the_message_and_no_traceback(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model:\n  name: resnt18\ntrain:\n  epocs: 3\n")
    proc = layerlab("run", str(recipe), check=False)
    assert proc.returncode == 2
    assert "model.name: 'resnt18' is not a known model; did you mean 'resnet18'?" in proc.stderr
    assert "train.epocs: unknown key; did you mean 'train.epochs'?" in proc.stderr
    assert "bad.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_override_exits_2(capsys):
    assert main(["run", "digits-cnn", "train.epochs=zero"]) == 2
    assert "override train.epochs=zero: input should be a valid integer" in capsys.readouterr().err


def test_missing_run_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_csv_classification_recipe_learns(tmp_path, capsys):
    wine = load_wine()
    rng = np.random.default_rng(0)
    # a categorical column that carries some signal, and a noise category
    colour = np.where(wine.target == 0, "red", np.where(rng.random(len(wine.target)) < 0.5, "white", "rose"))
    header = [*wine.feature_names, "colour", "cultivar"]
    rows = [[*map(float, x), c, f"c{t}"] for x, c, t in zip(wine.data, colour, wine.target)]
    table = write_csv(tmp_path / "wine.csv", header, rows)
    assert main(["run", "tabular-mlp", f"data.path={table}", "--out", str(tmp_path / "run"), "-q"]) == 0
    result = summary(tmp_path / "run")
    assert result["test"]["accuracy"] >= 0.85
    assert json.loads((tmp_path / "run" / "model.json").read_text())["info"]["class_names"] == ["c0", "c1", "c2"]
    capsys.readouterr()
    # predict on rows of a CSV (the target column may be absent)
    write_csv(tmp_path / "new.csv", header[:-1], [r[:-1] for r in rows[:20]])
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "new.csv"), "--json"]) == 0
    predictions = [json.loads(line)["label"] for line in capsys.readouterr().out.splitlines()]
    assert sum(p == f"c{t}" for p, t in zip(predictions, wine.target[:20])) >= 16


def test_csv_regression_recipe_learns(tmp_path):
    diabetes = load_diabetes()
    header = [*diabetes.feature_names, "progression"]
    table = write_csv(tmp_path / "d.csv", header, [[*x, y] for x, y in zip(diabetes.data, diabetes.target)])
    args = ["run", "tabular-mlp", f"data.path={table}", "task.name=regression", "train.epochs=80",
            "--out", str(tmp_path / "run"), "-q"]
    assert main(args) == 0
    test = summary(tmp_path / "run")["test"]
    assert test["r2"] > 0.3 and test["rmse"] < 65  # predicting the mean gives r2 0, rmse ~77


def test_fashion_mnist_mlp_end_to_end(fashion_dir, tmp_path):
    args = ["run", "fashion-mlp", "data.limit=4000", "train.epochs=2", "--out", str(tmp_path / "run"), "-q"]
    assert main(args) == 0
    result = summary(tmp_path / "run")
    assert result["data"]["test"] == 10000 and result["test"]["accuracy"] > 0.75


def test_listing_commands(capsys):
    assert main(["recipes"]) == 0
    assert "digits-cnn" in capsys.readouterr().out
    assert main(["recipes", "show", "fashion-cnn"]) == 0
    assert "name: fashion-cnn" in capsys.readouterr().out
    assert main(["recipe", "explain", "train"]) == 0
    assert "train.epochs" in capsys.readouterr().out
    assert main(["recipe", "explain", "data.csv"]) == 0  # one source's options: the shared ones and its own
    listing = capsys.readouterr().out
    assert "data.categorical" in listing and "data.val_fraction" in listing and "data.window" not in listing
    assert main(["recipe", "explain", "task.forecast"]) == 0
    listing = capsys.readouterr().out
    assert "task.relative" in listing and "task.label_smoothing" not in listing
    assert main(["recipe", "explain", "data", "csv"]) == 0  # the two-word form of the README
    listing = capsys.readouterr().out
    assert "data.categorical" in listing and "data.window" not in listing
    assert main(["recipe", "explain", "data", "csv", "extra"]) == 2
    assert "at most one name" in capsys.readouterr().err
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("mlp", "cnn", "resnet18", "resnet34", "resnet50", "vgg11", "vgg16"))
    assert main(["models", "show", "mlp", "--input", "1x28x28"]) == 0
    assert "FLOPs per example" in capsys.readouterr().out
    assert main(["recipes", "show", "digits-cn"]) == 2
    assert "did you mean 'digits-cnn'" in capsys.readouterr().err
