"""When training ends before its last epoch: a callback's request, Ctrl-C, the time budget.

    stopping = Stopping(max_seconds=cfg.max_seconds)
    with stopping.ctrl_c():                      # first Ctrl-C: finish the step, then stop; a second one aborts
        ...
        stopping.request("early stopping: ...")  # honoured at the end of the epoch
        if stopping.now(clock()): ...            # at a step boundary: interrupted, or over the time budget

A request (``Trainer.stop``) lets the epoch finish and validate; an interruption (``Trainer.interrupt``,
Ctrl-C) and the time budget end it at the next step boundary, where a checkpoint is complete.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


class Clock:
    """Training time so far, resumed runs included: the seconds trained before this fit, plus those since."""

    def __init__(self, before: float = 0.0):
        self.before = before
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return self.before + (time.perf_counter() - self.start)


class Stopping:
    def __init__(self, *, max_seconds: float | None):
        self.max_seconds = max_seconds  # train.max_seconds: the time budget, resumes included
        self.reason = ""  # why training stops at the end of this epoch ("" while it goes on)
        self.interrupted = False  # stop at the next step boundary and write a checkpoint there

    def request(self, reason: str) -> None:
        """Stop at the end of this epoch, for ``reason``; the first reason given is the one kept."""
        self.reason = self.reason or reason

    def now(self, seconds: float) -> bool:
        """At a step boundary, ``seconds`` into training: whether to end the epoch here (interrupted, or
        the time budget spent: then a stop is requested too, with the budget as its reason)."""
        return self.interrupted or self._over_budget(seconds)

    def _over_budget(self, seconds: float) -> bool:
        budget = self.max_seconds
        if budget is not None and seconds >= budget:
            self.request(f"time budget of {budget:g} s reached")
            return True
        return False

    @contextlib.contextmanager
    def ctrl_c(self) -> Iterator[None]:
        """First Ctrl-C: finish the step, write a checkpoint, return. A second one stops at once. Signal
        handlers can only be set from the main thread; elsewhere Ctrl-C is left as it is."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.interrupted:
                raise KeyboardInterrupt
            self.interrupted = True
            log.warning("interrupted: finishing this step and writing a checkpoint (Ctrl-C again to abort)")

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
