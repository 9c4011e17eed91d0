"""``train.semi`` with several processes is refused (its unlabelled batches run on rank 0 only, so two ranks
would not train the one-process run): in one line with exit 2 by ``layerlab run --nproc N`` before torchrun
starts, and by every rank when torchrun is started directly; a world of one still trains it."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.errors import RecipeError
from layerlab.recipe import load_recipe
from layerlab.train.distributed import Distributed
from layerlab.train.launch import SEMI_REFUSAL

SEMI_RECIPE = "fashion-fixmatch-40"


def test_every_rank_of_several_refuses_train_semi() -> None:
    train = load_recipe(SEMI_RECIPE).train
    assert train.semi is not None
    with pytest.raises(RecipeError, match=r"^train\.semi: semi-supervised training runs in one process only"):
        Distributed(1, 2, 1, launched=True, backend="gloo").check(train, own_step=False)
    Distributed(0, 1, 0, launched=True, backend="gloo").check(train, own_step=False)  # torchrun, a world of one
    Distributed().check(train, own_step=False)  # a lone process
    Distributed(0, 2, 0, launched=True, backend="gloo").check(load_recipe("digits-cnn").train, own_step=False)


def test_run_nproc_refuses_train_semi_in_one_line_before_torchrun_starts(capsys, tmp_path: Path) -> None:
    from layerlab.cli import main

    out = tmp_path / "run"
    assert main(["run", SEMI_RECIPE, "--nproc", "2", f"--out={out}", "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {SEMI_REFUSAL}"]
    assert not out.exists()  # nothing started, nothing written


def test_run_nproc_refuses_resuming_a_semi_run_on_several_ranks(capsys, tmp_path: Path) -> None:
    from layerlab.cli import main

    run = tmp_path / "semi-run"
    run.mkdir()
    (run / "recipe.yaml").write_text(load_recipe(SEMI_RECIPE).to_yaml(), encoding="utf-8")
    assert main(["run", f"--resume={run}", "--nproc", "2", "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {SEMI_REFUSAL}"]
    assert main(["run", "train.epochs=1", "--nproc", "0", "-q"]) == 2  # without train.semi the launcher decides
    assert "--nproc 0" in capsys.readouterr().err
