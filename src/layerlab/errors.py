"""Errors a user can act on.

Every mistake in a user's input (a recipe, a data file, a command-line argument) is raised as a
``LayerLabError`` subclass whose message says what was wrong, where, and what would be right. The CLI
prints the message without a traceback; anything else that escapes is a bug in LayerLab.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LayerLabError(Exception):
    """Base class of errors caused by the user's input. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class RecipeError(LayerLabError):
    """A recipe (file, dict or override) does not validate. Holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = f"{where}{self.problems[0]}"
        else:
            message = f"{where}{len(self.problems)} problems in the recipe\n" + "\n".join(
                f"  {p}" for p in self.problems
            )
        super().__init__(message)


class UsageError(LayerLabError):
    """A command was called with arguments that cannot work (a missing run directory, say)."""

    exit_code = 2


class DataError(LayerLabError):
    """A data set cannot be found, read or understood."""


class TrainingError(LayerLabError):
    """Training stopped for a reason the user must see (a NaN loss, say)."""


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when nothing is close enough."""
    matches = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str], *, prefix: str = "") -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = close_match(word, choices)
    return f"; did you mean '{prefix}{match}'?" if match else ""
