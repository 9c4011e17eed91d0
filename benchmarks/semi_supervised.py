"""Semi-supervised learning on Fashion-MNIST: methods x labels per class x seeds, each run on a time budget.

    .venv/bin/python benchmarks/semi_supervised.py --labels 10 40 100 --seeds 0 1 2 --budget 600 \
        --methods supervised pseudo_label mean_teacher fixmatch

Every run is the recipe (default ``fashion-fixmatch-40``: the same CNN, optimiser and weak augmentation for
every method) with ``data.labels_per_class`` and ``train.semi`` set to ``{method: M}`` plus ``--semi``'s fields
(``supervised``: no ``train.semi``, the labelled examples alone), trained for ``--budget`` seconds of wall-clock time
(``train.max_seconds`` with ``train.schedule_clock=time``: the cosine schedule ends when the budget does)
or ``--epochs``, whichever comes first. The table gives the test accuracy, its mean ± standard error over
the seeds, the epochs taken, the CPU time a run took (this process's, user and system, over all its threads,
from loading the data to the test; with one thread it is about the wall time of a run alone on its core)
and, for the semi-supervised methods, the last epoch's share of unlabelled examples above the threshold and
the accuracy of those pseudo-labels (means over the seeds). ``--set`` adds overrides to every run.

``fixmatch_backbone`` is FixMatch started from a LayerLab backbone (``model.from_run``): the recipe's model first
trained with labels on every training image of classes 0-4 (the transfer issue's source task; ``--backbone``
reuses such a run), its head then replaced for the ten classes. That source saw 30,000 labels of its own task,
so this row asks what a related labelled task adds, not what 40 labels per class can do alone.

``fixmatch_rotation`` is FixMatch started from a backbone that saw no labels at all: the built-in recipe
``fashion-rotation`` (the same model taught to tell which of four turns, 0, 90, 180 or 270 degrees, each training
image was given: ``data.pretext: rotation``, Gidaris et al. 2018; ``--rotation`` reuses such a run). What the
unlabelled images teach before FixMatch uses them.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time
from pathlib import Path

import layerlab
from layerlab.data.idx import read_idx

METHODS = ("supervised", "pseudo_label", "mean_teacher", "fixmatch", "fixmatch_backbone", "fixmatch_rotation")


def one_run(args: argparse.Namespace, method: str, labels: int, seed: int) -> dict:
    backbone = []
    if method == "fixmatch_backbone":  # FixMatch from the weights of a run trained on classes 0-4
        backbone, method = [f"model.from_run={source_run(args)}"], "fixmatch"
        label = "fixmatch_backbone"
    elif method == "fixmatch_rotation":  # FixMatch from the weights of a run that predicted rotations, no labels
        backbone, method = [f"model.from_run={rotation_run(args)}"], "fixmatch"
        label = "fixmatch_rotation"
    else:
        label = method
    overrides = [f"data.labels_per_class={labels}", f"train.seed={seed}", f"train.threads={args.threads}",
                 f"train.epochs={args.epochs}", f"train.max_seconds={args.budget}", "train.schedule_clock=time",
                 "train.report=false", "train.diagnostics_every=0", "track.index=false", *backbone, *args.set]
    options = "".join(f", {key}: {value}" for key, value in (o.split("=", 1) for o in args.semi))
    overrides.append("train.semi=null" if method == "supervised" else f"train.semi={{method: {method}{options}}}")
    cpu = _cpu_seconds()
    result = layerlab.run(args.recipe, overrides, out=args.runs / f"{label}-{labels}-seed{seed}")
    cpu = _cpu_seconds() - cpu
    last = result.history[-1] if result.history else {}
    return {"method": label, "labels_per_class": labels, "seed": seed,
            "test_accuracy": result.summary["test"]["accuracy"], "epochs": len(result.history),
            "train_seconds": result.summary.get("train_seconds"), "cpu_minutes": round(cpu / 60, 2),
            "above_threshold": last.get("unlabeled_above_threshold"),
            "pseudo_label_accuracy": last.get("pseudo_label_accuracy")}


def source_run(args: argparse.Namespace) -> Path:
    """``--backbone``, or (once per process) a new supervised run of the recipe's model on every training image of
    Fashion-MNIST's classes 0-4 with its label (the transfer issue's source task), ``--backbone-epochs`` epochs.
    Its CPU time is not in any FixMatch run's figure: it is printed on its own."""
    if args.backbone is None:
        from transfer_vision import FASHION, subset  # Debian Fashion-MNIST, IDX folders

        x, y = read_idx(FASHION / "train-images-idx3-ubyte.gz"), read_idx(FASHION / "train-labels-idx1-ubyte.gz")
        tx, ty = read_idx(FASHION / "t10k-images-idx3-ubyte.gz"), read_idx(FASHION / "t10k-labels-idx1-ubyte.gz")
        folder = subset(args.runs / "data-0-4", x[y < 5], y[y < 5], tx[ty < 5], ty[ty < 5])
        cpu = _cpu_seconds()
        result = layerlab.run(args.recipe, [*args.set, f"data.path={folder}", "data.labels_per_class=null",
                                            "data.labeled_repeat=1", "train.semi=null", f"train.epochs={args.backbone_epochs}",
                                            f"train.threads={args.threads}", "train.report=false",
                                            "train.diagnostics_every=0", "track.index=false"],
                              out=args.runs / "backbone-0-4")
        print(json.dumps({"backbone": str(result.run_dir), "classes": "0-4", "train_images": int((y < 5).sum()),
                          "test_accuracy": result.summary["test"]["accuracy"],
                          "cpu_minutes": round((_cpu_seconds() - cpu) / 60, 2)}), flush=True)
        args.backbone = result.run_dir
    return args.backbone


def rotation_run(args: argparse.Namespace) -> Path:
    """``--rotation``, or (once per process) a new run of the built-in ``fashion-rotation`` recipe: the recipe's model
    learning which of four turns each of Fashion-MNIST's training images was given (``data.pretext: rotation``, no
    class labels read), ``--rotation-epochs`` epochs. Its CPU time is printed on its own."""
    if args.rotation is None:
        cpu = _cpu_seconds()
        result = layerlab.run("fashion-rotation", [f"train.epochs={args.rotation_epochs}", f"train.threads={args.threads}",
                                                   "train.report=false", "train.diagnostics_every=0", "track.index=false"],
                              out=args.runs / "rotation")
        print(json.dumps({"rotation": str(result.run_dir), "train_images": result.summary.get("data", {}).get("train"),
                          "test_accuracy": result.summary["test"]["accuracy"],
                          "cpu_minutes": round((_cpu_seconds() - cpu) / 60, 2)}), flush=True)
        args.rotation = result.run_dir
    return args.rotation


def _cpu_seconds() -> float:
    """This process's CPU time so far, user and system, all threads (the run's whole cost: loading, training, tests)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def table(results: list[dict]) -> str:
    rows = ["| labels / class | method | runs | test accuracy (mean ± s.e.) | epochs | CPU-minutes a run | "
            "unlabelled above threshold | their pseudo-label accuracy |", "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    keys = dict.fromkeys((r["labels_per_class"], r["method"]) for r in results)
    for labels, method in keys:
        group = [r for r in results if (r["labels_per_class"], r["method"]) == (labels, method)]
        accs = [r["test_accuracy"] for r in group]
        se = statistics.stdev(accs) / math.sqrt(len(accs)) if len(accs) > 1 else float("nan")
        spread = f" ± {se:.1%}" if len(accs) > 1 else ""
        above, right = _mean(r["above_threshold"] for r in group), _mean(r["pseudo_label_accuracy"] for r in group)
        rows.append(f"| {labels} | {method} | {len(group)} | {statistics.mean(accs):.1%}{spread} | "
                    f"{statistics.mean(r['epochs'] for r in group):.0f} | {statistics.mean(r['cpu_minutes'] for r in group):.1f} | "
                    f"{_share(above)} | {_share(right)} |")
    return "\n".join(rows)


def _mean(values) -> float | None:
    known = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.mean(known) if known else None


def _share(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="fashion-fixmatch-40")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--labels", type=int, nargs="+", default=[40], help="labels per class")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", type=float, default=600, help="seconds of training per run (wall clock)")
    parser.add_argument("--epochs", type=int, default=1000, help="at most this many epochs per run")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="recipe overrides for every run")
    parser.add_argument("--semi", nargs="+", default=[], metavar="KEY=VALUE",
                        help="train.semi fields for every method (else each method's defaults: threshold 0.95, mu 7, ...)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-semi"))
    parser.add_argument("--backbone", type=Path, help="fixmatch_backbone: the source run (default: train one on classes 0-4)")
    parser.add_argument("--backbone-epochs", type=int, default=5, help="fixmatch_backbone: epochs of the new source run")
    parser.add_argument("--rotation", type=Path, help="fixmatch_rotation: the rotation run (default: train one)")
    parser.add_argument("--rotation-epochs", type=int, default=5, help="fixmatch_rotation: epochs of the new rotation run")
    parser.add_argument("--json", type=Path, help="also append every run's result here, one JSON object a line "
                        "(several commands may share the file)")
    args = parser.parse_args()
    started, results = time.perf_counter(), []
    for labels in args.labels:
        for method in args.methods:
            for seed in args.seeds:
                results.append(one_run(args, method, labels, seed))
                print(json.dumps(results[-1]), flush=True)
                if args.json:  # appended as each run ends: a killed command keeps its finished runs
                    with args.json.open("a") as out:
                        out.write(json.dumps(results[-1]) + "\n")
    print(table(results))
    print(f"\n(total {time.perf_counter() - started:.0f} s; arguments {json.dumps({k: str(v) for k, v in vars(args).items()})})")


if __name__ == "__main__":
    main()
