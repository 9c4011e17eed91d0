"""Progress bars for long work outside training: on stderr's terminal only, never with --json or --quiet,
never from the library unless asked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from sklearn.datasets import load_digits

from layerlab import progress
from layerlab.cli import main

TINY = "data: {name: digits, limit: 400}\nmodel: {name: mlp, hidden: [32]}\ntrain: {epochs: 2, batch_size: 32, report: false}\n"


@pytest.fixture
def terminal(monkeypatch) -> io.StringIO:
    """stderr as a terminal: what a progress bar draws there."""
    screen = io.StringIO()
    monkeypatch.setattr(progress, "_stderr_console", lambda: Console(file=screen, force_terminal=True, width=120))
    return screen


def _clear(screen: io.StringIO) -> None:
    screen.seek(0)
    screen.truncate(0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("progress")
    (folder / "tiny.yaml").write_text(TINY)
    assert main(["run", str(folder / "tiny.yaml"), "--out", str(folder / "run"), "-q"]) == 0
    return folder / "run"


def test_steps_draw_only_when_shown_and_on_a_terminal(terminal, monkeypatch):
    with progress.steps("work", 2) as advance:  # the library on its own: nothing
        advance("first")
    assert terminal.getvalue() == ""
    with progress.shown(True), progress.steps("work", 2) as advance:
        advance("first")
        advance("second")
    assert "work: first" in terminal.getvalue() and "work: second" in terminal.getvalue()
    monkeypatch.setattr(progress, "_stderr_console", lambda: Console(file=io.StringIO(), force_terminal=False))
    with progress.shown(True), progress.steps("work", 1) as advance:  # a pipe or a log: nothing, and no error
        advance("first")


def test_report_shows_its_sections_and_json_hides_them(tiny_run, terminal, capsys):
    assert main(["report", str(tiny_run)]) == 0
    assert "report: sections of the run" in terminal.getvalue() and "report: sections of classification" in terminal.getvalue()
    _clear(terminal)
    capsys.readouterr()
    assert main(["report", str(tiny_run), "--json"]) == 0
    assert terminal.getvalue() == "" and json.loads(capsys.readouterr().out)["report"].endswith("report.html")


def test_embed_shows_each_method(tiny_run, terminal, tmp_path):
    assert main(["embed", str(tiny_run), "--method", "pca,tsne", "--n", "150", "--out", str(tmp_path / "e")]) == 0
    shown = terminal.getvalue()
    assert "embedding 150 items: pca" in shown and "embedding 150 items: tsne" in shown


def test_explain_shows_each_input(tiny_run, terminal):
    assert main(["explain", str(tiny_run), "test:0", "test:1", "--no-report"]) == 0
    assert "explaining: test:0" in terminal.getvalue() and "explaining: test:1" in terminal.getvalue()


def test_evaluate_and_predict_over_a_folder(tiny_run, terminal, tmp_path):
    assert main(["evaluate", str(tiny_run)]) == 0
    assert "evaluate: reading the test split" in terminal.getvalue() and "examples" in terminal.getvalue()
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(load_digits().images[:6]):
        Image.fromarray((image * 255 / 16).astype(np.uint8)).save(folder / f"digit_{i}.png")
    _clear(terminal)
    assert main(["predict", str(tiny_run), str(folder)]) == 0
    assert "predict: reading 1 inputs" in terminal.getvalue() and "predict: 6 predictions" in terminal.getvalue()
    _clear(terminal)
    assert main(["predict", str(tiny_run), str(folder), "--json"]) == 0
    assert terminal.getvalue() == ""
