"""Recipes: validation before any work, messages a user can act on, overrides, built-ins, explain."""

from __future__ import annotations

import pytest
import yaml

from layerlab.errors import RecipeError
from layerlab.recipe import Recipe, explain, load_recipe
from layerlab.recipes import builtin_names


def problems_of(source, overrides=()) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(source, overrides)
    return info.value.problems


def test_defaults_fill_every_section():
    recipe = load_recipe({})
    assert recipe.data.name == "digits"
    assert recipe.train.epochs >= 1
    assert recipe.model["name"] == "cnn"
    # the model section carries its family's defaults
    assert "width" in recipe.model and "init" in recipe.model


def test_unknown_model_name_has_a_close_match():
    assert problems_of({"model": {"name": "resnt18"}}) == ["model.name: 'resnt18' is not a known model; did you mean 'resnet18'?"]


def test_unknown_key_has_a_close_match():
    assert problems_of({"train": {"epocs": 3}}) == ["train.epocs: unknown key; did you mean 'train.epochs'?"]


def test_unknown_model_option_names_the_family_field():
    problems = problems_of({"model": {"name": "mlp", "hiden": [10]}})
    assert problems == ["model.hiden: unknown key; did you mean 'model.hidden'?"]


def test_wrong_choice_lists_what_is_allowed():
    (problem,) = problems_of({"train": {"optimizer": "adm"}})
    assert problem.startswith("train.optimizer: 'adm' is not allowed; allowed: sgd, adam, adamw, rmsprop, adagrad")
    assert problem.endswith("did you mean 'adam'?")


def test_wrong_type_says_what_was_given():
    (problem,) = problems_of({"train": {"epochs": "many"}})
    assert problem.startswith("train.epochs:") and "'many'" in problem


def test_out_of_range_value():
    (problem,) = problems_of({"data": {"val_fraction": 1.5}})
    assert problem.startswith("data.val_fraction:") and "1.5" in problem


def test_unknown_data_source():
    (problem,) = problems_of({"data": {"name": "fashion_mnist"}})
    assert problem == "data.name: 'fashion_mnist' is not a known data set; did you mean 'fashion-mnist'?"


def test_loss_must_fit_the_task():
    (problem,) = problems_of({"task": {"name": "classification", "loss": "mse"}})
    assert problem.startswith("task.loss: 'mse' is not a loss for classification")


def test_all_problems_are_reported_together(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": {"epocs": 3, "lr": -1}, "model": {"name": "resnt18"}}))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert len(info.value.problems) == 3
    assert str(info.value).startswith(f"{path}: 3 problems in the recipe")


def test_file_name_is_in_the_message(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  epocs: 3\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: train\.epocs: unknown key"):
        load_recipe(path)


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  epochs: [3\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: line \d+, column \d+: not valid YAML"):
        load_recipe(path)


def test_missing_file_suggests_builtin():
    with pytest.raises(RecipeError, match="did you mean the built-in recipe 'digits-cnn'"):
        load_recipe("digits-cn")


def test_overrides_parse_yaml_values():
    recipe = load_recipe("digits-cnn", ["train.epochs=3", "model.width=16", "train.betas=[0.8, 0.9]", "data.augment.hflip=true"])
    assert recipe.train.epochs == 3 and recipe.model["width"] == 16
    assert recipe.train.betas == (0.8, 0.9) and recipe.data.augment.hflip is True


def test_override_mapping_and_errors():
    assert load_recipe({}, {"train.lr": 0.5}).train.lr == 0.5
    assert problems_of({}, ["train.epocs=3"]) == ["override train.epocs=3: unknown key; did you mean 'train.epochs'?"]
    with pytest.raises(RecipeError, match="not of the form key.path=value"):
        load_recipe({}, ["train.epochs"])


def test_recipe_round_trips_through_yaml():
    recipe = load_recipe("fashion-cnn")
    again = load_recipe(yaml.safe_load(recipe.to_yaml()))
    assert again == recipe


def test_recipe_object_is_accepted():
    recipe = Recipe()
    assert load_recipe(recipe, ["train.epochs=2"]).train.epochs == 2


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_recipe_validates(name):
    recipe = load_recipe(name)
    assert recipe.name == name and recipe.description


def test_required_builtins_exist():
    assert {"digits-cnn", "fashion-mlp", "fashion-cnn", "fashion-resnet18", "cifar10-resnet18", "tabular-mlp"} <= set(builtin_names())


def test_explain_lists_every_field_with_a_description():
    rows = explain()
    keys = {row[0] for row in rows}
    assert {"train.epochs", "data.augment.crop_padding", "task.label_smoothing", "model[mlp].hidden"} <= keys
    assert all(row[3] for row in rows), [row[0] for row in rows if not row[3]]


def test_explain_one_section_and_unknown_section():
    assert all(row[0].startswith("train.") for row in explain("train"))
    with pytest.raises(RecipeError, match="did you mean 'train'"):
        explain("trian")


def test_classification_options_are_refused_for_regression():
    (problem,) = problems_of({"task": {"name": "regression", "label_smoothing": 0.1}})
    assert problem == ("task.label_smoothing: unknown key for task 'regression' "
                       "(an option of adversarial, classification, language_model, seq2seq)")


def test_each_source_and_task_takes_its_own_options():
    recipe = load_recipe({"data": {"name": "series", "window": 12}, "task": {"name": "forecast", "relative": True},
                          "model": {"name": "mlp"}})
    assert (recipe.data.window, recipe.task.relative, recipe.task.huber_delta) == (12, True, 1.0)
    assert problems_of({"data": {"name": "series", "windw": 12}}) == ["data.windw: unknown key; did you mean 'data.window'?"]
    assert problems_of({"data": {"name": "digits", "window": 12}}) == [
        "data.window: unknown key for data set 'digits' (an option of series, co2, sunspots)"]
    assert problems_of({"data": {"name": "csv", "categorikal": ["a"]}}) == [
        "data.categorikal: unknown key; did you mean 'data.categorical'?"]
    assert problems_of({"task": {"name": "vae", "beta": 0}})[0].startswith("task.beta: input should be greater than 0")


def test_a_section_dumps_every_option_of_its_source_and_task():
    recipe = load_recipe({"data": {"name": "csv", "path": "t.csv", "categorical": ["colour"]},
                          "task": {"name": "regression", "huber_delta": 2.0}, "model": {"name": "mlp"}})
    data, task = recipe.to_dict()["data"], recipe.to_dict()["task"]
    assert data["categorical"] == ["colour"] and data["delimiter"] == "," and "window" not in data
    assert task == {"name": "regression", "loss": "auto", "huber_delta": 2.0}
    assert load_recipe(yaml.safe_load(recipe.to_yaml())) == recipe


def test_a_data_section_built_in_python_is_its_sources_class():
    from layerlab.data.sources.csv_table import CsvConfig
    from layerlab.recipe import DataConfig, TaskConfig
    from layerlab.tasks.regress import RegressionConfig

    assert isinstance(DataConfig(name="csv", target="y"), CsvConfig)
    assert isinstance(TaskConfig(name="regression", huber_delta=2.0), RegressionConfig)
    with pytest.raises(ValueError, match="categorical"):
        DataConfig(name="digits", categorical=["a"])
    assert isinstance(load_recipe({"data": DataConfig(name="csv", path="t.csv")}).data, CsvConfig)


# A run directory's recipe.yaml written before sources and tasks had configs of their own: the data and task
# sections hold every option of every source and task (layerlab run co2-lstm, at commit 80eb064).
OLD_RUN_RECIPE = """\
name: co2-lstm
data:
  name: co2
  path: null
  download: true
  val_fraction: 0.1
  test_fraction: 0.2
  folds: null
  fold: 0
  limit: 3000
  normalize: true
  augment: {crop_padding: 0, hflip: false, vflip: false, erase: 0.0, noise: 0.0, freq_mask: 0,
    freq_masks: 1, time_mask: 0, time_masks: 1}
  target: null
  header: true
  delimiter: ','
  categorical: null
  image_size: null
  grayscale: false
  tokenizer: char
  vocab_size: 8000
  min_frequency: 1
  lowercase: false
  max_length: 128
  encoding: null
  text_column: null
  source_lang: de
  target_lang: en
  test_split: null
  label_pattern: null
  test_speaker: null
  sample_rate: null
  resample: true
  clip_seconds: 1.0
  n_mels: 40
  window_ms: 32.0
  hop_ms: 16.0
  columns: null
  window: 36
  horizon: 12
  season: null
  groups: null
  group_balance: false
  generated: null
  generated_per_class: 100
model: {name: lstm, init: default, from_run: null, embed_init: null, word_dropout: 0.0,
  vocab_size: null, embed_dim: 128, hidden: 64, layers: 1, bidirectional: false, dropout: 0.0,
  pooling: last, forget_bias: 1.0}
task: {name: forecast, loss: auto, label_smoothing: 0.0, class_weights: none, top_k: 5,
  rdrop: 0.0, huber_delta: 1.0, beam_size: 1, length_penalty: 1.0, val_bleu: false,
  relative: true, calibrate: none, noise: none, noise_level: 0.3, beta: 1.0, kl_warmup: 0,
  n_critic: 1, d_lr: null, g_lr: null, gp_weight: 10.0, samples_seed: 1234}
"""


def test_an_old_run_directorys_recipe_still_loads(tmp_path):
    run = tmp_path / "co2-lstm"
    run.mkdir()
    (run / "recipe.yaml").write_text(OLD_RUN_RECIPE)
    (run / "model.json").write_text("{}")
    recipe = load_recipe(run / "recipe.yaml")
    assert (recipe.data.name, recipe.data.window, recipe.data.horizon, recipe.data.limit) == ("co2", 36, 12, 3000)
    assert recipe.task.relative is True and "tokenizer" not in recipe.to_dict()["data"]
    assert "beam_size" not in recipe.to_dict()["task"]
    # The same text as a user's recipe (no run beside it) is refused: other sources' options are unknown keys.
    (run / "model.json").unlink()
    assert "data.tokenizer: unknown key for data set 'co2'" in str(_refused(run / "recipe.yaml"))
    # In a run directory too, another source's option that is not at its default was not written by LayerLab.
    (run / "model.json").write_text("{}")
    (run / "recipe.yaml").write_text(OLD_RUN_RECIPE.replace("n_mels: 40", "n_mels: 64"))
    assert _refused(run / "recipe.yaml").problems == [
        "data.n_mels: unknown key for data set 'co2' (an option of audio-folder, fsdd, digit-strings, speech-manifest)"]


def _refused(path) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return info.value


def test_explain_one_source_or_task_lists_just_its_fields():
    csv = {row[0] for row in explain("data", "csv")}
    assert {"data.name", "data.val_fraction", "data.target", "data.categorical"} <= csv
    assert not csv & {"data.window", "data.tokenizer", "data.n_mels"}
    forecast = {row[0] for row in explain("task.forecast")}
    assert forecast == {"task.name", "task.loss", "task.huber_delta", "task.relative"}
    with pytest.raises(RecipeError, match="did you mean 'csv'"):
        explain("data", "cvs")
