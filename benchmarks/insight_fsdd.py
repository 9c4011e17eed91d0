"""FSDD: per-speaker accuracy of a spoken-digit CNN, the worst-speaker gap, and leave-one-speaker-out.

    LAYERLAB_DATA=../shared/data .venv/bin/python benchmarks/insight_fsdd.py

1. The dataset's own split (recordings 0-4 of each speaker and digit are the test set): audit by
   speaker (the file-name rule), worst speaker and gap.
2. Leave-one-speaker-out (data.test_speaker), with and without data.group_balance (groups = speakers).
Prints a markdown section.
"""

from __future__ import annotations

import argparse

import numpy as np

import layerlab
from layerlab.analyze.audit import audit
from layerlab.data import load_data
from layerlab.data.groups import balanced_order
from layerlab.recipe import DataConfig

SPEAKER = r"file:^\d+_([a-z]+)_"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--speakers", nargs="*", default=list(SPEAKERS))
    args = parser.parse_args()
    base = {"name": "fsdd-cnn", "data": {"name": "fsdd", "groups": SPEAKER, "val_fraction": 0.1},
            "model": {"name": "cnn", "width": 16, "blocks": 3},
            "train": {"epochs": args.epochs, "batch_size": 64, "lr": 0.003, "schedule": "onecycle"}}
    out = "runs/bench-insight-fsdd"
    result = layerlab.run(base, out=out)
    found = audit(out, group=SPEAKER)
    print(f"### FSDD: per-speaker accuracy (cnn width 16, {args.epochs} epochs, the dataset's own split)\n")
    print(f"Test accuracy {result.summary['test']['accuracy']:.4f} on 300 recordings (50 per speaker).\n")
    print("| speaker | accuracy | macro F1 | ECE | gap to best |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in found["groups"].items():
        print(f"| {name} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | {row['ece']:.3f} | {row['gap_to_best']:.3f} |")
    worst = found["worst_group"]
    best = max(r["accuracy"] for r in found["groups"].values())
    print(f"\nWorst speaker: {worst['name']} ({worst['accuracy']:.3f}); gap to the best speaker {best - worst['accuracy']:.3f}.\n")

    # Group-balanced training needs unequal groups to change anything: check FSDD's training folds.
    train = load_data(DataConfig(name="fsdd", groups=SPEAKER, test_speaker=args.speakers[0]),
                      task="classification", seed=0).train
    names, counts = np.unique(train.groups, return_counts=True)
    identity = np.array_equal(balanced_order(train.groups, seed=0), np.arange(len(train.groups)))
    print(f"Leave-one-speaker-out training folds hold {dict(zip(names.tolist(), counts.tolist()))} recordings per "
          f"speaker (after the validation split); group-balanced resampling is "
          f"{'the identity (no change) here' if identity else 'a real resampling'}.\n")
    print("| held-out speaker | accuracy (plain) | accuracy (group_balance) |")
    print("| --- | --- | --- |")
    for speaker in args.speakers:
        accuracies = []
        for balance in (False, True):
            cfg = {**base, "data": {**base["data"], "test_speaker": speaker, "group_balance": balance}}
            cfg["train"] = {**base["train"], "report": False}
            run = layerlab.run(cfg, out=f"runs/bench-insight-fsdd-loso-{speaker}-{int(balance)}")
            accuracies.append(run.summary["test"]["accuracy"])
        print(f"| {speaker} | {accuracies[0]:.3f} | {accuracies[1]:.3f} |")


if __name__ == "__main__":
    main()
