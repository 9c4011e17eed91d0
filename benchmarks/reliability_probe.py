"""Issue 28's probes, re-run as a hostile user would, and counted: mutated recipes through ``recipe check``
(and some through ``run``), odd command lines, corrupt and crafted files, killed runs resumed, diverging
runs, code-execution attempts. Prints one Markdown table: cases, clean outcomes, tracebacks, hangs, memory
blow-ups (targets 0), kills survived bit-identical and NaN stops that left finite weights.

    PYTHONPATH=src nice -n 15 python benchmarks/reliability_probe.py [--recipes 300] [--runs 12] [--kills 4]

A clean outcome is exit 0, or a refusal: exit 1 or 2 with a message of at most a few lines and no traceback.
Everything is seeded; nothing is timed for a speed figure (a hang is a case over its time limit).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import pickle
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASE_SECONDS = 60  # an in-process case over this is a hang
RUN_SECONDS = 240  # a subprocess run over this is a hang
BLOWUP_MB = 1024  # peak memory growing this much in one case is a blow-up
MAX_ERR_LINES, MAX_ERR_CHARS = 23, 25_000  # a refusal is bounded (tests/test_recipe_fuzz.py's bounds)
GARBAGE = [None, True, -1, 0, 2**64, 1e308, float("nan"), float("inf"), "", "x" * 5000, "a\x00b", "banana",
           [], [1, -2], {"a": 1}, [[[[1]]]], "../../x", "1e9", 10**30, {"name": 3}]
TINY_RUN = ["data.limit=300", "train.epochs=1", "train.report=false", "train.diagnostics_every=0"]
RUNNABLE = ["digits-cnn", "polarity-cnn", "polarity-fasttext", "co2-lstm", "sunspots-lstm"]  # small with data.limit
TINY_RECIPE = {"name": "tiny", "data": {"name": "digits", "limit": 300}, "model": {"name": "mlp", "hidden": [16]},
               "train": {"epochs": 1, "batch_size": 64, "report": False, "diagnostics_every": 0}}


@dataclass
class Tally:
    cases: int = 0
    clean: int = 0
    tracebacks: int = 0
    hangs: int = 0
    blowups: int = 0
    examples: list[str] = field(default_factory=list)  # the first few that were not clean

    def add(self, outcome: str, what: str) -> None:
        self.cases += 1
        setattr(self, outcome, getattr(self, outcome) + 1)
        if outcome != "clean" and len(self.examples) < 3:
            self.examples.append(f"{outcome}: {what[:200]}")


# ---------------------------------------------------------------------------------- running a case
class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang


def in_process(argv: list[str]) -> str:
    """Run ``layerlab ARGV`` in this process: 'clean', 'tracebacks', 'hangs' or 'blowups'."""
    from layerlab.cli import main

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code if isinstance(exc.code, int) else 2
    except _Hang:
        return "hangs"
    except BaseException:  # noqa: BLE001 -- what escapes main is the traceback a user would see
        return "tracebacks"
    finally:
        signal.alarm(0)
    if resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before > BLOWUP_MB:
        return "blowups"
    return _judge(code, err.getvalue())


def _judge(code: int, err: str) -> str:
    if "Traceback" in err:
        return "tracebacks"
    if len(err) > MAX_ERR_CHARS or len(err.splitlines()) > MAX_ERR_LINES:
        return "blowups"  # of output
    return "clean" if code in (0, 1, 2) else "tracebacks"


def as_subprocess(argv: list[str], timeout: int = RUN_SECONDS) -> tuple[str, str]:
    """Run ``layerlab ARGV`` in a child: (its outcome as ``in_process`` names them, its stderr)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    try:
        proc = subprocess.run([sys.executable, "-m", "layerlab", *argv], env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hangs", ""
    if proc.returncode < 0 and proc.returncode != -signal.SIGPIPE:
        return ("blowups" if proc.returncode == -signal.SIGKILL else "tracebacks"), proc.stderr  # SIGKILL: the OOM killer
    return _judge(proc.returncode, proc.stderr), proc.stderr


# --------------------------------------------------------------------------------------- the probes
def mutate(rng: random.Random, recipe: dict) -> dict:
    recipe = yaml.safe_load(yaml.safe_dump(recipe))
    for _ in range(rng.randint(1, 3)):
        paths = list(_paths(recipe))
        path = rng.choice(paths)
        node = recipe
        for key in path[:-1]:
            node = node[key]
        key = path[-1] if rng.random() < 0.6 else rng.choice([str(path[-1]).upper(), f"{path[-1]}x", "unknown"])
        node[key] = rng.choice(GARBAGE)
    return recipe


def _paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def mutated_recipes(n: int, folder: Path, rng: random.Random, names: list[str]) -> list[Path]:
    from layerlab.recipes import builtin_path

    files = []
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        recipe = mutate(rng, yaml.safe_load(builtin_path(rng.choice(names)).read_text()))
        path = folder / f"mutated{i}.yaml"
        path.write_text(yaml.safe_dump(recipe, allow_unicode=False))
        files.append(path)
    return files


def odd_command_lines(folder: Path, run: Path) -> list[list[str]]:
    nothing = str(folder / "nothing")
    return [
        ["run", "--nope"], ["run", "no-such-recipe"], ["run", "digits-cnn", "train.epochs"], ["run", "digits-cnn", "=3"],
        ["run", "digits-cnn", "train.epochs=-1"], ["run", "digits-cnn", "--out", "/dev/null/x", "train.epochs=0"],
        ["run", "--resume", nothing], ["run", "--resume", str(run), "train.lr=banana"], ["run", "digits-cnn", "--resume", str(run)],
        ["evaluate"], ["evaluate", nothing], ["evaluate", str(run), "--split", "nope"], ["evaluate", str(run), "--data", nothing],
        ["predict", str(run)], ["predict", str(run), nothing], ["predict", nothing, "x.png"],
        ["models", "show", "cnn", "--input", "0x0x0"], ["models", "show", "cnn", "--input", "axb"], ["models", "show", "nope"],
        ["models", "show", "tv:"], ["recipe", "explain", "nope"], ["recipe", "explain", "data", "nope"], ["recipe", "check"],
        ["recipe", "check", "digits-cnn", "model.name=hf:"], ["recipe", "check", "digits-cnn", "train.Lr=1"],
        ["recipe", "check", "digits-cnn", "train.seed=18446744073709551616"], ["export", nothing], ["export", str(run), "--format", "nope"],
        ["report", nothing], ["explain", str(run), "test:99999"], ["explain", str(run), "val:-1"], ["audit", str(run), "--group", "nope"],
        ["embed", str(run), "--method", "nope"], ["embed", "--data", "nope"], ["frechet", str(run), "--classifier", str(run)],
        ["generate", str(run)], ["lr-find", "digits-cnn", "--start", "10", "--end", "1"], ["compare"], ["runs", nothing],
        ["translate", str(run), "hello"], ["transcribe", str(run), nothing], ["--log-level", "loud", "runs"], ["nope"],
    ]


def _pickle_bomb(marker: Path) -> bytes:
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Payload())


def crafted_files(folder: Path, run: Path, marker: Path) -> list[tuple[str, list[str]]]:
    """(what, argv) for corrupt data files and code-execution attempts, each in its own copy of ``run``."""
    import shutil

    cases: list[tuple[str, list[str]]] = []

    def copy(name: str) -> Path:
        return Path(shutil.copytree(run, folder / name))

    def write(path: Path, data: bytes | str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return path

    bomb = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
                                                                 for i in range(1, 10)]) + "\ntrain: {epochs: *a9}\n"
    for name, text in [("bomb.yaml", bomb), ("deep.yaml", "train: " + "[" * 1000 + "]" * 1000), ("empty.yaml", ""),
                       ("binary.yaml", b"\x00\xff\xfe" * 100), ("python.yaml", f"train: !!python/object/apply:os.system ['touch {marker}']"),
                       ("dup.yaml", "train: {epochs: 1}\ntrain: {epochs: 2}\n"), ("list.yaml", "- 1\n- 2\n")]:
        cases.append((name, ["recipe", "check", str(write(folder / name, text))]))
    for name, data in [("truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00"), ("text.png", "not an image"),
                       ("empty.csv", ""), ("garbage.csv", b"\xff\xfe\x00a,b\n1"), ("pickle.png", _pickle_bomb(marker))]:
        cases.append((name, ["predict", str(run), str(write(folder / "inputs" / name, data))]))
    for name, target, data in [
        ("weights-pickle", "model.safetensors", _pickle_bomb(marker)), ("weights-truncated", "model.safetensors", b"\x08\x00"),
        ("weights-header", "model.safetensors", (10**12).to_bytes(8, "little") + b"{}"),
        ("model-json-array", "model.json", "[1, 2, 3]"), ("model-json-doctored", "model.json", '{"info": {"input_shape": [-1]}}'),
        ("recipe-python-tag", "recipe.yaml", f"train: !!python/object/apply:os.system ['touch {marker}']"),
    ]:
        cases.append((name, ["evaluate", str(write(copy(name) / target, data).parent)]))
    for name, data in [("ckpt-pickle", _pickle_bomb(marker)), ("ckpt-empty", b""), ("ckpt-header", b"\xff" * 8 + b"{}"),
                       ("ckpt-torch-save", _torch_saved(marker))]:
        resumable = copy(name)
        write(resumable / "checkpoints" / "last.ckpt", data)
        (resumable / "model.safetensors").unlink()
        cases.append((name, ["run", "--resume", str(resumable)]))
    cases.append(("cifar-meta-array", ["run", "cifar10-resnet18", f"data.path={_cifar_with_bad_meta(folder)}", *TINY_RUN]))
    return cases


def _cifar_with_bad_meta(folder: Path) -> Path:
    """CIFAR-10's batch files, ten images each, beside a ``batches.meta`` that holds an array."""
    import numpy as np

    batches = folder / "cifar" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    batch = {"data": np.zeros((10, 3072), np.uint8), "labels": list(range(10))}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (batches / name).write_bytes(pickle.dumps(batch))
    (batches / "batches.meta").write_bytes(pickle.dumps(np.arange(3)))
    return batches.parent


def _torch_saved(marker: Path) -> bytes:
    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buffer = io.BytesIO()
    torch.save({"trainer": Payload()}, buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- kills and divergence
def _kill_helpers():
    spec = importlib.util.spec_from_file_location("kill_resume", ROOT / "tests" / "train" / "test_kill_resume.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kills(folder: Path, chains: int, per_chain: int, rng: random.Random) -> tuple[int, int, Tally]:
    """``chains`` runs each SIGKILLed ``per_chain`` times at random steps and resumed, plus one killed before
    its first checkpoint: (kills survived bit-identical, kills, tally of the resumes)."""
    import torch

    from layerlab.train.checkpoint import load_weights

    k = _kill_helpers()
    tally = Tally()
    folder.mkdir(parents=True, exist_ok=True)
    whole = k.layerlab("run", *k.ARGS, "--out", str(folder / "whole"))
    whole.communicate(timeout=RUN_SECONDS)
    reference = load_weights(folder / "whole" / "model.safetensors")
    early = folder / "early"
    k.kill_at(k.layerlab("run", *k.EARLY_ARGS, "--out", str(early)), early, 0, rng)
    tally.add(as_subprocess(["run", "--resume", str(early)])[0], "resume after a kill before any checkpoint")
    survived = total = 0
    for chain in range(chains):
        run_dir = folder / f"killed{chain}"
        process = k.layerlab("run", *k.ARGS, "--out", str(run_dir))
        for step in sorted(rng.sample(range(1, k.STEPS - 4), per_chain)):
            k.kill_at(process, run_dir, step, rng)
            process = k.layerlab("run", "--resume", str(run_dir))
        _, err = process.communicate(timeout=RUN_SECONDS)
        tally.add(_judge(process.returncode, err), f"resume of {run_dir.name}")
        total += per_chain
        weights = load_weights(run_dir / "model.safetensors") if (run_dir / "model.safetensors").exists() else {}
        if weights.keys() == reference.keys() and all(torch.equal(weights[n], reference[n]) for n in weights):
            survived += per_chain
    return survived, total, tally


DIVERGING = [
    ["digits-cnn", "train.lr=1e6"], ["digits-cnn", "train.lr=1e6", "train.checkpoint_every=1"],
    ["digits-cnn", "train.optimizer=sgd", "train.lr=1e5"], ["digits-cnn", "train.lr=1e6", "train.precision=bf16"],
    ["co2-lstm", "train.lr=1e6"], ["polarity-cnn", "train.lr=1e7"], ["sunspots-lstm", "train.optimizer=sgd", "train.lr=1e8"],
]


def diverging(folder: Path) -> tuple[int, int, Tally]:
    """Runs sent to NaN: (NaN stops whose saved weights and checkpoint are all finite, NaN stops, tally); the
    tally's ``examples`` name the runs that ended without a NaN stop."""
    import torch
    from safetensors.torch import load_file

    tally, finite, stops = Tally(), 0, 0
    folder.mkdir(parents=True, exist_ok=True)
    for i, argv in enumerate(DIVERGING):
        out = folder / f"nan{i}"
        outcome, err = as_subprocess(["run", *argv, "train.epochs=2", *TINY_RUN[:1], *TINY_RUN[2:], "--out", str(out)])
        tally.add(outcome, " ".join(argv))
        if "became nan" not in err and "non-finite" not in err:
            tally.examples.append(f"no NaN stop ({outcome}): {' '.join(argv)}")
            continue
        stops += 1
        files = [out / "model.safetensors", *sorted((out / "checkpoints").glob("*.ckpt"))]
        tensors = [t for f in files if f.exists() for t in load_file(str(f)).values() if t.is_floating_point()]
        finite += bool(tensors) and all(torch.isfinite(t).all() for t in tensors)
    return finite, stops, tally


# --------------------------------------------------------------------------------------------- table
def tiny_run(folder: Path) -> Path:
    from layerlab import api

    return api.run(TINY_RECIPE, out=folder / "tiny").run_dir


def _note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def probe(args: argparse.Namespace, folder: Path) -> tuple[dict[str, Tally], dict[str, str]]:
    from layerlab.recipes import builtin_names

    rng = random.Random(args.seed)
    rows: dict[str, Tally] = {}
    run = tiny_run(folder)
    marker = folder / "EXECUTED"
    rows["mutated recipes, `recipe check`"] = tally = Tally()
    for path in mutated_recipes(args.recipes, folder, rng, builtin_names()):
        tally.add(in_process(["recipe", "check", str(path)]), path.read_text())
    _note("recipe check done")
    rows["mutated recipes, `run` (tiny limits)"] = tally = Tally()
    for path in mutated_recipes(args.runs, folder / "runs", rng, RUNNABLE) if args.runs else []:
        tally.add(as_subprocess(["run", str(path), *TINY_RUN, "--out", str(path.with_suffix(""))])[0], path.read_text())
    _note("mutated runs done")
    rows["odd command lines"] = tally = Tally()
    for argv in odd_command_lines(folder, run):
        tally.add(in_process(argv), " ".join(argv))
    rows["corrupt and crafted files (code-execution probes among them)"] = tally = Tally()
    for what, argv in crafted_files(folder / "crafted", run, marker):
        tally.add(in_process(argv), what)
    extra = {"malicious files executed": str(int(marker.exists()))}
    _note("command lines and files done")
    survived, total, rows["killed runs, resumed"] = kills(folder / "kills", args.chains, args.kills, rng)
    extra["kills survived bit-identical"] = f"{survived} of {total}"
    _note("kills done")
    finite, stops, rows["diverging runs (NaN)"] = diverging(folder / "nan")
    extra["NaN stops with finite weights"] = f"{finite} of {stops} ({len(DIVERGING)} runs sent to NaN)"
    return rows, extra


def table(rows: dict[str, Tally], extra: dict[str, str]) -> str:
    lines = ["| probe | cases | clean (exit 0 or a bounded refusal) | tracebacks | hangs | memory/output blow-ups |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, t in rows.items():
        lines.append(f"| {name} | {t.cases} | {t.clean} | {t.tracebacks} | {t.hangs} | {t.blowups} |")
    total = Tally(*(sum(getattr(t, f) for t in rows.values()) for f in ("cases", "clean", "tracebacks", "hangs", "blowups")))
    lines.append(f"| **all** | {total.cases} | {total.clean} | {total.tracebacks} | {total.hangs} | {total.blowups} |")
    lines += ["", *(f"- {k}: {v}" for k, v in extra.items())]
    lines += [f"- {name}: {e}" for name, t in rows.items() for e in t.examples]  # the first few not clean, or not NaN-stopped
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=300, help="mutated recipes through recipe check")
    parser.add_argument("--runs", type=int, default=12, help="mutated recipes through run")
    parser.add_argument("--chains", type=int, default=2, help="runs killed and resumed")
    parser.add_argument("--kills", type=int, default=2, help="kills per run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("LAYERLAB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # runs without --out land here, not in the repository
        rows, extra = probe(args, Path(tmp))
    print(table(rows, extra))


if __name__ == "__main__":
    main()
