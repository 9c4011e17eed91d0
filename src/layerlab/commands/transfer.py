"""``layerlab lr-find RECIPE``: the learning-rate range test, with a plot and a suggested rate."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("lr-find", help="find a learning rate: train briefly at growing rates, plot the loss, suggest one")
    p.add_argument("args", nargs="*", metavar="RECIPE|KEY=VALUE",
                   help="a recipe file or built-in name, then overrides like data.limit=5000")
    p.add_argument("--start", type=float, default=1e-7, help="lowest rate (default 1e-7)")
    p.add_argument("--end", type=float, default=10.0, help="highest rate (default 10)")
    p.add_argument("--steps", type=int, default=100, help="optimiser steps (default 100)")
    p.add_argument("--out", default="lr_find.png", help="the plot to write (default lr_find.png)")
    p.add_argument("--json", action="store_true",
                   help="print {suggestion, plot, lrs, losses, raw_losses} as JSON (a diverged loss is null)")
    p.set_defaults(handler=cmd_lr_find)


def cmd_lr_find(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api
    from layerlab.commands.run import split_recipe_args, strict_json

    recipe, overrides = split_recipe_args(args.args)
    result = api.lr_find(recipe, overrides, start=args.start, end=args.end, steps=args.steps, out=args.out)
    if args.json:
        plot = None if result.plot is None else str(result.plot)
        print(strict_json({"suggestion": result.suggestion, "plot": plot, "lrs": result.lrs,
                           "losses": result.losses, "raw_losses": result.raw_losses}, indent=2))
        return 0
    console.print(f"suggested learning rate: {result.suggestion:.3g} (train.lr={result.suggestion:.2g})")
    console.print(f"loss against rate: {result.plot}")
    return 0
