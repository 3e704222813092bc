"""Room membership for the Matrix channel: joining invites, leaving rooms, and waiting until a joined room is
known to nio (a join response does not add the room; only the next sync does)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nio import AsyncClient

from bot.channels.base import RecipientUnreachableError, RetryLater
from bot.channels.matrix_send import NETWORK_ERRORS

log = logging.getLogger(__name__)

ROOM_WAIT = 15.0
"""Seconds a send waits for a just-joined room to arrive by sync before asking the outbox to retry."""
JOIN_ATTEMPTS = 5


class Rooms:
    """Joins and leaves of one client; `synced()` must be called after every stored sync."""

    def __init__(self, client: AsyncClient, ready: asyncio.Event) -> None:
        self.client = client
        self.leave_after_reply: set[str] = set()  # group rooms: one polite answer, then the bot leaves
        self._joins: dict[str, asyncio.Task[None]] = {}
        self._joined: set[str] = set()  # joined, but not yet in nio's state
        self._synced = asyncio.Condition()
        self.ready = ready

    async def synced(self) -> None:
        """A sync was stored: wake sends waiting for their room; the channel is ready."""
        async with self._synced:
            self._synced.notify_all()
        self.ready.set()

    def joining(self, room_id: str) -> bool:
        return room_id in self._joins

    def cancel(self) -> list[asyncio.Task[None]]:
        tasks = list(self._joins.values())
        for task in tasks:
            task.cancel()
        return tasks

    async def ensure(self, room_id: str) -> None:
        """Wait for a pending join, and for the joined room to reach nio's state."""
        client = self.client
        join = self._joins.get(room_id)
        if join is None and room_id in client.invited_rooms and room_id not in client.rooms:
            join = self.join(room_id)
        if join is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(join)
        if room_id in client.rooms:
            return
        if self.ready.is_set() and room_id not in self._joined:
            raise RecipientUnreachableError("room_not_joined")  # the bot left (the citizen had left) or was kicked
        try:
            async with asyncio.timeout(ROOM_WAIT), self._synced:
                await self._synced.wait_for(lambda: room_id in client.rooms)
        except TimeoutError:
            raise RetryLater(3, "room_not_synced_yet") from None

    def join(self, room_id: str) -> asyncio.Task[None]:
        """Join (once; concurrent callers share the attempt)."""
        task = self._joins.get(room_id)
        if task is None:
            task = asyncio.create_task(self._join(room_id), name="matrix-join")
            self._joins[room_id] = task
            task.add_done_callback(lambda _t: self._joins.pop(room_id, None))
        return task

    async def _join(self, room_id: str) -> None:
        delay = 1.0
        for _ in range(JOIN_ATTEMPTS):
            try:
                response = await self.client.join(room_id)
            except NETWORK_ERRORS:
                response = None
            if response is not None and getattr(response, "room_id", None) == room_id:
                self._joined.add(room_id)
                return
            if response is not None and getattr(response, "status_code", None) in ("M_FORBIDDEN", "M_NOT_FOUND"):
                log.info("event=matrix_join_refused code=%s", response.status_code)
                return
            await asyncio.sleep(delay)
            delay *= 2
        log.warning("event=matrix_join_failed")

    def leave_soon(self, room_id: str) -> None:
        task = asyncio.create_task(self.leave(room_id), name="matrix-leave")
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def leave(self, room_id: str) -> None:
        """Leave (or decline the invite to) a room and forget it."""
        try:
            await self.client.room_leave(room_id)
            await self.client.room_forget(room_id)
        except NETWORK_ERRORS as exc:
            log.warning("event=matrix_leave_failed error=%s", type(exc).__name__)
            return
        self.leave_after_reply.discard(room_id)
        self._joined.discard(room_id)
        self.client.rooms.pop(room_id, None)
        self.client.invited_rooms.pop(room_id, None)
