"""Commands that describe what can be trained: ``recipes``, ``recipe`` (explain, check) and ``models``.

Only argparse and the standard library at the top; the handlers call ``layerlab.api``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("recipes", help="list the built-in recipes, or show one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--json", action="store_true", help="print the list (or the recipe) as JSON")
    p.set_defaults(handler=cmd_recipes)

    p = sub.add_parser("recipe", help="explain the recipe's fields, or check a recipe file")
    p.add_argument("action", choices=["explain", "check"])
    p.add_argument("target", nargs="?", metavar="SECTION|FILE", help="explain: a section (data, task, model, train, ...); check: a recipe")
    p.add_argument("overrides", nargs="*", metavar="NAME|KEY=VALUE",
                   help="explain: a source, task or model name (`recipe explain data csv`); check: overrides")
    p.add_argument("--json", action="store_true",
                   help="explain: the rows as JSON; check: {ok, recipe} or {ok: false, problems} as JSON")
    p.set_defaults(handler=cmd_recipe)

    p = sub.add_parser("models", help="list the model families, or show one's layers, parameters and FLOPs")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--input", default="1x28x28", metavar="CxHxW", help="input shape per example (default 1x28x28)")
    p.add_argument("--classes", type=int, default=10, help="number of outputs (default 10)")
    p.add_argument("--stage", type=int, default=1, help="for a recipe with fine-tuning stages: freeze as this stage does (default 1)")
    p.add_argument("--json", action="store_true", help="print the list (or the model's summary) as JSON")
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
        if args.json:
            print(json.dumps([{"name": name, "description": text} for name, text in api.recipes()], indent=2))
        else:
            _table(console, ("recipe", "description"), api.recipes())
        return 0
    if not args.name:
        from layerlab.errors import UsageError

        raise UsageError("recipes show needs a NAME (see `layerlab recipes`)")
    text = api.recipe_text(args.name)
    if args.json:
        import yaml

        print(json.dumps(yaml.safe_load(text), indent=2))
    else:
        print(text, end="")
    return 0


def cmd_recipe(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    if args.action == "explain":  # recipe explain [SECTION [NAME]]: `data csv` lists just the csv source's fields
        if len(args.overrides) > 1:
            from layerlab.errors import UsageError

            raise UsageError(f"recipe explain takes a section and at most one name (e.g. `data csv`), given {args.overrides}")
        rows = api.explain_recipe(args.target, *args.overrides)
        if args.json:
            print(json.dumps([dict(zip(("key", "type", "default", "description"), row)) for row in rows], indent=2))
            return 0
        _table(console, ("key", "type", "default", "description"), rows, overflow="fold")
        return 0
    if not args.target:
        from layerlab.errors import UsageError

        raise UsageError("recipe check needs a FILE (or a built-in recipe's name)")
    if args.json:
        from layerlab.errors import RecipeError

        try:
            cfg = api.load_recipe(args.target, args.overrides)
        except RecipeError as exc:
            print(json.dumps({"ok": False, "source": exc.source, "problems": exc.problems[:100]}, indent=2))
            return exc.exit_code
        print(json.dumps({"ok": True, "recipe": cfg.to_dict()}, indent=2))
        return 0
    cfg = api.load_recipe(args.target, args.overrides)
    console.print(f"{args.target}: ok")
    print(cfg.to_yaml(), end="")
    return 0


def cmd_models(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    if args.action == "list":
        rows = [(e.group, e.name, e.description) for e in api.models()]
        if args.json:
            print(json.dumps([dict(zip(("family", "model", "description"), row)) for row in rows], indent=2))
        else:
            _table(console, ("family", "model", "description"), rows)
        return 0
    if not args.name:
        from layerlab.errors import UsageError

        raise UsageError("models show needs a NAME (see `layerlab models`)")
    shape = _input_shape(args.input)
    summary, label = api.show_model(args.name, input_shape=shape, num_outputs=args.classes, stage=args.stage)
    if args.json:
        layers = [{"name": r.name, "type": r.type, "output_shape": list(r.output_shape or []), "params": r.params,
                   "trainable": r.trainable} for r in summary.rows]
        print(json.dumps({"model": label, "input_shape": list(shape), "params": summary.params, "trainable": summary.trainable,
                          "flops": summary.flops, "layers": layers}, indent=2))
        return 0
    from rich.table import Table

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


def _input_shape(text: str) -> tuple[int, ...]:
    """``--input`` as a shape; a malformed one is a usage error (exit 2), as argparse's own are."""
    from layerlab.errors import LayerLabError, UsageError
    from layerlab.models import parse_input_shape

    try:
        return parse_input_shape(text)
    except LayerLabError as exc:
        raise UsageError(f"--input: {exc}") from None
