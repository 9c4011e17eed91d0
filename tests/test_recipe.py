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
    assert problems_of({}, ["train.epocs=3"]) == ["train.epocs: unknown key; did you mean 'train.epochs'?"]
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
    assert problem == "task.label_smoothing: applies to classification only; remove it for regression"
