"""Group commit: many coroutines' small database requests served by few transactions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
R = TypeVar("R")


class GroupCommit(Generic[K, R]):
    """Collects requests from many coroutines and runs them in batches, at most `parallel` batches at once.

    Whatever arrives while a batch runs goes into the next one, so under load one transaction serves many chats
    and at low load a request still runs at once (no waiting for a batch to fill).
    """

    def __init__(self, run: Callable[[list[K]], Awaitable[list[R]]], *, parallel: int, max_batch: int) -> None:
        self._run = run
        self._parallel = parallel
        self._max_batch = max_batch
        self._queue: list[tuple[K, asyncio.Future[R]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, request: K) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        self._pump()
        return await future

    def _pump(self) -> None:
        while self._queue and len(self._tasks) < self._parallel:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            task = asyncio.create_task(self._run_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._batch_done)

    def _batch_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._pump()

    async def _run_batch(self, batch: list[tuple[K, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([request for request, _ in batch])
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc) if isinstance(exc, Exception) else future.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for _, future in self._queue:
            future.cancel()
        self._queue.clear()
