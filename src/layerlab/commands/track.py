"""The ``runs`` command: the local run index, listed, filtered and sorted.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

RUNS_EPILOG = """examples:
  layerlab runs                                   every run under runs/, newest first
  layerlab runs --sort test.accuracy --limit 5    the five best by test accuracy
  layerlab runs -w model=mlp -w "train.lr<0.01"   conditions on columns, metrics and recipe keys
  layerlab runs runs/study1 --show train.lr       add recipe keys as columns
"""


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list the runs in the local index: filter, sort by a metric",
                       epilog=RUNS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", nargs="?", default="runs", metavar="DIR", help="the folder of runs (default runs)")
    p.add_argument("-w", "--where", action="append", default=[], metavar="KEY OP VALUE",
                   help="keep runs where this holds; OP is one of = != < <= > >= ~ (repeatable)")
    p.add_argument("--sort", metavar="KEY", help="sort by a column, test metric or recipe key (metrics: best first)")
    p.add_argument("--asc", dest="descending", action="store_false", default=None, help="sort ascending")
    p.add_argument("--desc", dest="descending", action="store_true", help="sort descending")
    p.add_argument("--limit", type=int, help="show at most this many")
    p.add_argument("--show", action="append", default=[], metavar="KEY", help="also show this recipe key (repeatable)")
    p.add_argument("--rebuild", action="store_true", help="first register every run directory found under DIR")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.set_defaults(handler=cmd_runs)


def cmd_runs(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api
    from layerlab.track.index import COLUMNS, lookup

    if args.rebuild:
        console.print(f"registered {api.rebuild_index(args.root)} runs", highlight=False)
    rows = api.list_runs(args.root, where=args.where, sort=args.sort, descending=args.descending, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        console.print(f"no runs under {args.root}" + (" match" if args.where else ""))
        return 0
    from rich.table import Table

    tests = list(dict.fromkeys(k for row in rows for k in row.get("test") or {}))
    metrics = [m for m in tests if f"test.{m}" == args.sort] or tests[:2]  # the table fits a terminal
    extra = [k for k in [args.sort, *args.show] if k and k not in COLUMNS and k[5:] not in metrics]
    same = {c: {str(row.get(c)) for row in rows} for c in ("recipe", "model", "monitor")}
    shared = [f"{c} {next(iter(values))}" for c, values in same.items() if len(values) == 1]
    shown = [c for c in ("run", "recipe", "model", "status", "epochs", "seconds", "best")
             if len(same.get(c, ())) != 1]  # a column with one value for all goes into the title
    title = f"{len(rows)} runs" + (f"; {', '.join(shared)}" if shared else "") + "; best: the monitor's best epoch"
    table = Table(title=title, title_justify="left", box=None, header_style="bold")
    for column in shown:
        table.add_column(column, justify="left" if column in ("run", "recipe", "model", "status") else "right",
                         no_wrap=column in ("run", "status"))
    for column in (*(f"test.{m}" for m in metrics), *extra):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(*(_cell(lookup(row, c)) for c in shown), *(_cell(row["test"].get(m)) for m in metrics),
                      *(_cell(lookup(row, k)) for k in extra))
    console.print(table)
    return 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
