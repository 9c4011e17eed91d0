"""Export parity of built-in recipes: train each briefly (or take given runs), export it to every format,
and print one line per (recipe, format): test examples checked, max abs difference, argmax agreement, or
the reason it is refused.

    python benchmarks/export_parity.py                                  # every built-in that needs no data.path
    python benchmarks/export_parity.py --recipes digits-cnn fashion-cnn --set train.epochs=1 --set data.limit=2000
    python benchmarks/export_parity.py --runs runs/fashion-cnn-1 runs/fsdd-cnn-1   # trained runs as they are

Parity does not depend on how well a model learned, so the default trains one short epoch on a subset.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from layerlab.errors import LayerLabError
from layerlab.recipes import builtin_names
from layerlab.serve.export import ExportMismatch, export
from layerlab.serve.formats import FORMATS

NEEDS_PATH = ("tabular-mlp",)  # a CSV of the user's
QUICK = ["train.epochs=1", "data.limit=2000", "train.report=false", "train.max_seconds=60"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", help="built-in recipes to train and export (default: all but "
                                                     f"{', '.join(NEEDS_PATH)})")
    parser.add_argument("--runs", nargs="*", default=[], help="run directories to export as they are (no training)")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=list(FORMATS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"overrides of the short training (default {' '.join(QUICK)})")
    parser.add_argument("--limit", type=int, default=1000, help="test examples checked per export")
    args = parser.parse_args()
    recipes = [] if args.runs and args.recipes is None else (args.recipes or
                                                             [r for r in builtin_names() if r not in NEEDS_PATH])
    print(f"{'recipe':30} {'format':17} {'examples':>8} {'max abs diff':>13} {'argmax agree':>12}  note")
    with tempfile.TemporaryDirectory(prefix="export-parity-") as tmp:
        runs = [(Path(r).name, Path(r)) for r in args.runs]
        for name in recipes:
            run_dir = _train(name, [*QUICK, *args.set], Path(tmp) / name)
            if run_dir is not None:
                runs.append((name, run_dir))
        for name, run_dir in runs:
            for fmt in args.formats:
                _line(name, run_dir, fmt, Path(tmp) / f"{name}{FORMATS[fmt]}", args.limit)


def _train(name: str, overrides: list[str], out: Path) -> Path | None:
    from layerlab.api import run

    try:
        return run(name, overrides, out=out).run_dir
    except LayerLabError as exc:
        print(f"{name:30} {'-':17} {'':>8} {'':>13} {'':>12}  not trained: {exc}")
        return None


def _line(name: str, run_dir: Path, fmt: str, out: Path, limit: int) -> None:
    try:
        check = export(run_dir, format=fmt, out=out, limit=limit).check
        note = "ok"
    except ExportMismatch as exc:
        print(f"{name:30} {fmt:17} {'':>8} {'':>13} {'':>12}  FAILED: {exc}")
        return
    except LayerLabError as exc:
        print(f"{name:30} {fmt:17} {'':>8} {'':>13} {'':>12}  refused: {exc}")
        return
    agree = "-" if check.argmax_agreement is None else f"{check.argmax_agreement:.2%}"
    print(f"{name:30} {fmt:17} {check.examples:>8} {check.max_abs_diff:>13.3g} {agree:>12}  {note}", flush=True)


if __name__ == "__main__":
    main()
