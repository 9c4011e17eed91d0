"""Gradient flow in the report, beside other runs: a sigmoid MLP against a ReLU one with batch norm
(per layer), and a plain RNN against an LSTM (through time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import layerlab
from layerlab.analyze.gradient_plots import median_flow
from layerlab.analyze.report import report
from layerlab.cli import main
from layerlab.errors import UsageError
from layerlab.train.diagnostics import read_diagnostics
from layerlab.train.gradient_time import read_time_gradients


def mlp_run(out: Path, activation: str, batch_norm: bool) -> Path:
    """Six hidden layers on scikit-learn's digits, gradients recorded every 5 steps."""
    layerlab.run({
        "name": f"deep-{activation}",
        "data": {"name": "digits"},
        "model": {"name": "mlp", "hidden": [32] * 6, "activation": activation, "batch_norm": batch_norm},
        "train": {"epochs": 2, "optimizer": "sgd", "lr": 0.05, "schedule": "constant", "diagnostics_every": 5,
                  "report": False},
    }, out=out)
    return out


def lm_run(out: Path, cell: str) -> Path:
    """A one-layer recurrent language model on 20,000 characters of tiny-shakespeare, one epoch."""
    layerlab.run({
        "name": f"lm-{cell}",
        "data": {"name": "tinyshakespeare", "limit": 20000, "max_length": 48, "val_fraction": 0.1,
                 "test_fraction": 0.05},
        "model": {"name": cell, "embed_dim": 16, "hidden": 48, "layers": 1, "pooling": "none"},
        "task": {"name": "language_model"},
        "train": {"epochs": 1, "batch_size": 32, "lr": 0.01, "grad_clip": 1.0, "report": False,
                  "threads": 1},
    }, out=out)
    return out


def row_of(page: str, run_name: str, table: str) -> list[str]:
    """The cells of the row for ``run_name`` in the table whose last column is ``table``."""
    page = page[page.index(f"<th>{table}</th>"):]
    match = re.search(rf'<tr><td class="text">{re.escape(run_name)}</td>(.*?)</tr>', page)
    assert match, f"no table row for {run_name}"
    return re.findall(r"<td[^>]*>([^<]*)</td>", match.group(1))


def test_the_report_draws_a_sigmoid_mlps_vanishing_gradient_beside_a_relu_one(tmp_path):
    sigmoid = mlp_run(tmp_path / "sigmoid", "sigmoid", False)
    relu_bn = mlp_run(tmp_path / "relu-bn", "relu", True)
    page = report(sigmoid, beside=[relu_bn]).read_text(encoding="utf-8")
    assert (sigmoid / "report" / "gradient_flow_beside.png").stat().st_size > 5000
    assert "Gradient flow of this run and the runs beside it" in page
    # the table's first/last ratios are the plotted medians: sigmoid's first layer gets a tiny share
    ratios = {}
    for run in (sigmoid, relu_bn):
        diag = read_diagnostics(run / "diagnostics")
        flow = median_flow(diag["gradients"], [n for n in diag["meta"]["layers"]
                                               if diag["meta"]["layer_types"][n] == "Linear"])
        ratios[run.name] = flow[0] / flow[-1]
        cells = row_of(page, run.name, "first / last")
        assert cells[0] == "7" and float(cells[-1]) == pytest.approx(ratios[run.name], rel=5e-3)
    assert ratios["sigmoid"] < 0.02 < 0.2 < ratios["relu-bn"], ratios


@pytest.mark.slow
def test_the_report_draws_a_plain_rnns_gradient_through_time_beside_an_lstms(tmp_path, shared_data):
    rnn = lm_run(tmp_path / "rnn", "rnn")
    lstm = lm_run(tmp_path / "lstm", "lstm")
    assert main(["report", str(lstm), "--beside", str(rnn)]) == 0
    page = (lstm / "report.html").read_text(encoding="utf-8")
    assert "Gradient through time" in page and "(failed)" not in page
    for png in ("time_gradients", "time_gradients_beside"):
        assert (lstm / "report" / f"{png}.png").stat().st_size > 5000, png
    furthest = {}
    for run in (rnn, lstm):
        last = read_time_gradients(run)[-1]
        back = [v for k, v in last.items() if k.startswith("back_")]
        furthest[run.name] = back[-1] / back[0]
        cells = row_of(page, run.name, "furthest / last")
        assert cells[0] == str(len(back) - 1)
        assert float(cells[-1]) == pytest.approx(furthest[run.name], rel=5e-3)
    # the plain RNN's dependence on early inputs vanishes far faster than the LSTM's
    assert furthest["rnn"] < 1e-3 * furthest["lstm"], furthest


def test_beside_needs_run_directories(digits_run, tmp_path, capsys):
    with pytest.raises(UsageError, match="no such run directory"):
        report(digits_run, beside=[tmp_path / "nowhere"])
    assert main(["report", str(digits_run), "--beside", str(tmp_path)]) == 2
    assert "not a complete LayerLab run directory (missing recipe.yaml)" in capsys.readouterr().err
