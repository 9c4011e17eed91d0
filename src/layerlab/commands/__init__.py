"""The CLI's commands, one module per area; see ``layerlab.cli.COMMAND_MODULES``.

Only argparse-level helpers live here, so that a command module stays free of torch at import.
"""

from __future__ import annotations

from typing import Any


def shared_options(p: Any, *, split: str | None = None, out: str | None = None, out_metavar: str | None = None,
                   seed: bool = False, device: bool = True, quiet: str | None = None,
                   json: str = "print the result as JSON") -> None:
    """Add the options many commands share, named and defaulted the same everywhere: ``--split`` (its help
    text given), ``--out`` (its help given), ``--seed``, ``--device``, ``-q/--quiet`` (its help given) and
    ``--json`` (its help given). An option whose argument is None or False is left out."""
    if split is not None:
        p.add_argument("--split", default="test", help=split)
    if out is not None:
        p.add_argument("--out", default=None, metavar=out_metavar, help=out)
    if seed:
        p.add_argument("--seed", type=int, default=0)
    if device:
        p.add_argument("--device", default="auto")
    if quiet is not None:
        p.add_argument("-q", "--quiet", action="store_true", help=quiet)
    p.add_argument("--json", action="store_true", help=json)
