"""`layerlab compare`: recipes trained under one budget, and runs read as they are, in one table and plot."""

from __future__ import annotations

import csv

import pytest
import yaml
from PIL import Image

from layerlab.cli import main
from layerlab.errors import UsageError
from layerlab.tune import compare


def test_recipes_under_one_epoch_budget_then_runs_as_they_are(tiny, tmp_path, capsys):
    wide = dict(tiny, name="wide", model={"name": "mlp", "hidden": [64]})
    for name, recipe in (("narrow", tiny), ("wide", wide)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    result = compare([tmp_path / "narrow.yaml", tmp_path / "wide.yaml"], epochs=1, overrides=["train.lr=0.03"],
                     out=tmp_path / "cmp")
    narrow, wide_row = result.rows
    assert narrow["epochs"] == wide_row["epochs"] == 1  # the same budget, whatever the recipes said
    assert wide_row["params"] > narrow["params"] and narrow["model"] == "mlp"
    assert narrow["examples/s"] > 0 and narrow["seconds"] > 0 and narrow["test"]["accuracy"] > 0.3
    assert Image.open(result.curves_png).size[0] > 0
    rows = list(csv.DictReader(result.csv_path.open()))
    assert [r["recipe"] for r in rows] == ["tiny", "wide"]

    runs = [str(tmp_path / "cmp" / "00-narrow"), str(tmp_path / "cmp" / "01-wide")]
    assert main(["compare", *runs, "--out", str(tmp_path / "again")]) == 0
    out = capsys.readouterr().out
    assert "00-narrow" in out and "01-wide" in out and "test accuracy" in out
    assert (tmp_path / "again" / "curves.png").is_file()
    with pytest.raises(UsageError, match="--epochs, --budget and --set apply to recipes"):
        compare(runs, epochs=2)


def test_a_wall_clock_budget_is_parsed(tmp_path):
    with pytest.raises(UsageError, match=r"--budget: expected a duration like 90, '90s', '5m' or '2h', given '5 min'"):
        compare(["digits-cnn"], budget="5 min", out=tmp_path)
