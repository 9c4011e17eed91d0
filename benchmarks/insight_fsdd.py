"""FSDD: per-speaker accuracy of a spoken-digit CNN, the worst-speaker gap, and group-balanced training.

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/insight_fsdd.py split under loso [--epochs 6]

Every run is the built-in recipe ``fsdd-cnn`` (a CNN on 40-band log-mel spectrograms) with
``data.groups`` set to the speaker (the file-name rule ``file:^\\d+_([a-z]+)_``).

- ``split``: the dataset's own split (recordings 0-4 of each speaker and digit are the test set); an
  audit by speaker: accuracy per speaker, worst speaker and gap.
- ``under``: the same split, but one speaker (``--minority``, default yweweler) is under-recorded: of
  their 450 training recordings only ``--keep`` per digit stay (the test set is untouched). Trained
  plain and with ``data.group_balance``; the minority's accuracy and the worst-speaker gap of each.
- ``loso``: leave-one-speaker-out (``data.test_speaker``) for every speaker, plain and with
  ``data.group_balance``: accuracy on 500 recordings of a voice never heard in training.

Prints markdown; the numbers also go to ROOT/results.json.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np

import layerlab
from layerlab.analyze.audit import audit
from layerlab.data import load_data
from layerlab.data.groups import balanced_order
from layerlab.recipe import DataConfig

SPEAKER = r"file:^\d+_([a-z]+)_"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FILE = re.compile(r"^(\d+)_([a-z]+)_(\d+)\.wav$")


def train(args: argparse.Namespace, name: str, data: dict, *, seed: int = 0) -> tuple[Path, dict, float]:
    out = args.root / name
    overrides = [f"data.groups={SPEAKER}", "train.report=false", f"train.threads={args.threads}", f"train.seed={seed}",
                 *(f"data.{k}={v}" for k, v in data.items())]
    overrides += [f"train.epochs={args.epochs}"] if args.epochs else []
    start = time.perf_counter()
    result = layerlab.run("fsdd-cnn", overrides, out=out)
    seconds = time.perf_counter() - start
    print(f"  {name}: test accuracy {result.summary['test']['accuracy']:.4f} ({seconds:.0f} s)", flush=True)
    return out, result.summary, seconds


def per_speaker(run: Path) -> dict:
    found = audit(run, group=SPEAKER)
    groups = {name: row["accuracy"] for name, row in found["groups"].items()}
    return {"groups": groups, "worst": found["worst_group"]["name"], "worst_accuracy": found["worst_group"]["accuracy"],
            "gap": max(groups.values()) - min(groups.values())}


def split(args: argparse.Namespace) -> dict:
    run, summary, seconds = train(args, "split", {})
    found = per_speaker(run)
    print(f"\n### FSDD per speaker, the dataset's own split (fsdd-cnn, {summary['epochs']} epochs)\n")
    print(f"Test accuracy {summary['test']['accuracy']:.4f} on 300 recordings (50 per speaker); {seconds:.0f} s.\n")
    print("| speaker | accuracy | gap to best |\n| --- | --- | --- |")
    best = max(found["groups"].values())
    for name, accuracy in found["groups"].items():
        print(f"| {name} | {accuracy:.3f} | {best - accuracy:.3f} |")
    print(f"\nWorst speaker {found['worst']} ({found['worst_accuracy']:.3f}), gap to the best {found['gap']:.3f}.")
    return {"accuracy": summary["test"]["accuracy"], "seconds": seconds, **found}


def under_recorded_folder(source: Path, target: Path, minority: str, keep: int) -> int:
    """Links to FSDD's recordings in ``target``: all of them, except that ``minority`` keeps only its
    first ``keep`` training recordings (indices 5, 6, ...) per digit. Returns the minority's count."""
    target.mkdir(parents=True, exist_ok=True)
    kept = 0
    for wav in sorted(source.glob("*.wav")):
        match = FILE.match(wav.name)
        if match is None:
            continue
        _, speaker, index = match.groups()
        if speaker == minority and int(index) >= 5 + keep:  # indices 0-4 are the test set: always kept
            continue
        kept += speaker == minority and int(index) >= 5
        link = target / wav.name
        if not link.exists():
            link.symlink_to(wav.resolve())
    return kept


def under(args: argparse.Namespace) -> dict:
    source = fsdd_recordings()
    folder = args.root / f"fsdd-{args.minority}-{args.keep}"
    kept = under_recorded_folder(source, folder, args.minority, args.keep)
    results: dict[str, list[dict]] = {"plain": [], "balanced": []}
    for seed in args.seeds:
        for balance in (False, True):
            name = "balanced" if balance else "plain"
            run, summary, seconds = train(args, f"under-{name}-seed{seed}",
                                          {"path": folder, "group_balance": str(balance).lower()},
                                          seed=seed)
            results[name].append({"seed": seed, "accuracy": summary["test"]["accuracy"], "seconds": seconds,
                                  "train_examples": summary["data"]["train"], **per_speaker(run)})
    print(f"\n### FSDD with an under-recorded speaker ({args.minority}: {kept} training recordings, the others 450)\n")
    print(f"| training | seed | test accuracy | {args.minority} | worst speaker | gap to best | training examples | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        for r in rows:
            print(f"| {name} | {r['seed']} | {r['accuracy']:.4f} | {r['groups'][args.minority]:.3f} | "
                  f"{r['worst']} {r['worst_accuracy']:.3f} | {r['gap']:.3f} | {r['train_examples']} | {r['seconds']:.0f} |")
    for name, rows in results.items():
        print(f"| **{name}, mean** | | {np.mean([r['accuracy'] for r in rows]):.4f} | "
              f"{np.mean([r['groups'][args.minority] for r in rows]):.3f} | "
              f"{np.mean([r['worst_accuracy'] for r in rows]):.3f} | {np.mean([r['gap'] for r in rows]):.3f} | | |")
    return {"minority": args.minority, "minority_train_recordings": kept, **results}


def loso(args: argparse.Namespace) -> dict:
    train_split = load_data(DataConfig(name="fsdd", groups=SPEAKER, test_speaker=args.speakers[0], val_fraction=0.1),
                            task="classification", seed=0).train
    names, counts = np.unique(train_split.groups, return_counts=True)
    identity = np.array_equal(balanced_order(train_split.groups, seed=0), np.arange(len(train_split.groups)))
    rows = {}
    for speaker in args.speakers:
        rows[speaker] = {}
        for balance in (False, True):
            _, summary, seconds = train(args, f"loso-{speaker}-{int(balance)}",
                                        {"test_speaker": speaker, "group_balance": str(balance).lower()})
            rows[speaker]["balanced" if balance else "plain"] = summary["test"]["accuracy"]
            rows[speaker][f"{'balanced' if balance else 'plain'}_seconds"] = seconds
    print("\n### FSDD leave-one-speaker-out (500 recordings of the held-out speaker)\n")
    print(f"Training folds hold {dict(zip(names.tolist(), counts.tolist()))} recordings per speaker (after the "
          f"validation split); group-balanced resampling is {'the identity' if identity else 'a small resampling'} "
          "here.\n")
    print("| held-out speaker | accuracy (plain) | accuracy (group_balance) |\n| --- | --- | --- |")
    for speaker, r in rows.items():
        print(f"| {speaker} | {r['plain']:.4f} | {r['balanced']:.4f} |")
    mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in ("plain", "balanced")}
    print(f"| **mean** | **{mean['plain']:.4f}** | **{mean['balanced']:.4f}** |")
    return {"speakers": rows, "mean": mean, "train_counts": dict(zip(names.tolist(), counts.tolist()))}


def fsdd_recordings() -> Path:
    """FSDD's recordings folder, found the way the fsdd source finds it."""
    import os

    for base in os.environ.get("LAYERLAB_DATA", "../shared/data").split(os.pathsep):
        for folder in (Path(base) / "fsdd" / "recordings", Path(base) / "free-spoken-digit-dataset" / "recordings"):
            if folder.is_dir():
                return folder
    raise SystemExit("FSDD not found: set LAYERLAB_DATA to a folder holding fsdd/recordings")


PARTS = {"split": split, "under": under, "loso": loso}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="+", choices=list(PARTS))
    parser.add_argument("--epochs", type=int, default=None, help="override fsdd-cnn's epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speakers", nargs="+", default=list(SPEAKERS))
    parser.add_argument("--minority", default="yweweler")
    parser.add_argument("--keep", type=int, default=3, help="under: the minority's training recordings kept per digit")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="under: training seeds")
    parser.add_argument("--root", type=Path, default=Path("runs/bench-fsdd-groups"))
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    results_path = args.root / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for part in args.parts:
        results[part] = PARTS[part](args)
        results_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
