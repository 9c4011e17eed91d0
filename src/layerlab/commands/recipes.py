"""Commands that describe what can be trained: ``recipes``, ``recipe`` (explain, check) and ``models``.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("recipes", help="list the built-in recipes, or show one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.set_defaults(handler=cmd_recipes)

    p = sub.add_parser("recipe", help="explain the recipe's fields, or check a recipe file")
    p.add_argument("action", choices=["explain", "check"])
    p.add_argument("target", nargs="?", metavar="SECTION|FILE", help="explain: a section (data, task, model, train, ...); check: a recipe")
    p.add_argument("overrides", nargs="*", metavar="NAME|KEY=VALUE",
                   help="explain: a source, task or model name (`recipe explain data csv`); check: overrides")
    p.set_defaults(handler=cmd_recipe)

    p = sub.add_parser("models", help="list the model families, or show one's layers, parameters and FLOPs")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--input", default="1x28x28", metavar="CxHxW", help="input shape per example (default 1x28x28)")
    p.add_argument("--classes", type=int, default=10, help="number of outputs (default 10)")
    p.add_argument("--stage", type=int, default=1, help="for a recipe with fine-tuning stages: freeze as this stage does (default 1)")
    p.set_defaults(handler=cmd_models)


def _table(console: Any, columns: tuple[str, ...], rows: list[tuple[str, ...]], **column: Any) -> None:
    from rich.table import Table

    table = Table(box=None)
    for name in columns:
        table.add_column(name, **column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def cmd_recipes(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    if args.action == "list":
        _table(console, ("recipe", "description"), api.recipes())
        return 0
    if not args.name:
        from layerlab.errors import UsageError

        raise UsageError("recipes show needs a NAME (see `layerlab recipes`)")
    print(api.recipe_text(args.name), end="")
    return 0


def cmd_recipe(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    if args.action == "explain":  # recipe explain [SECTION [NAME]]: `data csv` lists just the csv source's fields
        if len(args.overrides) > 1:
            from layerlab.errors import UsageError

            raise UsageError(f"recipe explain takes a section and at most one name (e.g. `data csv`), given {args.overrides}")
        rows = api.explain_recipe(args.target, *args.overrides)
        _table(console, ("key", "type", "default", "description"), rows, overflow="fold")
        return 0
    if not args.target:
        from layerlab.errors import UsageError

        raise UsageError("recipe check needs a FILE (or a built-in recipe's name)")
    cfg = api.load_recipe(args.target, args.overrides)
    console.print(f"{args.target}: ok")
    print(cfg.to_yaml(), end="")
    return 0


def cmd_models(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    if args.action == "list":
        _table(console, ("family", "model", "description"), [(e.group, e.name, e.description) for e in api.models()])
        return 0
    if not args.name:
        from layerlab.errors import UsageError

        raise UsageError("models show needs a NAME (see `layerlab models`)")
    from rich.table import Table

    from layerlab.models import parse_input_shape

    shape = parse_input_shape(args.input)
    summary, label = api.show_model(args.name, input_shape=shape, num_outputs=args.classes, stage=args.stage)
    table = Table(box=None)
    for column, justify in (("layer", "left"), ("type", "left"), ("output", "left"), ("params", "right"), ("frozen", "right")):
        table.add_column(column, justify=justify)
    for row in summary.rows:
        table.add_row(row.name, row.type, "x".join(map(str, row.output_shape)) if row.output_shape else "", f"{row.params:,}",
                      f"{row.params - row.trainable:,}" if row.trainable < row.params else "")
    console.print(table)
    frozen = summary.params - summary.trainable
    console.print(f"{label} on {'x'.join(map(str, shape))}: {summary.params:,} parameters "
                  f"({summary.trainable:,} trainable, {frozen:,} frozen), {summary.flops:,} FLOPs per example")
    return 0
