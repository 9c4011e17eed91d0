"""Commands that search and compare: ``tune``, ``compare`` and ``cv``.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from layerlab.commands import shared_options

TUNE_EPILOG = """examples:
  layerlab tune my.yaml                               search my.yaml's tune.space (SQLite in runs/<name>-tune-<time>)
  layerlab tune my.yaml --trials 40 --workers 4       four local worker processes share the study
  layerlab tune my.yaml --nproc 2                     each trial trains data-parallel on 2 processes (torchrun)
  layerlab tune my.yaml --out runs/s1                 a second call on the same folder continues the study
  layerlab tune my.yaml --storage postgresql://user:pw@db/optuna --study s1   (the same on every machine)
"""


def register(sub: Any) -> None:
    p = sub.add_parser("tune", help="hyperparameter search over the recipe's tune.space (Optuna)",
                       epilog=TUNE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="+", metavar="RECIPE|KEY=VALUE", help="a recipe with a tune: section, then overrides")
    p.add_argument("--strategy", choices=["grid", "random", "tpe", "gp", "cmaes"], help="overrides tune.strategy")
    p.add_argument("--trials", type=int, help="trials in the study in all (overrides tune.trials)")
    p.add_argument("--timeout", metavar="DURATION", help="no trial starts after this: 90s, 5m, 2h (overrides tune.timeout)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes sharing the study (default 1)")
    p.add_argument("--nproc", type=int, default=1, metavar="N", help="each trial trains data-parallel on N processes "
                   "(torchrun, as `run --nproc`; tune.pruner must be none) (default 1)")
    p.add_argument("--storage", metavar="URL", help="a database shared by workers on many machines: postgresql://...")
    p.add_argument("--study", metavar="NAME", help="the study's name in the storage (default: the recipe's name)")
    shared_options(p, out="the study's folder (default runs/<recipe>-tune-<time>, or runs/<study>)", out_metavar="DIR",
                   device=False, quiet="no live table; print only the result")
    p.set_defaults(handler=cmd_tune)

    p = sub.add_parser("compare", help="compare runs, or train recipes under one budget and compare them")
    p.add_argument("items", nargs="+", metavar="RUN|RECIPE")
    p.add_argument("--epochs", type=int, help="recipes: train each for this many epochs")
    p.add_argument("--budget", metavar="DURATION", help="recipes: at most this much training time each: 90s, 5m, 1h")
    p.add_argument("--seed", type=int, help="recipes: the seed of every one (default 0)")
    p.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE", help="recipes: an override for all")
    p.add_argument("--out", metavar="DIR", help="the comparison's folder (default runs/compare-<time>)")
    p.add_argument("-q", "--quiet", action="store_true", help="no training progress")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(handler=cmd_compare)

    register_cv(sub)


CV_EPILOG = """examples:
  layerlab cv polarity-cnn                          10-fold cross-validation (runs/polarity-cnn-cv-<time>)
  layerlab cv polarity-cnn train.epochs=3 --folds 5 five folds, with an override for every fold
  layerlab cv my.yaml --out runs/cv1                a second call on the same folder continues it
  layerlab cv my.yaml --out runs/cv1 --only 0 1 2   a first look: only folds 0-2 (a later call adds the rest)
"""


def register_cv(sub: Any) -> None:
    p = sub.add_parser("cv", help="k-fold cross-validation: the test metrics' mean and spread over the folds",
                       epilog=CV_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("args", nargs="+", metavar="RECIPE|KEY=VALUE", help="a recipe, then overrides for every fold")
    p.add_argument("--folds", type=int, default=10, help="the number of folds (default 10)")
    p.add_argument("--out", metavar="DIR", help="the folder of fold runs (default runs/<recipe>-cv-<time>)")
    p.add_argument("--only", type=int, nargs="+", metavar="FOLD",
                   help="train and summarise only these folds, numbered from 0 (a first look at a variant)")
    p.add_argument("-q", "--quiet", action="store_true", help="no training progress; print only the result")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_cv)


def cmd_cv(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from layerlab import api

    result = api.cross_validate(args.args[0], args.args[1:], folds=args.folds, out=args.out, only=args.only,
                            console=None if args.quiet or args.json else console)
    if args.json:
        print(json.dumps({"folder": str(result.out), "folds": result.folds, "folds_run": result.folds_run,
                          "test": result.stats}, indent=2))
        return 0
    some = f" ({len(result.folds_run)} of them)" if len(result.folds_run) < result.folds else ""
    table = Table(title=f"{result.folds}-fold cross-validation{some}: test metrics", title_justify="left",
                  box=None, header_style="bold")
    for column in ("metric", "mean", "± std", "± s.e.", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, s in result.stats.items():
        table.add_row(metric, *(f"{s[k]:.4f}" for k in ("mean", "std", "sem", "min", "max")))
    console.print(table)
    console.print(f"folder: {result.out} (a run per fold, cv.csv, cv.json)")
    return 0


def cmd_tune(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    recipe, overrides = args.args[0], args.args[1:]
    result = api.tune(recipe, overrides, strategy=args.strategy, trials=args.trials, timeout=args.timeout,
                  workers=args.workers, storage=args.storage, study=args.study, out=args.out, nproc=args.nproc,
                  console=None if args.quiet or args.json else console)
    if args.json:
        print(json.dumps({k: v for k, v in vars(result).items() if k != "leaderboard"}, indent=2, default=str))
        return 0
    counts = ", ".join(f"{n} {state}" for state, n in result.counts.items())
    console.print(f"study {result.study_name}: {counts} in {result.seconds:.0f} s")
    if result.best_trial is None:
        console.print("no trial completed")
    else:
        values = "  ".join(f"{k}={v}" for k, v in result.best_values.items())
        console.print(f"best {result.metric}: {result.best_value:.4f} (trial {result.best_trial}: {values})")
        console.print(f"best recipe: {result.best_recipe}")
    console.print(f"study folder: {result.study_dir} (leaderboard.csv, study.json, plots/)")
    return 0


def cmd_compare(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from layerlab import api

    result = api.compare(args.items, epochs=args.epochs, budget=args.budget, seed=args.seed, overrides=args.set,
                     out=args.out, console=None if args.quiet or args.json else console)
    if args.json:
        print(json.dumps(result.rows, indent=2, default=str))
        return 0
    # one column per run, one row per quantity: a handful of runs fits a terminal this way round
    metrics = list(dict.fromkeys(k for row in result.rows for k in row["test"]))
    table = Table(box=None, header_style="bold")
    table.add_column("")
    for row in result.rows:
        table.add_column(row["run"], justify="right", no_wrap=True)
    lines = [
        ("recipe", lambda r: str(r["recipe"])), ("model", lambda r: str(r["model"])),
        ("parameters", lambda r: f"{r['params']:,}"), ("epochs", lambda r: str(r["epochs"])),
        ("train seconds", lambda r: f"{r['seconds']:.1f}"),
        ("examples/s", lambda r: "" if r["examples/s"] is None else f"{r['examples/s']:,.0f}"),
        ("best", lambda r: "" if r["best"] is None else f"{r['monitor']} {r['best']:.4f}"),
        *((f"test {m}", lambda r, m=m: f"{r['test'][m]:.4f}" if m in r["test"] else "") for m in metrics),
    ]
    for label, cell in lines:
        table.add_row(label, *(cell(row) for row in result.rows))
    console.print(table)
    console.print(f"curves: {result.curves_png}  table: {result.csv_path}")
    return 0
