"""Issue 28: what a run writes and where, refusals before work (names, --out, model size, MLflow, CSV
cells), and what later commands print about a run (JSON, the report's log, a short WAV)."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path

import pytest

from layerlab import api
from layerlab.errors import DataError, LayerLabError, RecipeError, UsageError
from layerlab.rundir import RunDir

TINY = {
    "name": "tiny",
    "data": {"name": "digits", "limit": 200, "val_fraction": 0.2},
    "model": {"name": "mlp", "hidden": [16]},
    "train": {"epochs": 1, "batch_size": 64, "diagnostics_every": 0, "report": False},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return api.run(TINY, out=tmp_path_factory.mktemp("runs") / "tiny").run_dir


# ------------------------------------------------------------------------ the run's folder name
@pytest.mark.parametrize("name", ["../../../x", "/tmp/layerlab-abs", "a/b", "a\x00b", "x" * 300, ".hidden", ""])
def test_a_name_that_is_no_safe_folder_name_is_refused(tmp_path, name):
    root = tmp_path / "deep" / "runs"
    with pytest.raises(UsageError, match="^name: "):
        RunDir.create(root, name)
    assert not (tmp_path / "deep").exists() and not list(Path("/tmp").glob("layerlab-abs-*"))


def test_run_refuses_a_name_escaping_the_runs_folder_before_any_work(tmp_path):
    # refused by the recipe itself (the same rule as the runs folder's), before any data or folder
    with pytest.raises(LayerLabError, match="name: '../escape' cannot be a folder name") as caught:
        api.run({**TINY, "name": "../escape"}, runs_root=tmp_path / "runs")
    assert caught.value.exit_code == 2
    assert not list(tmp_path.glob("escape-*")) and not (tmp_path / "runs").exists()


def test_an_ordinary_name_still_makes_its_stamped_folder(tmp_path):
    run = RunDir.create(tmp_path, "digits-cnn_v2.1")
    assert run.path.parent == tmp_path and run.path.name.startswith("digits-cnn_v2.1-")


# ------------------------------------------------------------------------------- --out
def test_out_holding_a_run_is_refused_and_left_as_it_was(tiny_run):
    weights = (tiny_run / "model.safetensors").read_bytes()
    with pytest.raises(UsageError, match=r"holds a run already .*--resume") as caught:
        api.run(TINY, {"train.seed": 1}, out=tiny_run)
    assert caught.value.exit_code == 2
    assert (tiny_run / "model.safetensors").read_bytes() == weights


def test_out_may_be_an_existing_empty_folder(tmp_path):
    assert RunDir.new_at(tmp_path).path == tmp_path
    assert RunDir.new_at(tmp_path / "new" / "run").path.is_dir()


def test_recipe_yaml_is_written_like_the_other_run_files(tiny_run):
    assert (tiny_run / "recipe.yaml").stat().st_mode & 0o777 == (tiny_run / "summary.json").stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------------------- model size
def test_a_model_too_large_for_memory_is_refused_with_its_size(tmp_path, monkeypatch):
    import layerlab.runs.model_size as model_size

    monkeypatch.setattr(model_size, "available_memory", lambda device: 2**20)  # 1 MiB free
    with pytest.raises(LayerLabError, match=r"model 'mlp' has 300,010 parameters, which need at least 4\.6 MiB "
                                            r"to train .* available memory is 1\.0 MiB") as caught:
        api.run({**TINY, "model": {"name": "mlp", "hidden": [4000]}}, out=tmp_path / "big")
    assert caught.value.exit_code == 2
    assert not (tmp_path / "big" / "recipe.yaml").exists()


def test_counting_parameters_on_the_meta_device_draws_no_random_numbers():
    import torch

    from layerlab.runs.model_size import count_parameters

    torch.manual_seed(3)
    before = torch.get_rng_state()
    assert count_parameters({"name": "mlp", "hidden": [10**8]}, input_shape=(64,), num_outputs=10,
                            data_fields=None) == 64 * 10**8 + 10**8 + 10 * 10**8 + 10
    assert torch.equal(before, torch.get_rng_state())


# -------------------------------------------------------------------------------- MLflow
def test_an_unreachable_mlflow_server_is_refused_within_seconds(tmp_path):
    from layerlab.recipe import load_recipe
    from layerlab.track.tracking import open_tracking

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = load_recipe(TINY, {"track.mlflow": f"http://127.0.0.1:{port}"})
    started = time.monotonic()
    with pytest.raises(LayerLabError, match=rf"track.mlflow: cannot reach the MLflow server at 127.0.0.1:{port}"):
        open_tracking(cfg, RunDir(tmp_path))
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------------------------- CSV
def _table(path: Path, cell) -> Path:
    rows = ["x,y,label"] + [f"{cell(i)},{i % 7},{'ab'[i % 2]}" for i in range(100)]
    path.write_text("\n".join(rows) + "\n")
    return path


def _csv_run(path: Path, out: Path, **data) -> None:
    api.run({"name": "t", "data": {"name": "csv", "path": str(path), **data}, "model": {"name": "mlp", "hidden": [8]},
             "train": {"epochs": 1, "diagnostics_every": 0, "report": False}}, out=out)


def test_an_infinite_number_in_a_csv_column_is_refused_at_load(tmp_path):
    path = _table(tmp_path / "t.csv", lambda i: "inf" if i in (5, 9) else str(i / 10))
    with pytest.raises(DataError, match=r"column 'x' holds an infinite number on 2 row\(s\) \(line 7 \('inf'\), line 11"):
        _csv_run(path, tmp_path / "run")


def test_a_numeric_column_with_a_stray_word_is_refused_naming_the_cell(tmp_path):
    path = _table(tmp_path / "t.csv", lambda i: "abc" if i == 40 else str(i / 10))
    with pytest.raises(DataError, match=r"column 'x' holds numbers except on 1 of 100 row\(s\) \(line 42 \('abc'\)\); "
                                        r"as text it would become 100 one-hot categories"):
        _csv_run(path, tmp_path / "run")
    _csv_run(path, tmp_path / "listed", categorical=["x"])  # said to be categories: taken as such
    assert (tmp_path / "listed" / "model.safetensors").is_file()


def test_predict_json_writes_null_for_a_non_finite_value(tiny_run, monkeypatch, capsys):
    from layerlab.cli import main

    monkeypatch.setattr(api, "predict", lambda *a, **k: [{"input": "a.csv:2", "value": float("nan")},
                                                         {"input": "a.csv:3", "value": [1.5, float("-inf")]}])
    assert main(["predict", str(tiny_run), "a.csv", "--json"]) == 0

    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    rows = [json.loads(line, parse_constant=refuse) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"input": "a.csv:2", "value": None}, {"input": "a.csv:3", "value": [1.5, None]}]


# ------------------------------------------------------------------- compare, WAV, the report
def test_compare_with_a_bad_recipe_creates_no_folder(tmp_path):
    from layerlab.tune.comparison import compare

    (tmp_path / "bad.yaml").write_text("name: bad\ntrain: {lr: banana}\n")
    with pytest.raises(RecipeError):
        compare([str(tmp_path / "bad.yaml"), "digits-cnn"], epochs=1, runs_root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_a_wav_file_cut_short_in_its_header_says_what_it_lacks(tmp_path):
    from layerlab.data.audio import read_wav

    path = tmp_path / "short.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00")
    with pytest.raises(DataError) as caught:
        read_wav(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not a readable WAV file: it ends after 22 bytes, inside its header")
    assert "44 bytes" in message and ": )" not in message


def test_a_failing_report_section_logs_one_line_without_a_traceback(caplog):
    from layerlab.analyze.report_page import _safely

    def build():
        raise ValueError("Input contains NaN.\nsecond line of sklearn's message")

    with caplog.at_level(logging.WARNING, logger="layerlab"):
        sections = _safely("classification", build)
    assert "Input contains NaN" in sections[0].title + str(sections[0].parts)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in records] == ["report sections for classification failed: ValueError: Input contains NaN."]
    assert all(r.exc_info is None for r in records)
