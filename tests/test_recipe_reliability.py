"""Issue 28: hostile recipes and command lines are refused in one bounded message, never a traceback."""

from __future__ import annotations

import time

import pytest

from layerlab.cli import build_parser, main, parse_args


def check(tmp_path, text: str, *overrides: str) -> tuple[int, str]:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    return main(["recipe", "check", str(path), *overrides]), str(path)


def test_alias_bomb_refused_quickly(tmp_path, capsys):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    start = time.monotonic()
    code, _ = check(tmp_path, "\n".join(lines) + "\ntrain:\n  epochs: *a9\n")
    assert code == 2 and time.monotonic() - start < 5
    err = capsys.readouterr().err
    assert "once its aliases are expanded" in err and len(err) < 400


def test_deep_nesting_and_huge_files_refused(tmp_path, capsys):
    assert check(tmp_path, "train:\n  epochs: " + "[" * 1000 + "]" * 1000 + "\n")[0] == 2
    assert "nested more than 64 levels deep" in capsys.readouterr().err
    assert check(tmp_path, "description: " + "x" * 1_100_000 + "\n")[0] == 2
    assert "a recipe has at most 1,000,000" in capsys.readouterr().err


def test_many_unknown_keys_give_a_bounded_message(tmp_path, capsys):
    assert check(tmp_path, "train:\n" + "".join(f"  k{i}: {i}\n" for i in range(5000)))[0] == 2
    err = capsys.readouterr().err
    assert "... and 4,980 more" in err and len(err) < 20_000


def test_long_values_cut_short(tmp_path, capsys):
    assert check(tmp_path, "train:\n  epochs: " + "y" * 10_000 + "\n")[0] == 2
    err = capsys.readouterr().err
    assert "(10,002 chars)" in err or len(err) < 400


def test_duplicate_keys_refused_with_lines(tmp_path, capsys):
    assert check(tmp_path, "train:\n  lr: 0.1\n  epochs: 2\n  lr: 0.2\n")[0] == 2
    assert "line 4, column 3: duplicate key 'lr' (first on line 2)" in capsys.readouterr().err


@pytest.mark.parametrize("override, message", [
    ("model.name=tv:", "model.width: unknown key"),  # was a TypeError: 'tv:' read as the mapping {tv: None}
    ("model.name=hf:", "hf: names a model after the colon"),
    ("model.name=[1, 2]", "a model name is a string, given [1, 2]"),
    ("model.name={a: 1}", "a model name is a string, given {'a': 1}"),
    ("train.seed=18446744073709551616", "less than or equal to 4294967295"),
    ("train.betas=[2,-1]", "train.betas.0: input should be less than 1"),
    ("train.monitor=val_acuracy", "did you mean 'val_accuracy'?"),
    ("train.device=banana", "'banana' is not a device; allowed: auto, cpu, cuda, cuda:N, mps"),
    ("train.Lr=3", "override train.Lr=3: unknown key; did you mean 'train.lr'?"),
    ("train.epocs=3", "error: override train.epocs=3: unknown key; did you mean 'train.epochs'?"),
])
def test_refused_by_check(capsys, override, message):
    assert main(["recipe", "check", "digits-cnn", override]) == 2
    assert message in capsys.readouterr().err


def test_model_configs_checked(capsys):
    assert main(["recipe", "check", "shakespeare-transformer", "model.dim=130", "model.heads=4"]) == 2
    assert "override model.dim=130: 130 must be a multiple of model.heads (4)" in capsys.readouterr().err
    assert main(["recipe", "check", "polarity-cnn", "model.kernel_sizes=[]"]) == 2
    assert "model.kernel_sizes" in capsys.readouterr().err


def test_max_length_bounded_and_val_bleu_monitor(capsys):
    assert main(["recipe", "check", "shakespeare-transformer", "data.max_length=1000000000000"]) == 2
    assert "override data.max_length=1000000000000: input should be less than or equal to 1000000," in capsys.readouterr().err
    assert main(["recipe", "check", "multi30k-transformer", "task.val_bleu=true", "train.monitor=val_bleu"]) == 0
    assert main(["recipe", "check", "multi30k-transformer", "task.val_bleu=false", "train.monitor=val_bleu"]) == 2


def test_exponent_is_a_number(tmp_path):
    from layerlab.recipe import load_recipe

    assert load_recipe({}, ["train.epochs=1e9"]).train.epochs == 1_000_000_000
    (tmp_path / "r.yaml").write_text("train:\n  lr: 1e-2\n")
    assert load_recipe(tmp_path / "r.yaml").train.lr == 0.01


def test_integer_target_accepted():
    from layerlab.recipe import load_recipe

    assert load_recipe({"data": {"name": "csv", "path": "x.csv", "header": False, "target": 14}}).data.target == "14"


def test_models_show_bad_input_exits_2(capsys):
    assert main(["models", "show", "cnn", "--input", "0x0x0"]) == 2
    assert "--input: input shape '0x0x0'" in capsys.readouterr().err


def test_overrides_anywhere_on_the_line():
    args = parse_args(build_parser(), ["run", "r.yaml", "--out", "run", "train.epochs=3"])
    assert args.args == ["r.yaml", "train.epochs=3"] and args.out == "run"
    with pytest.raises(SystemExit) as exc:
        parse_args(build_parser(), ["run", "r.yaml", "--out", "run", "--bogus"])
    assert exc.value.code == 2


def test_log_level_shows_library_logs(capsys):
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        main(["--log-level", "info", "recipes"])
        logging.getLogger("layerlab.test").info("seen")
        assert "INFO layerlab.test: seen" in capsys.readouterr().err
    finally:
        root.handlers[:], root.level = handlers, level


def test_json_outputs(capsys):
    import json

    assert main(["recipes", "--json"]) == 0
    assert any(r["name"] == "digits-cnn" for r in json.loads(capsys.readouterr().out))
    assert main(["recipe", "explain", "train", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["key"] == "train.epochs"
    assert main(["recipe", "check", "digits-cnn", "--json", "train.epochs=2"]) == 0
    assert json.loads(capsys.readouterr().out)["recipe"]["train"]["epochs"] == 2
    assert main(["models", "--json"]) == 0
    assert any(m["model"] == "cnn" for m in json.loads(capsys.readouterr().out))


@pytest.mark.parametrize(("name", "why"), [("../../x", "may not start with '.'"), ("/abs/x", "may not hold '/'"),
                                           ("a" * 300, "too long"), ("a\x00b", "may not hold")])
def test_recipe_check_refuses_a_name_that_is_no_safe_folder(name, why, capsys):
    assert main(["recipe", "check", "digits-cnn", f"name={name}"]) == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err and len(err.splitlines()) == 1
