"""Errors a user can act on.

Every mistake in a user's input (a recipe, a data file, a command-line argument) is raised as a
``LayerLabError`` subclass whose message says what was wrong, where, and what would be right. The CLI
prints the message without a traceback; anything else that escapes is a bug in LayerLab.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable


class LayerLabError(Exception):
    """Base class of errors caused by the user's input. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


MAX_PROBLEMS = 20  # problems a RecipeError lists
MAX_PROBLEM_CHARS = 600  # characters of each
MAX_VALUE_CHARS = 80  # characters of a given value shown in a problem (``short``)


class RecipeError(LayerLabError):
    """A recipe (file, dict or override) does not validate. Holds one line per problem."""

    exit_code = 2

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        # However large the input, the message stays a screenful: the first problems, each cut short.
        shown = [clip(p, MAX_PROBLEM_CHARS) for p in self.problems[:MAX_PROBLEMS]]
        if len(self.problems) == 1:
            message = f"{where}{shown[0]}"
        else:
            more = len(self.problems) - len(shown)
            message = f"{where}{len(self.problems)} problems in the recipe\n" + "\n".join(f"  {p}" for p in shown)
            if more:
                message += f"\n  ... and {more:,} more"
        super().__init__(message)


class UsageError(LayerLabError):
    """A command was called with arguments that cannot work (a missing run directory, say)."""

    exit_code = 2


class DataError(LayerLabError):
    """A data set cannot be found, read or understood."""


class TrainingError(LayerLabError):
    """Training stopped for a reason the user must see (a NaN loss, say)."""


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when nothing is close enough. Case is ignored
    (``Lr`` is close to ``lr``), though an exact-case match is preferred."""
    choices = [str(c) for c in choices]
    word = str(word)[:200]  # difflib is quadratic; no name is this long
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in reversed(choices)}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[matches[0]] if matches else None


def short(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (a value quoted in a message can be huge)."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    return clip(shortener.repr(value), limit)


def clip(text: str, limit: int) -> str:
    """``text``, or its start and its length when it is longer than ``limit``."""
    return text if len(text) <= limit else f"{text[: limit - 15]}... ({len(text):,} chars)"


def did_you_mean(word: str, choices: Iterable[str], *, prefix: str = "") -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    match = close_match(word, choices)
    return f"; did you mean '{prefix}{match}'?" if match else ""
