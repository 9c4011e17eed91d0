"""The core commands: ``run`` a recipe, then ``evaluate``, ``ensemble`` and ``predict`` with its run directory.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

from layerlab.commands import shared_options


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="train a recipe and write a run directory")
    p.add_argument("args", nargs="*", metavar="RECIPE|KEY=VALUE",
                   help="a recipe file or built-in name (default digits-cnn), then overrides like train.epochs=3")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--nproc", type=int, metavar="N", help="train data-parallel in N processes on this machine "
                   "(through torchrun; gloo on the CPU, one GPU each with nccl); train.batch_size stays the global batch")
    shared_options(p, out="the run directory (default runs/<recipe>-<timestamp>)", out_metavar="DIR", device=False,
                   quiet="print only the result", json="print the summary as JSON")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("evaluate", help="metrics of a trained run on its test split or other data")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--data", metavar="PATH", help="other data of the same kind (replaces data.path)")
    shared_options(p, split="train, val, test or all (default test)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("ensemble", help="metrics of classifiers' averaged probabilities on a split they share")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more classification runs of the same data and split")
    p.add_argument("--cv", action="store_true", help="the arguments are `layerlab cv` folders: fold by fold, then mean and spread")
    shared_options(p, split="train, val, test or all (default test)")
    p.set_defaults(handler=cmd_ensemble)

    p = sub.add_parser("predict", help="predictions for images, folders of images or CSV files")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    p.set_defaults(handler=cmd_predict)


def split_recipe_args(items: Sequence[str]) -> tuple[str | None, list[str]]:
    """``RECIPE KEY=VALUE...`` into the recipe (None when the first item is already an override) and the overrides."""
    if items and "=" not in items[0]:
        return items[0], list(items[1:])
    return None, list(items)


def cmd_run(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    recipe, overrides = split_recipe_args(args.args)
    if args.resume and recipe is not None:
        from layerlab.errors import UsageError

        raise UsageError("--resume continues a run with its own recipe; give only overrides (KEY=VALUE) with it")
    if args.nproc is not None:
        from layerlab.train.launch import check_before_launch, launch

        check_before_launch(recipe, overrides, resume=args.resume, nproc=args.nproc)  # one line, not one per rank
        return launch(_rerun_args(args), nproc=args.nproc)
    result = api.run(recipe, overrides, out=args.out, resume=args.resume,
                     console=None if args.quiet or args.json else console)
    if not result.summary:  # a rank other than 0 of a distributed run: rank 0 reports
        return 0
    if args.json:
        print(strict_json({"run_dir": str(result.run_dir), **result.summary}, indent=2))
        return 0
    test = result.summary.get("test") or {}
    if result.summary.get("stop_reason"):
        console.print(f"stopped: {result.summary['stop_reason']}")
    console.print(f"test: {_metrics(test)}" if test else "test: (no test split)")
    console.print(f"run directory: {result.run_dir}")
    return 0


def _rerun_args(args: argparse.Namespace) -> list[str]:
    """This ``layerlab run`` command's arguments, without --nproc: what each of its processes runs."""
    argv = [f"--import={module}" for module in args.imports] + ["-v"] * args.verbose
    argv += [f"--log-level={args.log_level}"] if args.log_level else []
    argv += ["run", *args.args]
    argv += [f"--resume={args.resume}"] if args.resume else []
    argv += [f"--out={args.out}"] if args.out else []
    return argv + ["--quiet"] * bool(args.quiet) + ["--json"] * bool(args.json)


def strict_json(obj: Any, *, indent: int | None = None) -> str:
    """``obj`` as standard JSON: a non-finite number (a NaN prediction, a NaN-stopped run's loss) is null,
    where ``json.dumps`` would write the bare ``NaN`` that JSON parsers refuse."""
    return json.dumps(_finite(obj), indent=indent, allow_nan=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _metrics(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def cmd_evaluate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    result = api.evaluate(args.run_dir, data=args.data, split=args.split, device=args.device)
    if args.json:
        print(strict_json(result, indent=2))
        return 0
    console.print(f"{result['split']} ({result['n']:,} examples): {_metrics(result['metrics'])}")
    return 0


def cmd_ensemble(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    result = api.ensemble(args.runs, cv=args.cv, split=args.split, device=args.device)
    if args.json:
        print(strict_json(result, indent=2))
    elif args.cv:
        console.print(f"ensemble of {len(args.runs)} cross-validations, {result['folds']} folds (test):")
        for metric, s in result["test"].items():
            console.print(f"  {metric} {s['mean']:.4f} ± {s['std']:.4f} (s.e. {s['sem']:.4f}; {s['min']:.4f}..{s['max']:.4f})")
    else:
        for run, metrics in result["members"].items():
            console.print(f"{run}: {_metrics(metrics)}")
        console.print(f"ensemble ({result['split']}, {result['n']:,} examples): {_metrics(result['metrics'])}")
    return 0


def _found(row: dict[str, Any]) -> str:
    """A detection's boxes per class, or a segmentation's share of each class other than the background."""
    if "detections" in row:
        counts: dict[str, int] = {}
        for d in row["detections"]:
            counts[d["class"]] = counts.get(d["class"], 0) + 1
        return ", ".join(f"{n} {name}" for name, n in counts.items()) or "nothing"
    shares = list(row["fractions"].items())[1:]
    return ", ".join(f"{name} {share:.1%}" for name, share in shares)


def cmd_predict(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    rows = api.predict(args.run_dir, args.inputs, device=args.device)
    if args.json:
        for row in rows:
            print(strict_json(row))
        return 0
    from rich.table import Table

    table = Table(box=None)
    table.add_column("input", overflow="fold")
    if rows and "overlay" in rows[0]:  # detection, segmentation: what was found, and the drawn image
        table.add_column("found")
        table.add_column("drawn on the image", overflow="fold")
        for row in rows:
            table.add_row(str(row["input"]), _found(row), row["overlay"])
    elif rows and "label" in rows[0]:
        table.add_column("label")
        table.add_column("probability", justify="right")
        for row in rows:
            table.add_row(str(row["input"]), str(row["label"]), f"{row['probability']:.3f}")
    else:
        table.add_column("value", justify="right")
        for row in rows:  # a value, or a list of them (several targets; a forecast of several steps)
            value = row["value"]
            table.add_row(str(row["input"]), " ".join(f"{v:.4g}" for v in value) if isinstance(value, list) else f"{value:.4g}")
    console.print(table)
    return 0
