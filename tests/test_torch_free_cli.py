"""The describing commands import no torch (issue 34): `recipes`, `models`, `recipe explain`, `recipe check`
and `runs` read only the declared configs and the run index, so they answer in a fraction of a second."""

from __future__ import annotations

import json
import subprocess
import sys

from layerlab.recipes import builtin_names

# Runs CLI commands one after the other in a fresh interpreter and prints, after their own output,
# whether torch (or numpy) was imported, and their exit codes.
PROBE = """
import json, sys
from layerlab.cli import main
codes = []
for argv in json.loads(sys.argv[1]):
    try:
        codes.append(main(argv))
    except SystemExit as exc:
        codes.append(exc.code)
print("PROBE", "torch" in sys.modules, "numpy" in sys.modules, json.dumps(codes, separators=(",", ":")))
"""
# tv: models check their name against torchvision's list, which imports torch
NEEDS_TORCHVISION = {"cifar10-resnet50-transfer", "cifar10-vgg16-transfer"}


def probe(*commands: tuple[str, ...]) -> tuple[bool, bool, list, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True,
                          timeout=300)
    out, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    tag, torch, numpy, codes = last.split()
    assert tag == "PROBE", proc.stderr
    return torch == "True", numpy == "True", [code or 0 for code in json.loads(codes)], out + proc.stderr


def test_describing_commands_import_no_torch():
    commands = [("recipes",), ("models",), ("recipe", "explain"), ("recipe", "explain", "model", "gpt"),
                ("recipe", "explain", "data", "csv"), ("recipe", "explain", "task", "classification"),
                ("recipe", "check", "shakespeare-transformer", "train.max_seconds=60"),
                ("recipe", "check", "polarity-cnn", "--json")]
    torch, numpy, codes, out = probe(*commands)
    assert codes == [0] * len(commands), out
    assert not torch and not numpy


def test_models_lists_every_family_without_loading_one():
    torch, _, codes, out = probe(("models", "--json"))
    names = {row["model"] for row in json.loads(out)}
    assert not torch and codes == [0]
    assert {"cnn", "mlp", "resnet18", "gpt", "lstm", "transformer-seq2seq", "acoustic", "tv:"} <= names


def test_every_builtin_recipe_checks_without_torch():
    names = sorted(set(builtin_names()) - NEEDS_TORCHVISION)
    torch, _, codes, out = probe(*(("recipe", "check", name) for name in names))
    assert codes == [0] * len(names) and all(f"{name}: ok" in out for name in names), out
    assert not torch


def test_a_bad_recipe_is_refused_without_torch(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name: cnn, widht: 3}\ntask: {name: regression, loss: cross_entropy}\n")
    torch, _, codes, out = probe(("recipe", "check", str(bad)))
    assert codes == [2] and not torch
    assert "model.widht: unknown key; did you mean 'model.width'?" in out
    assert "'cross_entropy' is not a loss for regression" in out


def test_runs_lists_the_index_without_torch(tmp_path):
    from layerlab.track.index import register_run

    run = tmp_path / "runs" / "digits-cnn-1"
    run.mkdir(parents=True)
    register_run(run, {"name": "digits-cnn", "model": {"name": "cnn"}, "data": {"name": "digits"}},
                 {"status": "finished", "epochs": 3, "test": {"accuracy": 0.97}})
    torch, _, codes, out = probe(("runs", str(tmp_path / "runs")))
    assert codes == [0] and "digits-cnn-1" in out, out
    assert not torch


def test_a_declared_entry_loads_its_module_on_first_use():
    from layerlab.models import MODELS

    entry = MODELS.entry("cnn")
    assert entry.module == "layerlab.models.cnn" and entry.config.__name__ == "CNNConfig"
    assert callable(entry.obj) and entry.loaded is entry.obj  # loaded once, then kept


def test_the_later_configs_are_checked_and_explained_without_torch(tmp_path):
    # speech synthesis (tts, speech_synthesis, digit-strings' speakers), python: models, arrays, train.semi
    # and the class weights checked against a source's fixed classes: all declared in torch-free modules
    weights = tmp_path / "weights.yaml"
    weights.write_text("data: {name: digits}\ntask: {name: classification, class_weights: [1, 2]}\n")
    semi = tmp_path / "semi.yaml"
    semi.write_text("data: {name: digits, labels_per_class: 4}\ntrain: {semi: {method: fixmatc}}\n")
    commands = [("recipe", "check", str(weights)), ("recipe", "check", str(semi)),
                ("recipe", "explain", "model", "tts"), ("recipe", "explain", "task", "speech_synthesis"),
                ("recipe", "explain", "data", "digit-strings"), ("recipe", "explain", "data", "arrays"),
                ("recipe", "explain", "model", "python:"), ("recipe", "explain", "train")]
    torch, numpy, codes, out = probe(*commands)
    assert codes == [2, 2, 0, 0, 0, 0, 0, 0], out
    assert "2 weights given, but data set digits has 10 classes" in out
    assert "did you mean 'fixmatch'?" in out
    for key in ("model.decoder_layers", "task.duration_weight", "data.speakers", "model.args", "train.semi.mu"):
        assert key in out, key
    assert not torch and not numpy
