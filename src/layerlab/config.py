"""The base of every configuration section: strict (unknown keys refused), described, defaulted."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A recipe section. Every field has a default, a type and a one-line ``description``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=False)
