"""The options of the ``python:`` family (a user's own ``nn.Module`` class named by its import path),
without importing torch.

``families`` declares it in ``MODELS``; its builder, in ``layerlab.models.python_module``, loads on first use.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from layerlab.errors import short
from layerlab.models.base import ModelConfig

PREFIX = "python:"


class PythonModuleConfig(ModelConfig):
    name: str = Field("python:module:Class", description="python:<module>:<class>: your own nn.Module class, imported by this path")
    args: dict[str, Any] | None = Field(None, description="python: the class's constructor arguments (None: not recorded; the class is called with none, if it needs none)")

    @field_validator("name")
    @classmethod
    def _import_path(cls, name: str) -> str:
        module, sep, qualname = name.removeprefix(PREFIX).partition(":")
        if not (name.startswith(PREFIX) and module and sep and qualname):
            raise ValueError(f"@@{short(name)} is not python:<module>:<class> (e.g. python:my_nets:SmallCNN)")
        return name

    def import_path(self) -> tuple[str, str]:
        module, _, qualname = self.name.removeprefix(PREFIX).partition(":")
        return module, qualname
