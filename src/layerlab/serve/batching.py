"""Dynamic micro-batching: concurrent requests gathered into one forward pass.

Each request puts its examples (n, *shape) on a queue and waits. One worker takes the first waiting
request, then keeps taking requests until ``max_batch`` examples are gathered or ``max_wait_ms`` has
passed since the first (but not when no other request is being read: ``arrival``), runs them as one batch in a thread (so the event loop keeps accepting
requests), and hands each request its own rows of the result. A request's examples are never split
across batches; one request larger than ``max_batch`` runs as a batch of its own. ``max_batch=1`` turns
batching off (every request runs alone, in arrival order).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class _Waiting:
    x: np.ndarray
    answer: asyncio.Future[np.ndarray]


class MicroBatcher:
    def __init__(self, run: Callable[[np.ndarray], np.ndarray], *, max_batch: int = 32, max_wait_ms: float = 2.0,
                 on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError(f"max_batch must be >= 1 and max_wait_ms >= 0; got {max_batch} and {max_wait_ms}")
        self.run, self.max_batch, self.max_wait = run, int(max_batch), max_wait_ms / 1000.0
        self.on_batch = on_batch  # told the size of every batch run (the server's metrics)
        self.arriving = 0  # requests begun but not yet submitted (``arrival``): worth waiting for
        self._queue: asyncio.Queue[_Waiting] | None = None
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, x: np.ndarray) -> np.ndarray:
        """The outputs for one request's examples ``x`` (n, *shape), computed in some batch with others.
        An exception raised by the forward pass is raised here, in every request of that batch."""
        if self._worker is None or self._worker.done():  # started on first use, in the serving loop
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._work())
        assert self._queue is not None
        answer: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(x, answer))
        return await answer

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Around reading and decoding one request's body: while any request is in there, a batch being
        gathered waits for it (up to ``max_wait_ms``); with none, the batch runs at once, so that a lone
        client pays no wait."""
        self.arriving += 1
        try:
            yield
        finally:
            self.arriving -= 1

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._gather(self._queue)
            sizes = [len(w.x) for w in batch]
            try:
                x = batch[0].x if len(batch) == 1 else np.concatenate([w.x for w in batch])
                out = await asyncio.to_thread(self.run, x)
            except Exception as exc:  # each waiting request hears of it; the worker goes on
                for waiting in batch:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(exc)
                continue
            if self.on_batch is not None:
                self.on_batch(len(x))
            start = 0
            for waiting, n in zip(batch, sizes):
                if not waiting.answer.done():  # a client that went away leaves a cancelled future
                    waiting.answer.set_result(out[start : start + n])
                start += n

    async def _gather(self, queue: asyncio.Queue[_Waiting]) -> list[_Waiting]:
        batch = [await queue.get()]
        size = len(batch[0].x)
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            if queue.empty():
                if self.arriving == 0:  # nobody else is on the way
                    break
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                try:
                    waiting = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
            else:
                waiting = queue.get_nowait()
            batch.append(waiting)
            size += len(waiting.x)
        return batch
