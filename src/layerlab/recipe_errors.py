"""Pydantic's validation errors as one line per problem a user can act on.

    data.windw: unknown key; did you mean 'data.window'?
    data.window: unknown key for data set 'digits' (an option of series, co2, sunspots)
    train.optimizer: 'adm' is not allowed; allowed: sgd, adam, adamw, rmsprop, adagrad; did you mean 'adam'?

A validator that wants its own message raises ``ValueError("@field@text")``: the text is reported
under the validator's path plus ``field``. A validation nested inside another (a registry section
validated by its entry's config class) raises ``NestedErrors`` with its lines already formatted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from layerlab.errors import close_match, short

# For a top-level key unknown to the chosen entry of a registry: what to say when other entries have
# it ("unknown key for data set 'digits' (an option of series, co2, sunspots)"), else None.
Owners = Callable[[str], "str | None"]


class NestedErrors(ValueError):
    """Carries already formatted problems out of a nested validation."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def problems(exc: ValidationError, prefix: str, root_cls: type, owners: Owners | None = None) -> list[str]:
    """One line per error of ``exc``, each under ``prefix`` (``data``; empty for a whole recipe).

    ``root_cls`` is the validated class (for the close match of an unknown key); ``owners`` says which
    other registered entries have a top-level key unknown to this one.
    """
    found: list[str] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        ctx_error = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_error, NestedErrors):
            found.extend(ctx_error.problems)
        elif err["type"] == "value_error" and isinstance(ctx_error, ValueError) and str(ctx_error).startswith("@"):
            _, field, text = str(ctx_error).split("@", 2)
            path = join(prefix, *loc, field)
            found.append(f"{path}: {text}" if path else text)
        else:
            found.append(_one(err, loc, prefix, root_cls, owners))
    return list(dict.fromkeys(found))


def _one(err: Any, loc: list[str], prefix: str, root_cls: type, owners: Owners | None) -> str:
    path = join(prefix, *loc)
    given = err.get("input")
    msg = err.get("msg", "")
    if err["type"] == "extra_forbidden":
        elsewhere = owners(loc[-1]) if owners is not None and len(loc) == 1 else None
        if elsewhere:
            return f"{path}: {elsewhere}"
        return f"{path}: unknown key{key_hint(root_cls, loc, prefix)}"
    if err["type"] == "literal_error":
        expected = (err.get("ctx") or {}).get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ", ").split(",")]
        hint = close_match(str(given)[:200], choices)
        hint_text = f"; did you mean '{hint}'?" if hint else ""
        return f"{path}: {short(given)} is not allowed; allowed: {', '.join(choices)}{hint_text}"
    if err["type"] == "missing":
        return f"{path}: required"
    return f"{path}: {msg[0].lower() + msg[1:] if msg else 'invalid'}, given {short(given)}"


def key_hint(root_cls: type, loc: list[str], prefix: str) -> str:
    """'; did you mean ...' for an unknown key, looking at the fields of its section's class."""
    cls = root_cls
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and hasattr(annotation, "model_fields")):
            return ""
        cls = annotation
    fields = getattr(cls, "model_fields", {})
    match = close_match(loc[-1], fields)
    return f"; did you mean '{join(prefix, *loc[:-1], match)}'?" if match else f"; known keys: {', '.join(fields)}"


def join(*parts: str) -> str:
    return ".".join(p for p in parts if p)
