"""Progress bars for long work outside training (a report's sections, t-SNE, explanations, predictions).

The library draws none unless asked: the CLI turns them on with ``shown(True)`` for a command run without
``--json`` or ``--quiet``, and even then a bar appears only when stderr is a terminal (not in logs or
pipes). A bar is transient: it is gone when the work ends, leaving the command's own output alone.

    with steps("report", total=len(builders)) as advance:
        for build in builders:
            advance(build.__name__)   # names the step now starting, counts the one before as done
            build()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

_SHOWN: ContextVar[bool] = ContextVar("layerlab_progress_shown", default=False)


@contextlib.contextmanager
def shown(on: bool) -> Iterator[None]:
    """Within the block, ``steps`` draws its bar (on a terminal) when ``on``."""
    token = _SHOWN.set(on)
    try:
        yield
    finally:
        _SHOWN.reset(token)


@contextlib.contextmanager
def steps(description: str, total: int) -> Iterator[Callable[[str], None]]:
    """A bar of ``total`` steps on stderr; yields ``advance(label)``, called as each step starts: the
    bar counts the steps before it as done and shows ``description: label`` with the time spent."""
    console = _stderr_console() if _SHOWN.get() else None
    if console is None or not console.is_terminal:
        yield lambda label: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        started = [0]

        def advance(label: str) -> None:
            bar.update(task, completed=min(started[0], total), description=f"{description}: {label}", refresh=True)
            started[0] += 1

        yield advance


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
