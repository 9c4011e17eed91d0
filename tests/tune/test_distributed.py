"""Many machines, one study: two `layerlab tune --storage postgresql://... --study NAME` processes,
started together against a real PostgreSQL server, share the study and its count."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
import yaml

from layerlab.cli import main
from layerlab.tune.strategies import make_storage


@pytest.mark.slow
def test_two_workers_share_one_study_on_postgresql(postgres_url, with_space, tmp_path, capsys):
    recipe = with_space({"train.lr": {"log_uniform": [1e-3, 3e-2]}}, strategy="tpe", trials=4, startup_trials=2)
    recipe["train"]["epochs"] = 3
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    command = [sys.executable, "-m", "layerlab", "tune", str(path), "--storage", postgres_url, "--study", "shared", "-q"]
    workers = [subprocess.Popen([*command, "--out", str(tmp_path / f"machine{i}")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        assert "best val_accuracy" in out

    study = optuna.load_study(study_name="shared", storage=make_storage(postgres_url))
    trials = study.get_trials()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == len(trials) and 4 <= len(done) <= 5  # the shared count: at most one past it
    assert len({t.user_attrs["worker"] for t in trials}) == 2  # both machines ran trials
    # each machine keeps the run directories of its own trials
    mine = {i: {p.name for p in (tmp_path / f"machine{i}" / "trials").iterdir() if p.is_dir()} for i in range(2)}
    assert mine[0].isdisjoint(mine[1]) and len(mine[0] | mine[1]) == len(trials)

    # a third call finds the count reached, runs nothing, and reports the study from the shared storage
    assert main(["tune", str(path), "--storage", postgres_url, "--study", "shared", "--out",
                 str(tmp_path / "machine0"), "-q"]) == 0
    assert len(optuna.load_study(study_name="shared", storage=make_storage(postgres_url)).trials) == len(trials)
    assert "best val_accuracy" in capsys.readouterr().out


def test_an_unreachable_storage_is_a_clear_error(tmp_path, with_space, capsys):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(with_space({"train.lr": {"log_uniform": [1e-3, 3e-2]}})))
    code = main(["tune", str(path), "--storage", "postgresql://someone:secret@127.0.0.1:1/db", "--study", "s",
                 "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "--storage: cannot open postgresql://someone:***@127.0.0.1:1/db" in err
    assert "secret" not in err
    assert main(["tune", str(path), "--storage", "redis://x", "--out", str(tmp_path / "s")]) == 2
    assert "is not a database URL" in capsys.readouterr().err
