"""The bias audit: figures of a hand-computed case, parity of a constant predictor, group rules, group-
balanced training, and `layerlab audit` on trained runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from layerlab.analyze.group_audit import audit_classification, audit_regression
from layerlab.cli import main
from layerlab.data import load_data
from layerlab.data.groups import balanced_order, group_labels
from layerlab.errors import DataError
from layerlab.recipe import DataConfig


def logits_for(preds: list[int]) -> torch.Tensor:
    return torch.tensor([[0.0, 2.0] if p == 1 else [2.0, 0.0] for p in preds])


def test_audit_figures_match_a_hand_computed_case():
    groups = np.array(["a"] * 4 + ["b"] * 4)
    targets = torch.tensor([1, 1, 0, 0, 1, 0, 0, 0])
    preds = [1, 0, 0, 0, 1, 1, 1, 0]
    result = audit_classification(logits_for(preds), targets, groups)
    a, b = result["groups"]["a"], result["groups"]["b"]
    # a: 3 of 4 right; selects 1 of 4; TPR 1/2, FPR 0/2.  b: 2 of 4 right; selects 3 of 4; TPR 1/1, FPR 2/3
    assert (a["accuracy"], b["accuracy"]) == (0.75, 0.5)
    assert (a["error_rate"], b["error_rate"]) == (0.25, 0.5)
    assert (a["gap_to_best"], b["gap_to_best"]) == (0.0, 0.25)
    assert (a["selection_rate"], b["selection_rate"]) == (0.25, 0.75)
    assert (a["true_positive_rate"], b["true_positive_rate"]) == (0.5, 1.0)
    assert (a["false_negative_rate"], b["false_negative_rate"]) == (0.5, 0.0)
    assert a["false_positive_rate"] == 0.0 and b["false_positive_rate"] == pytest.approx(2 / 3)
    # macro F1 of a: class 1 has F1 2·1/(2+1), class 0 has 2·2/(2+3)
    assert a["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert result["demographic_parity_difference"] == pytest.approx(0.5)
    assert result["true_positive_rate_difference"] == pytest.approx(0.5)
    assert result["false_positive_rate_difference"] == pytest.approx(2 / 3)
    assert result["equalized_odds_difference"] == pytest.approx(2 / 3)
    assert result["worst_group"] == {"name": "b", "accuracy": 0.5}
    assert result["overall"] == {"n": 8, "accuracy": 0.625}
    assert "ece" in a


def test_a_constant_predictor_has_no_demographic_parity_difference():
    rng = np.random.default_rng(0)
    groups = rng.choice(["x", "y", "z"], size=200)
    targets = torch.from_numpy(rng.integers(0, 2, size=200))
    for constant in (0, 1):
        result = audit_classification(logits_for([constant] * 200), targets, groups)
        assert result["demographic_parity_difference"] == 0.0
    # while one that favours a group has one
    preds = [1 if g == "x" else 0 for g in groups]
    assert audit_classification(logits_for(preds), targets, groups)["demographic_parity_difference"] == 1.0


def test_regression_audit_by_hand():
    groups = np.array(["a", "a", "b", "b"])
    outputs = torch.tensor([[1.0], [1.0], [5.0], [1.0]])
    targets = torch.tensor([0.0, 2.0, 2.0, 0.0])  # errors: a 1, -1; b 3, 1
    result = audit_regression(outputs, targets, groups)
    assert result["groups"]["a"] == {"n": 2, "mae": 1.0, "rmse": 1.0, "gap_to_best": 0.0}
    assert result["groups"]["b"]["mae"] == 2.0 and result["groups"]["b"]["rmse"] == pytest.approx(5 ** 0.5)
    assert result["groups"]["b"]["gap_to_best"] == 1.0
    assert result["worst_group"] == {"name": "b", "mae": 2.0}
    assert result["overall"]["mae"] == 1.5


# ------------------------------------------------------------------------------------------ rules
def test_group_rules(tmp_path):
    meta = {"id": np.array(["rec/0_george_1.wav", "rec/3_jackson_0.wav"]),
            "file": np.array(["rec/0_george_1.wav", "rec/3_jackson_0.wav"])}
    assert group_labels(r"file:^\d+_([a-z]+)_", meta).tolist() == ["george", "jackson"]
    assert group_labels(r"file:jack", {"file": np.array(["jack1", "jack2"])}).tolist() == ["jack", "jack"]
    table = tmp_path / "groups.csv"
    table.write_text("id,speaker\n0_george_1.wav,g\nrec/3_jackson_0.wav,j\n")
    assert group_labels(f"meta:{table}", meta).tolist() == ["g", "j"]
    columns = {"id": np.array(["2", "3"]), "column:sex": np.array(["f", "m"])}
    assert group_labels("column:sex", columns).tolist() == ["f", "m"]


@pytest.mark.parametrize(("rule", "meta", "message"), [
    ("speaker", {}, "is not a group rule; use column:NAME"),
    ("column:sx", {"column:sex": np.array(["f"])}, "no column 'sx'; did you mean 'sex'"),
    ("column:sex", {"id": np.array(["0"])}, "needs a table"),
    (r"file:^\d+_([a-z]+)_", {"file": np.array(["0_george_1.wav", "bad.wav"])}, "matches no part of 1 file name"),
    ("file:(", {"file": np.array(["x"])}, "not a valid regular expression"),
    ("file:x", {"id": np.array(["0"])}, "examples read from files"),
    ("meta:/no/such.csv", {"id": np.array(["0"])}, "no such file"),
])
def test_group_rules_refuse_what_does_not_fit(rule, meta, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        group_labels(rule, meta)


def test_balanced_order_repeats_the_small_groups():
    groups = np.array(["a"] * 6 + ["b"] * 2 + ["c"] * 3)
    order = balanced_order(groups, seed=0)
    chosen = groups[order]
    assert {g: int((chosen == g).sum()) for g in "abc"} == {"a": 6, "b": 6, "c": 6}
    assert set(order.tolist()) == set(range(11))  # every example is kept
    assert np.array_equal(order, balanced_order(groups, seed=0))  # seeded


def test_group_balance_in_load_data(wine_table):
    plain = load_data(DataConfig(name="csv", path=str(wine_table), groups="column:colour"),
                      task="classification", seed=0)
    counts = dict(zip(*np.unique(plain.train.groups, return_counts=True)))
    assert len(set(counts.values())) > 1  # red, rose and white are not equally common
    balanced = load_data(DataConfig(name="csv", path=str(wine_table), groups="column:colour", group_balance=True),
                         task="classification", seed=0)
    values, counts_after = np.unique(balanced.train.groups, return_counts=True)
    assert set(counts_after.tolist()) == {max(counts.values())}
    assert len(balanced.val) == len(plain.val) and np.array_equal(balanced.test.ids, plain.test.ids)
    # the ids are the CSV lines
    assert plain.test.ids[0].isdigit() and int(plain.test.ids[0]) >= 2


def test_group_balance_needs_groups():
    from layerlab.errors import RecipeError
    from layerlab.recipe import load_recipe

    with pytest.raises(RecipeError, match="override data.group_balance=true: needs data.groups"):
        load_recipe("digits-cnn", ["data.group_balance=true"])


# ------------------------------------------------------------------------------------- on runs
def test_audit_command_on_a_table_column(wine_table, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", "tabular-mlp", f"data.path={wine_table}", "train.epochs=15", "train.report=false",
                 "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    assert main(["audit", str(run), "--group", "column:colour", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["groups"]) == {"red", "rose", "white"}
    assert sum(row["n"] for row in result["groups"].values()) == result["overall"]["n"] == 36
    assert result["worst_group"]["accuracy"] == min(r["accuracy"] for r in result["groups"].values())
    assert "demographic_parity_difference" not in result  # three classes, no positive class given
    assert (run / "audit" / "column_colour.json").exists() and (run / "audit" / "column_colour.png").exists()
    # one class against the rest
    assert main(["audit", str(run), "--group", "column:colour", "--positive", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["positive_class"] == "c0"


def test_audit_of_a_regression_run_and_a_metadata_file(diabetes_run, digits_run, tmp_path, capsys):
    assert main(["audit", str(diabetes_run), "--group", "column:sex", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["groups"]) == 2 and result["compared_on"] == "mae"
    # digits has no files: its examples' ids are their positions; a metadata file maps them to groups
    table = tmp_path / "halves.csv"
    table.write_text("id,half\n" + "".join(f"{i},{'first' if i < 900 else 'second'}\n" for i in range(1797)))
    assert main(["audit", str(digits_run), "--group", f"meta:{table}"]) == 0
    out = capsys.readouterr().out
    assert "first" in out and "second" in out and "worst group" in out


def test_audit_needs_a_rule(digits_run, capsys):
    assert main(["audit", str(digits_run)]) == 2
    assert "audit needs --group" in capsys.readouterr().err
