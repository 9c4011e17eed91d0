"""train.budget: auto: the rule that sizes a run to train.max_seconds (train/budget.py), and its use in a run."""

from __future__ import annotations

import math

import pytest
import yaml

from layerlab import api
from layerlab.recipe import TrainConfig, load_recipe
from layerlab.train.budget import LM_TARGET_STEPS, MIN_BATCH, TARGET_STEPS, apply, plan, shorter_context

GPT = TrainConfig(batch_size=64, lr=0.002, epochs=100, schedule="cosine", max_seconds=900, budget="auto")
SPEED = (0.02, 0.0037)  # seconds per step: 0.02 + 0.0037 * batch (0.26 s at 64, as the GPT on 2 cores)


def test_a_long_budget_keeps_the_recipes_batch_and_rate():
    chosen = plan(GPT, seconds=900, per_step=SPEED, examples=1_000_000)
    assert chosen.batch_size == 64 and apply(GPT, chosen, seconds=900).lr == pytest.approx(0.002)
    assert chosen.steps >= TARGET_STEPS and chosen.epochs == 100


def test_a_short_budget_takes_smaller_batches_for_more_steps_and_keeps_the_rate():
    chosen = plan(GPT, seconds=60, per_step=SPEED, examples=1_000_000)
    assert chosen.batch_size == MIN_BATCH  # no halving reaches 2,000 steps in 60 s: the smallest
    assert apply(GPT, chosen, seconds=60).lr == pytest.approx(0.002)  # the square-root rule measured worse at short budgets
    assert chosen.steps == int(0.9 * 60 / (0.02 + 0.0037 * 8))
    medium = plan(GPT, seconds=300, per_step=SPEED, examples=1_000_000)
    assert MIN_BATCH < medium.batch_size < 64 and medium.steps >= TARGET_STEPS  # the largest that reaches it
    assert plan(GPT, seconds=300, per_step=SPEED, examples=1_000_000).batch_size == 16


def test_a_language_model_plans_for_more_steps():
    for seconds, default_batch, lm_batch in ((300, 16, MIN_BATCH), (900, 64, 16)):
        default = plan(GPT, seconds=seconds, per_step=SPEED, examples=1_000_000)
        lm = plan(GPT, seconds=seconds, per_step=SPEED, examples=1_000_000, target_steps=LM_TARGET_STEPS)
        assert (default.batch_size, lm.batch_size) == (default_batch, lm_batch)
    assert plan(GPT, seconds=900, per_step=SPEED, examples=1_000_000, target_steps=LM_TARGET_STEPS).steps >= LM_TARGET_STEPS


def test_warm_up_is_a_share_of_the_planned_steps_and_epochs_leave_the_clock_to_end_the_run():
    small_data = plan(GPT, seconds=300, per_step=SPEED, examples=10_000)
    per_epoch = math.ceil(10_000 / small_data.batch_size)
    assert small_data.warmup_epochs == pytest.approx(0.05 * small_data.steps / per_epoch, rel=1e-3)
    assert small_data.epochs * per_epoch >= 2 * small_data.steps
    onecycle = plan(GPT.model_copy(update={"schedule": "onecycle"}), seconds=300, per_step=SPEED, examples=10_000)
    assert onecycle.warmup_epochs == 0.0  # onecycle rises on its own


def test_the_plan_runs_over_the_clock_and_a_constant_schedule_becomes_cosine():
    constant = GPT.model_copy(update={"schedule": "constant"})
    sized = apply(constant, plan(constant, seconds=55, per_step=SPEED, examples=10_000), seconds=55)
    assert (sized.schedule, sized.schedule_clock, sized.max_seconds) == ("cosine", "time", 55)
    assert sized.batch_size == MIN_BATCH and sized.optimizer_impl == "foreach"
    fused = GPT.model_copy(update={"optimizer_impl": "fused"})
    assert apply(fused, plan(fused, seconds=55, per_step=SPEED, examples=10_000), seconds=55).optimizer_impl == "fused"


def test_a_language_models_context_is_halved_only_when_the_smallest_batch_falls_short():
    short = {"steps": TARGET_STEPS - 1, "batch_size": MIN_BATCH}
    gpt = load_recipe("shakespeare-transformer")  # context 128
    assert shorter_context(gpt, short) == 64
    assert shorter_context(gpt, {**short, "steps": TARGET_STEPS}) is None  # the plan reaches its steps
    assert shorter_context(load_recipe("shakespeare-transformer", ["data.max_length=100"]), short) is None  # 50 < 64
    assert shorter_context(load_recipe("polarity-cnn"), short) is None  # not a language model
    assert shorter_context(gpt, {}) is None  # budget off


def test_budget_is_off_unless_asked_and_the_built_in_recipes_ask():
    assert TrainConfig().budget == "off"
    for name in ("shakespeare-transformer", "fashion-cnn", "polarity-cnn", "polarity-lstm", "polarity-fasttext",
                 "polarity-transformer"):
        assert load_recipe(name).train.budget == "auto", name


@pytest.mark.slow
def test_a_budgeted_run_probes_sizes_itself_and_saves_what_it_chose(tmp_path):
    recipe = {"name": "tiny", "data": {"name": "digits", "limit": 600}, "model": {"name": "cnn", "width": 8, "blocks": 2},
              "train": {"epochs": 1, "batch_size": 64, "lr": 0.01, "max_seconds": 30, "budget": "auto",
                        "schedule": "constant", "report": False}}
    result = api.run(recipe, out=tmp_path / "run")
    saved = yaml.safe_load((result.run_dir / "recipe.yaml").read_text())["train"]
    assert saved["budget"] == "off" and saved["schedule"] == "cosine" and saved["schedule_clock"] == "time"
    assert saved["batch_size"] in (64, 32, 16, 8) and saved["max_seconds"] < 30 and saved["epochs"] > 1
    assert result.summary["test"]["accuracy"] > 0.3  # it learns (chance 0.1; a loaded machine buys few steps)


def test_a_budget_is_refused_for_a_data_parallel_run_whose_ranks_would_each_choose():
    from layerlab.errors import RecipeError
    from layerlab.runs.training import _sized
    from layerlab.train.distributed import Distributed

    cfg = load_recipe("fashion-cnn", ["train.max_seconds=60"])
    with pytest.raises(RecipeError, match="train.budget: auto sizes a run by timing one process"):
        _sized(cfg, None, Distributed(world_size=2, launched=True), None, None)


def test_an_unquoted_off_in_yaml_or_an_override_turns_the_budget_off():
    from layerlab.recipe_yaml import parse_yaml  # the recipes' own loader: YAML 1.1 reads `off` as false

    assert load_recipe("shakespeare-transformer", ["train.budget=off"]).train.budget == "off"
    assert TrainConfig(**parse_yaml("budget: off\nmax_seconds: 60")).budget == "off"
    from layerlab.errors import RecipeError

    with pytest.raises(RecipeError, match="allowed: off, auto"):
        load_recipe("shakespeare-transformer", ["train.budget=sometimes"])


@pytest.mark.slow
def test_a_short_budget_trains_a_language_model_on_a_halved_context(tmp_path, shared_data):
    overrides = ["train.max_seconds=6", "model.dim=32", "model.layers=1", "model.heads=2", "data.limit=200000",
                 "train.report=false"]
    result = api.run("shakespeare-transformer", overrides, out=tmp_path / "run")
    saved = yaml.safe_load((result.run_dir / "recipe.yaml").read_text())
    assert saved["data"]["max_length"] == 64 and saved["train"]["budget"] == "off"  # 2,000 steps are out of reach
    assert saved["train"]["optimizer_impl"] == "foreach" and saved["train"]["max_seconds"] < 6
    assert result.summary["test"]["loss"] < 3.4  # learns (uniform over ~65 characters: 4.17)
