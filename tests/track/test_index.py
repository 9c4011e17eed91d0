"""The local run index: every finished run is registered; `layerlab runs` lists, filters and sorts."""

from __future__ import annotations

import json
import shutil

import pytest

from layerlab.cli import main
from layerlab.errors import UsageError
from layerlab.track.index import list_runs, rebuild_index


def test_every_finished_run_is_in_the_index(tracked_runs):
    root, fast, slow = tracked_runs
    rows = list_runs(root)
    assert [r["run"] for r in rows] == ["slow", "fast"]  # newest first
    by_name = {r["run"]: r for r in rows}
    assert by_name["fast"]["test"]["accuracy"] == fast.summary["test"]["accuracy"]
    assert by_name["fast"]["config"]["train.lr"] == 0.03 and by_name["fast"]["model"] == "mlp"
    assert by_name["slow"]["best"] == slow.summary["monitor"]["best"]


def test_filters_and_sorting(tracked_runs):
    root, fast, slow = tracked_runs
    assert fast.summary["test"]["accuracy"] > slow.summary["test"]["accuracy"]
    assert [r["run"] for r in list_runs(root, sort="test.accuracy")] == ["fast", "slow"]  # best first
    assert [r["run"] for r in list_runs(root, sort="test.loss")] == ["fast", "slow"]  # losses: lowest first
    assert [r["run"] for r in list_runs(root, sort="test.accuracy", descending=False)] == ["slow", "fast"]
    assert [r["run"] for r in list_runs(root, where=["train.lr<0.001"])] == ["slow"]
    assert [r["run"] for r in list_runs(root, where=["model=mlp", "test.accuracy>=0.5"])] == ["fast"]
    assert [r["run"] for r in list_runs(root, where=["run~fa"])] == ["fast"]
    assert len(list_runs(root, limit=1)) == 1


def test_bad_conditions_are_refused(tracked_runs):
    root = tracked_runs[0]
    with pytest.raises(UsageError, match=r"'test.acuracy' is not a column, test metric or recipe key of these runs; "
                                         r"did you mean 'test.accuracy'\?"):
        list_runs(root, sort="test.acuracy")
    with pytest.raises(UsageError, match="expected KEY OP VALUE"):
        list_runs(root, where=["accuracy"])
    with pytest.raises(UsageError, match="no such folder of runs"):
        list_runs(root / "nowhere")


def test_layerlab_runs_lists_what_was_run(tracked_runs, capsys):
    root, fast, slow = tracked_runs
    assert main(["runs", str(root), "--sort", "test.accuracy", "--show", "train.lr"]) == 0
    out = capsys.readouterr().out
    assert out.index("fast") < out.index("slow") and "train.lr" in out and "0.03" in out
    assert main(["runs", str(root), "--json", "-w", "status=finished"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["path"] for r in rows} == {str(fast.run_dir.resolve()), str(slow.run_dir.resolve())}


def test_the_index_is_rebuilt_from_run_directories(tracked_runs, tmp_path):
    root, fast, _ = tracked_runs
    shutil.copytree(fast.run_dir, tmp_path / "copied")  # a run from elsewhere, not in this folder's index
    assert list_runs(tmp_path) == []
    assert rebuild_index(tmp_path) == 1
    (row,) = list_runs(tmp_path)
    assert row["run"] == "copied" and row["test"] == fast.summary["test"]
