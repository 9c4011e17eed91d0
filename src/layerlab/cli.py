"""The ``layerlab`` command: builds the parser from the command modules and dispatches to their handlers,
which parse, call ``layerlab.api`` and print. No logic of its own.

Only argparse is imported at the top, so ``layerlab --help`` answers without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence
from typing import Any

from layerlab.progress import shown

# The commands, one module per area under ``layerlab/commands/``. Each imports only argparse (and the
# standard library) at its top and defines ``register(sub)``, which adds its subparsers and sets
# ``handler=fn`` on each, with ``fn(args, console) -> int`` calling ``layerlab.api``. Listed here, and
# only here, in the order ``layerlab --help`` shows them.
COMMAND_MODULES: tuple[str, ...] = (
    "layerlab.commands.run",
    "layerlab.commands.recipes",
    "layerlab.commands.generative",
    "layerlab.commands.sequences",
    "layerlab.commands.speech",
    "layerlab.commands.transfer",
    "layerlab.commands.tune",
    "layerlab.commands.track",
    "layerlab.commands.insight",
    "layerlab.commands.ship",
)

# The positional lists that hold a command's KEY=VALUE overrides (``run``'s args, ``recipe check``'s overrides).
OVERRIDE_DESTS = ("args", "overrides")
OVERRIDE = re.compile(r"^[A-Za-z_][\w.\[\]-]*=")
LOG_LEVELS = ("debug", "info", "warning", "error")

EPILOG = """examples:
  layerlab run                                   train the default recipe (digits-cnn)
  layerlab run fashion-cnn train.epochs=3        a built-in recipe with an override
  layerlab run my.yaml --out runs/try1           a recipe file into a chosen run directory
  layerlab run --resume runs/try1                continue an interrupted run
  layerlab evaluate runs/try1                    test metrics from the run directory alone
  layerlab predict runs/try1 img.png folder/     predictions for images or CSV rows
  layerlab recipe explain train                  every train.* field with type, default, meaning
  layerlab -v run my.yaml                        the same, with the library's log on stderr
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerlab",
        description="Train, compare, understand and ship neural networks from one recipe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="show the library's log: -v info, -vv debug")
    parser.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower, help="show the library's log from this level up")
    parser.add_argument(
        "--import", dest="imports", action="append", default=[], metavar="MODULE",
        help="import a Python module first (your own models, sources, tasks register themselves); repeatable, "
             "before or after the command",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from layerlab.plugins import PluginError, import_modules, take_imports

    modules, rest = take_imports(sys.argv[1:] if argv is None else argv)  # --import anywhere on the line
    parser = build_parser()
    args = parse_args(parser, rest)
    _configure_logging(args)
    try:
        import_modules([*modules, *args.imports])
    except PluginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
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
        with shown(not (getattr(args, "json", False) or getattr(args, "quiet", False))):  # bars on stderr's terminal
            return args.handler(args, console) or 0
    except LayerLabError as exc:
        from rich.markup import escape  # a message may hold [brackets]: "needs [low, high]"

        _console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        _console(stderr=True).print("aborted")
        return 130
    except BrokenPipeError:  # the reader left (`layerlab ... --json | head -1`): stop quietly, as `cat` does
        return _stdout_gone()


# A shell's status for a writer killed by SIGPIPE (128 + 13), which is what a reader closing the pipe means.
BROKEN_PIPE_EXIT = 141


def _stdout_gone() -> int:
    """Point stdout at /dev/null so the interpreter's flush at exit cannot raise a second BrokenPipeError
    (Python's documented recipe), and give the shell's SIGPIPE status."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return BROKEN_PIPE_EXIT


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser``'s arguments, with KEY=VALUE overrides taken anywhere on the line: argparse stops filling
    a command's list of overrides at the first option (``run r.yaml --out d train.epochs=3``), so the
    ones after it come back unrecognised and join the list here. Anything else unrecognised is an error."""
    args, extra = parser.parse_known_args(argv)
    dest = next((d for d in OVERRIDE_DESTS if isinstance(getattr(args, d, None), list)), None)
    unknown = [item for item in extra if dest is None or not OVERRIDE.match(item)]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")  # exits 2, as parse_args does
    if extra:
        getattr(args, dest).extend(extra)
    return args


def _configure_logging(args: argparse.Namespace) -> None:
    """Send the library's log records to stderr from the level asked for; without -v or --log-level
    Python's default stays (warnings and errors only)."""
    level = args.log_level or {0: None, 1: "info"}.get(args.verbose, "debug")
    if level is not None:
        import logging

        logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    console.on_broken_pipe = _pipe_closed  # rich's own exits 1 from inside; main gives the SIGPIPE status instead
    return console


def _pipe_closed() -> None:
    raise BrokenPipeError


if __name__ == "__main__":
    sys.exit(main())
