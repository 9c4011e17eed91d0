"""The ``layerlab`` command: parses arguments, calls ``layerlab.api``, prints. No logic of its own.

Only argparse is imported at the top, so ``layerlab --help`` answers without importing torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

# Further commands, one module per area under ``layerlab/commands/``. Each imports only argparse
# (and the standard library) at its top and defines ``register(sub)``, which adds its subparsers and
# sets ``handler=fn`` on each, with ``fn(args, console) -> int``. Listed here, and only here.
COMMAND_MODULES: tuple[str, ...] = (
    "layerlab.commands.sequences",
    "layerlab.commands.generative",
    "layerlab.commands.transfer",
    "layerlab.commands.tune",
    "layerlab.commands.track",
    "layerlab.commands.insight",
    "layerlab.commands.ship",
)

EPILOG = """examples:
  layerlab run                                   train the default recipe (digits-cnn)
  layerlab run fashion-cnn train.epochs=3        a built-in recipe with an override
  layerlab run my.yaml --out runs/try1           a recipe file into a chosen run directory
  layerlab run --resume runs/try1                continue an interrupted run
  layerlab evaluate runs/try1                    test metrics from the run directory alone
  layerlab predict runs/try1 img.png folder/     predictions for images or CSV rows
  layerlab recipe explain train                  every train.* field with type, default, meaning
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerlab",
        description="Train, compare, understand and ship neural networks from one recipe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="train a recipe and write a run directory")
    p.add_argument("args", nargs="*", metavar="RECIPE|KEY=VALUE",
                   help="a recipe file or built-in name (default digits-cnn), then overrides like train.epochs=3")
    p.add_argument("--out", metavar="DIR", help="the run directory (default runs/<recipe>-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("evaluate", help="metrics of a trained run on its test split or other data")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--data", metavar="PATH", help="other data of the same kind (replaces data.path)")
    p.add_argument("--split", default="test", help="train, val, test or all (default test)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("ensemble", help="metrics of classifiers' averaged probabilities on a split they share")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more classification runs of the same data and split")
    p.add_argument("--cv", action="store_true", help="the arguments are `layerlab cv` folders: fold by fold, then mean and spread")
    p.add_argument("--split", default="test", help="train, val, test or all (default test)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("predict", help="predictions for images, folders of images or CSV files")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")

    p = sub.add_parser("recipes", help="list the built-in recipes, or show one")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")

    p = sub.add_parser("recipe", help="explain the recipe's fields, or check a recipe file")
    p.add_argument("action", choices=["explain", "check"])
    p.add_argument("target", nargs="?", metavar="SECTION|FILE")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")

    p = sub.add_parser("models", help="list the model families, or show one's layers, parameters and FLOPs")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("name", nargs="?")
    p.add_argument("--input", default="1x28x28", metavar="CxHxW", help="input shape per example (default 1x28x28)")
    p.add_argument("--classes", type=int, default=10, help="number of outputs (default 10)")
    p.add_argument("--stage", type=int, default=1, help="for a recipe with fine-tuning stages: freeze as this stage does (default 1)")

    p = sub.add_parser("generate", help="new text (language models) or images (VAEs, GANs) from a run")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--prompt", default="", help="text: the start of the text to continue")
    p.add_argument("--tokens", type=int, default=500, help="text: how many tokens to generate (default 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="text: sampling temperature (default 0.8)")
    p.add_argument("--top-k", type=int, default=40, help="text: sample from the k likeliest tokens (default 40)")
    p.add_argument("--n", type=int, default=64, help="images: how many to generate (default 64)")
    p.add_argument("--class", dest="class_", default=None, help="images: the class to generate (conditional models)")
    p.add_argument("--out", default=None, help="images: the PNG grid to write (default RUN/generated.png)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from layerlab import __version__

        print(f"layerlab {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    from layerlab.errors import LayerLabError

    console = _console()
    try:
        handler = getattr(args, "handler", None) or COMMANDS[args.command]
        return handler(args, console) or 0
    except LayerLabError as exc:
        from rich.markup import escape  # a message may hold [brackets]: "needs [low, high]"

        _console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        _console(stderr=True).print("aborted")
        return 130


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


# ------------------------------------------------------------------------------------ commands
def cmd_run(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    recipe, overrides = _split_recipe_args(args.args)
    if args.resume and recipe is not None:
        from layerlab.errors import UsageError

        raise UsageError("--resume continues a run with its own recipe; give only overrides (KEY=VALUE) with it")
    result = api.run(recipe, overrides, out=args.out, resume=args.resume,
                     console=None if args.quiet or args.json else console)
    if args.json:
        print(json.dumps({"run_dir": str(result.run_dir), **result.summary}, indent=2))
        return 0
    test = result.summary.get("test") or {}
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in test.items())
    if result.summary.get("stop_reason"):
        console.print(f"stopped: {result.summary['stop_reason']}")
    console.print(f"test: {metrics}" if metrics else "test: (no test split)")
    console.print(f"run directory: {result.run_dir}")
    return 0


def _split_recipe_args(items: Sequence[str]) -> tuple[str | None, list[str]]:
    if items and "=" not in items[0]:
        return items[0], list(items[1:])
    return None, list(items)


def cmd_evaluate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    result = api.evaluate(args.run_dir, data=args.data, split=args.split, device=args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console.print(f"{result['split']} ({result['n']:,} examples): "
                  + "  ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items()))
    return 0


def cmd_ensemble(args: argparse.Namespace, console: Any) -> int:
    if args.cv:
        from layerlab.tune.crossval import ensemble_folds

        if args.split != "test":
            from layerlab.errors import UsageError

            raise UsageError("--cv ensembles every fold's test part; --split does not apply")
        result = ensemble_folds(args.runs, device=args.device)
        if args.json:
            print(json.dumps(result, indent=2))
            return 0
        console.print(f"ensemble of {len(args.runs)} cross-validations, {result['folds']} folds (test):")
        for metric, s in result["test"].items():
            console.print(f"  {metric} {s['mean']:.4f} ± {s['std']:.4f} (s.e. {s['sem']:.4f}; {s['min']:.4f}..{s['max']:.4f})")
        return 0
    from layerlab import api

    result = api.evaluate_ensemble(args.runs, split=args.split, device=args.device)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for run, metrics in result["members"].items():
        console.print(f"{run}: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    console.print(f"ensemble ({result['split']}, {result['n']:,} examples): "
                  + "  ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items()))
    return 0


def cmd_predict(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    rows = api.predict(args.run_dir, args.inputs, device=args.device)
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    from rich.table import Table

    table = Table(box=None)
    table.add_column("input", overflow="fold")
    if rows and "label" in rows[0]:
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


def cmd_recipes(args: argparse.Namespace, console: Any) -> int:
    from layerlab.recipes import builtin_description, builtin_names, builtin_path

    if args.action == "list":
        from rich.table import Table

        table = Table(box=None)
        table.add_column("recipe", style="bold")
        table.add_column("description")
        for name in builtin_names():
            table.add_row(name, builtin_description(name))
        console.print(table)
        return 0
    from layerlab.errors import UsageError, did_you_mean

    if not args.name:
        raise UsageError("recipes show needs a NAME (see `layerlab recipes`)")
    path = builtin_path(args.name)
    if path is None:
        raise UsageError(f"'{args.name}' is not a built-in recipe{did_you_mean(args.name, builtin_names())}")
    print(path.read_text(encoding="utf-8"), end="")
    return 0


def cmd_recipe(args: argparse.Namespace, console: Any) -> int:
    from layerlab import recipe

    if args.action == "explain":
        from rich.table import Table

        table = Table(box=None)
        for column in ("key", "type", "default", "description"):
            table.add_column(column, overflow="fold")
        for row in recipe.explain(args.target):
            table.add_row(*row)
        console.print(table)
        return 0
    from layerlab.errors import UsageError

    if not args.target:
        raise UsageError("recipe check needs a FILE (or a built-in recipe's name)")
    cfg = recipe.load_recipe(args.target, args.overrides)
    console.print(f"{args.target}: ok")
    print(cfg.to_yaml(), end="")
    return 0


def cmd_models(args: argparse.Namespace, console: Any) -> int:
    from rich.table import Table

    from layerlab.models import MODELS

    if args.action == "list":
        table = Table(box=None)
        for column in ("family", "model", "description"):
            table.add_column(column)
        for entry in sorted(MODELS, key=lambda e: (e.group, e.name)):
            table.add_row(entry.group, entry.name, entry.description)
        console.print(table)
        return 0
    from layerlab.errors import UsageError

    if not args.name:
        raise UsageError("models show needs a NAME (see `layerlab models`)")
    from layerlab.models import parse_input_shape, summarize
    from layerlab.transfer.show import staged_model

    shape = parse_input_shape(args.input)
    model, label = staged_model(args.name, input_shape=shape, num_outputs=args.classes, stage=args.stage)
    summary = summarize(model, shape)
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


def cmd_generate(args: argparse.Namespace, console: Any) -> int:
    from layerlab import api

    options = {k: getattr(args, k) for k in ("prompt", "tokens", "temperature", "top_k", "n", "class_", "out", "seed")}
    result = api.generate(args.run_dir, device=args.device, **options)
    if args.json:
        print(json.dumps(result, indent=2))
    elif "text" in result:
        print(result["text"])
    else:
        console.print("  ".join(f"{k} {v}" for k, v in result.items()))
    return 0


COMMANDS = {
    "run": cmd_run,
    "evaluate": cmd_evaluate,
    "ensemble": cmd_ensemble,
    "predict": cmd_predict,
    "recipes": cmd_recipes,
    "recipe": cmd_recipe,
    "models": cmd_models,
    "generate": cmd_generate,
}

if __name__ == "__main__":
    sys.exit(main())
