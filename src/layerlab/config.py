"""The base of every configuration section: strict (unknown keys refused), described, defaulted."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator


class Section(BaseModel):
    """A recipe section. Every field has a default, a type and a one-line ``description``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=False)


class NamedSection(Section):
    """A section whose ``name`` picks a registered entry (a data source, a task) with a config class of
    its own, a subclass of this one.

    Building the shared class by hand builds the entry's own: ``DataConfig(name="csv", target="y")`` is
    a ``CsvConfig``, as a recipe's ``data: {name: csv, target: y}`` is, so code and tests that write a
    section in Python name the source or task just as a recipe does; without a name, the default's.
    """

    @classmethod
    def registry(cls) -> Any:
        """The registry whose entries' ``config`` classes subclass this one (None: no dispatch)."""
        return None

    def __init__(self, **fields: Any) -> None:
        # Only a call of the class changes the class; pydantic's own validation (model_validate, copies)
        # builds the class it is asked for. The layouts are the same, as subclasses add fields only.
        registry = type(self).registry()
        name = fields.get("name", type(self).model_fields["name"].default)
        if registry is not None and isinstance(name, str) and name in registry:
            own = registry.entry(name).config
            if isinstance(own, type) and own is not type(self) and issubclass(own, type(self)):
                object.__setattr__(self, "__class__", own)
        super().__init__(**fields)

    @model_validator(mode="after")
    def _known_name(self) -> Any:
        registry = type(self).registry()
        if registry is not None and self.name not in registry:
            raise ValueError(f"@name@{registry.unknown_message(self.name)}")
        return self


# "off" or "auto"; YAML 1.1 reads an unquoted `off` as false, which means "off" here
OffOrAuto = Annotated[Literal["off", "auto"], BeforeValidator(lambda value: "off" if value is False else value)]
