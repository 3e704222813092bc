"""The outbox sender: delivers each chat's committed messages in order, then deletes them (DESIGN.md, "Outbox").

One sending task per chat with queued messages; chats are independent, one chat strictly in order. A message is
deleted (committed) before the chat's next one goes out, so a crash re-sends at most one message. Channels say
how a failed send should go on: `RetryLater` (rate limit, network; the chat waits, later messages with it) or
`PermanentFailure` (blocked bot, deleted chat; the message is given up and the chat moves on). Any other
exception of a send (a bug, a message the channel's library cannot encode) is retried like `RetryLater` and
counts towards the same limit, so a message that can never be sent ends as a dead letter (status "failed",
purged by the housekeeping after `DEAD_LETTER_RETENTION` in bot/runtime.py) instead of blocking its chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.base import Channel, PermanentFailure, RetryLater
from bot.group_commit import GroupCommit
from bot.storage.db import Database
from bot.storage.items import OutboxItem
from handlers.events import Outbound

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 8
"""A message that could not be sent this often (each time told to retry later) is given up."""
UNEXPECTED_RETRY_DELAY = 15.0
"""Seconds before a send that raised an unexpected exception is tried again."""

InDb = Callable[..., Awaitable[Any]]


@dataclass
class RuntimeStats:
    """Counters for logs and benchmarks."""

    accepted: int = 0
    duplicates: int = 0
    processed: int = 0
    failed: int = 0
    sent: int = 0
    send_retries: int = 0
    send_failures: int = 0


class OutboxSender:
    """Sends what the runtime committed to the outbox; `kick(chat_key)` after every commit that queued messages."""

    def __init__(
        self,
        database: Database,
        channels: Mapping[str, Channel],
        in_db: InDb,
        clock: Callable[[], datetime],
        stats: RuntimeStats,
        *,
        parallel: int,
        max_batch: int,
    ) -> None:
        self.db = database
        self.channels = channels
        self._in_db = in_db
        self._clock = clock
        self.stats = stats
        self.running = False
        self.workers: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._sent = GroupCommit(self._mark_sent_async, parallel=parallel, max_batch=max_batch)
        self.unexpected_retry_delay = UNEXPECTED_RETRY_DELAY

    def kick(self, key: str) -> None:
        """Make sure the chat's queued messages are being sent (no-op while stopped)."""
        self._dirty.add(key)
        if key not in self.workers and self.running:
            self.workers[key] = asyncio.create_task(self._worker(key), name=f"send:{key}")

    def kick_later(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(timer)
            self.kick(key)

        timer = loop.call_later(delay, fire)
        self._timers.add(timer)

    async def stop(self) -> None:
        """Stop sending; unsent messages stay in the outbox for the next start."""
        self.running = False
        for timer in self._timers:
            timer.cancel()
        tasks = list(self.workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._sent.stop()

    async def _worker(self, key: str) -> None:
        try:
            while key in self._dirty:
                self._dirty.discard(key)
                while self.running and await self._send_queued(key):
                    pass
        except Exception:
            log.exception("event=send_worker_crashed")
        finally:
            self.workers.pop(key, None)

    async def _send_queued(self, key: str) -> bool:
        """Send the chat's queued messages in order (one read for all). False when none is due now."""
        items = await self._in_db(self._queue, key)
        if not items:
            return False
        for item in items:
            if not self.running or not await self._send_item(key, item):
                return False
        return True

    async def _send_item(self, key: str, item: OutboxItem) -> bool:
        """Send one message. False when it must wait (and so must the chat's later messages)."""
        now = self._clock()
        if item.not_before is not None and item.not_before > now:
            # a retry back-off (e.g. 429 retry_after) that outlived a restart: wake up when it is due
            self.kick_later(key, (item.not_before - now).total_seconds())
            return False
        channel = self.channels.get(item.channel)
        if channel is None:
            log.warning("event=send_no_channel channel=%s outbox_id=%s", item.channel, item.id)
            return False
        try:
            # Unique per message even if a restored database hands out an id again: the creation time goes with it.
            message_key = f"{item.id}-{int(item.created_at.timestamp() * 1000)}"
            await channel.send(item.chat_id, Outbound.from_dict(item.payload), message_key)
        except RetryLater as exc:
            return await self._retry_later(key, item, exc)
        except PermanentFailure as exc:
            self.stats.send_failures += 1
            log.warning("event=send_failed outbox_id=%s reason=%s", item.id, exc.reason)
            await self._in_db(self._update, "mark_failed", item.id, exc.reason)
            return True
        except Exception as exc:  # only the type is logged and stored: the exception text may quote the message
            log.error("event=send_crashed outbox_id=%s attempt=%s error=%s", item.id, item.attempts + 1,
                      type(exc).__name__)
            return await self._retry_later(key, item, RetryLater(self.unexpected_retry_delay, type(exc).__name__))
        # Deleted (committed) before the chat's next message goes out: a crash re-sends at most this one.
        await self._sent.submit(item.id)
        self.stats.sent += 1
        return True

    async def _retry_later(self, key: str, item: OutboxItem, exc: RetryLater) -> bool:
        self.stats.send_retries += 1
        if item.attempts + 1 >= MAX_SEND_ATTEMPTS:
            await self._in_db(self._update, "mark_failed", item.id, exc.reason)
            self.stats.send_failures += 1
            log.warning("event=send_gave_up outbox_id=%s reason=%s", item.id, exc.reason)
            return True
        delay = max(exc.after, 0.05)
        await self._in_db(self._update, "retry_later", item.id, exc.reason, self._clock() + timedelta(seconds=delay))
        log.info("event=send_retry outbox_id=%s after=%.2f reason=%s", item.id, delay, exc.reason)
        self.kick_later(key, delay)
        return False

    def _queue(self, key: str) -> list[OutboxItem]:
        with self.db.unit_of_work(read_only=True) as uow:
            return uow.outbox.queue(key)

    async def _mark_sent_async(self, item_ids: list[int]) -> list[None]:
        await self._in_db(self._update, "mark_sent_many", item_ids)
        return [None] * len(item_ids)

    def _update(self, method: str, *args: Any) -> None:
        with self.db.unit_of_work() as uow:
            getattr(uow.outbox, method)(*args)
