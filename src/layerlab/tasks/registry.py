"""The registry of tasks, in a module of its own that imports nothing of the tasks or the data.

The data layer looks a task's ``TargetSpec`` up here by name (``target_spec``) without importing the
tasks' code, which imports the data layer's tokenizers and splits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerlab.registry import Registry

if TYPE_CHECKING:
    from layerlab.data.targets import TargetSpec

TASKS: Registry = Registry("task", name_owners=True)


def target_spec(name: str) -> TargetSpec:
    """What task ``name`` needs of the data (its class's ``target``). Raises UnknownNameError."""
    return TASKS.get(name).target
