"""The ``layerlab`` command: builds the parser from the command modules and dispatches to their handlers,
which parse, call ``layerlab.api`` and print. No logic of its own.

Only argparse is imported at the top, so ``layerlab --help`` answers without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

# The commands, one module per area under ``layerlab/commands/``. Each imports only argparse (and the
# standard library) at its top and defines ``register(sub)``, which adds its subparsers and sets
# ``handler=fn`` on each, with ``fn(args, console) -> int`` calling ``layerlab.api``. Listed here, and
# only here, in the order ``layerlab --help`` shows them.
COMMAND_MODULES: tuple[str, ...] = (
    "layerlab.commands.run",
    "layerlab.commands.recipes",
    "layerlab.commands.generative",
    "layerlab.commands.sequences",
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
        return args.handler(args, console) or 0
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


if __name__ == "__main__":
    sys.exit(main())
