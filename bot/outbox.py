"""The outbox sender: delivers each chat's committed messages in order, then deletes them (DESIGN.md, "Outbox").

One sending task per chat with queued messages; chats are independent, one chat strictly in order. A message is
deleted (committed) before the chat's next one goes out, so a crash re-sends at most one message. Channels say
how a failed send should go on: `RetryLater` (rate limit, network; the chat waits, later messages with it),
`RecipientUnreachableError` (the citizen blocked the bot or left the DM: the contact is marked unreachable and the
chat's queue dropped) or `PermanentFailure` (deleted chat, rejected message; the message is given up and the chat
moves on). Any other exception of a send (a bug, a message the channel's library cannot encode) is retried like
`RetryLater` and counts towards the same limit, so a message that can never be sent ends as a dead letter (status
"failed", purged by the housekeeping after `DEAD_LETTER_RETENTION` in bot/runtime.py) instead of blocking its chat.

Pacing: before every send the sender asks the `SendPacer` (bot/pacing.py) with the message's priority (0 = a reply,
1 = bulk: invitation, reminder, follow-up). A chat's messages stay in order whatever their priority; a bulk message
ahead of a reply in the same chat is sent with the reply's priority, so the reply never waits behind the broadcast.

Rate-limit answers: Matrix `M_LIMIT_EXCEEDED` pauses the whole channel (the limit is per sender). A Telegram 429
pauses the chat it names — its `parameters` carry only `retry_after`, nothing says "global" — unless it is clearly
global: `GLOBAL_429_CHATS` different chats refused within `GLOBAL_429_WINDOW` seconds with no successful send on
the channel in between; then the whole channel pauses for the server's `retry_after`. A rate-limited message is
never given up (it only waits); nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.base import (
    RATE_LIMIT_CHANNEL,
    Channel,
    PermanentFailure,
    RecipientUnreachableError,
    RetryLater,
)
from bot.group_commit import GroupCommit
from bot.pacing import BULK, INTERACTIVE, SendPacer, bulk_key
from bot.storage.db import Database
from bot.storage.items import FOLLOW_UP_FAILED, FOLLOW_UP_SKIPPED, OutboxItem
from handlers.events import Outbound

log = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 8
"""A message that could not be sent this often (each time told to retry later) is given up."""
UNEXPECTED_RETRY_DELAY = 15.0
"""Seconds before a send that raised an unexpected exception is tried again."""

GLOBAL_429_CHATS = 3
"""Telegram 429s from this many different chats …"""
GLOBAL_429_WINDOW = 1.0
"""… within this many seconds, with no successful send in between, pause the whole channel."""

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
    rate_limited: int = 0
    unreachable: int = 0


def _parts(channel: Channel, message: Outbound) -> int:
    """How many platform messages `message` becomes (a channel may say: `parts(message)`; else one)."""
    parts = getattr(channel, "parts", None)
    try:
        return max(1, int(parts(message))) if callable(parts) else 1
    except Exception:  # counting must never keep a message from being sent
        return 1


class RateLimitWatch:
    """Tells a chat's own rate limit from the bot's: see the module docstring, "Rate-limit answers"."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._refused: dict[str, deque[tuple[float, str]]] = {}
        self._last_ok: dict[str, float] = {}

    def succeeded(self, channel: str) -> None:
        self._last_ok[channel] = self._clock()

    def refused(self, channel: str, chat_key: str) -> bool:
        """Record a 429 for `chat_key`; True when it looks global (the whole channel should pause)."""
        now = self._clock()
        recent = self._refused.setdefault(channel, deque())
        recent.append((now, chat_key))
        since = max(now - GLOBAL_429_WINDOW, self._last_ok.get(channel, float("-inf")))
        while recent and recent[0][0] < since:
            recent.popleft()
        return len({chat for _, chat in recent}) >= GLOBAL_429_CHATS


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
        pacer: SendPacer | None = None,
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
        self.pacer = pacer
        self.rate_limits = RateLimitWatch()
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
        if self.pacer is not None:
            await self.pacer.close()

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
        if self.pacer is not None:
            for item in items:
                if item.priority >= BULK:
                    self.pacer.track_bulk(item.channel, bulk_key(item.follow_up_id, item.id))
        # a reply queued behind bulk messages of the same chat lends them its priority (they must go first)
        priorities = [item.priority for item in items]
        for index in range(len(priorities) - 2, -1, -1):
            priorities[index] = min(priorities[index], priorities[index + 1])
        for item, priority in zip(items, priorities, strict=True):
            if not self.running:
                return False
            result = await self._send_item(key, item, priority)
            if result is None:
                return True  # the chat's queue was dropped (recipient unreachable): read it again
            if not result:
                return False
        return True

    async def _send_item(self, key: str, item: OutboxItem, priority: int = INTERACTIVE) -> bool | None:
        """Send one message. False when it must wait (and so must the chat's later messages); None when the
        recipient is unreachable and the chat's queue was dropped."""
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
            message = Outbound.from_dict(item.payload)
            if self.pacer is not None:
                await self.pacer.acquire(item.channel, key, priority, _parts(channel, message))
            # Unique per message even if a restored database hands out an id again: the creation time goes with it.
            message_key = f"{item.id}-{int(item.created_at.timestamp() * 1000)}"
            await channel.send(item.chat_id, message, message_key)
        except RetryLater as exc:
            return await self._retry_later(key, item, exc)
        except RecipientUnreachableError as exc:
            self.stats.unreachable += 1
            log.info("event=recipient_unreachable channel=%s outbox_id=%s reason=%s", item.channel, item.id,
                     exc.reason)
            dropped = await self._in_db(self._drop_unreachable, item)
            for follow_up_id, outbox_id in dropped:
                self._untrack(item.channel, follow_up_id, outbox_id)
            return None
        except PermanentFailure as exc:
            self.stats.send_failures += 1
            log.warning("event=send_failed outbox_id=%s reason=%s", item.id, exc.reason)
            await self._in_db(self._mark_failed, item, exc.reason)
            self._untrack(item.channel, item.follow_up_id, item.id)
            return True
        except Exception as exc:  # only the type is logged and stored: the exception text may quote the message
            log.error("event=send_crashed outbox_id=%s attempt=%s error=%s", item.id, item.attempts + 1,
                      type(exc).__name__)
            return await self._retry_later(key, item, RetryLater(self.unexpected_retry_delay, type(exc).__name__))
        self.rate_limits.succeeded(item.channel)
        # Deleted (committed) before the chat's next message goes out: a crash re-sends at most this one.
        await self._sent.submit((item.id, item.follow_up_id))
        self._untrack(item.channel, item.follow_up_id, item.id)
        self.stats.sent += 1
        return True

    def _untrack(self, channel: str, follow_up_id: int | None, outbox_id: int) -> None:
        if self.pacer is not None:
            self.pacer.untrack_bulk(channel, bulk_key(follow_up_id, outbox_id))

    async def _retry_later(self, key: str, item: OutboxItem, exc: RetryLater) -> bool:
        self.stats.send_retries += 1
        if exc.rate_limit is not None:
            self._pause(key, item, exc)
        elif item.attempts + 1 >= MAX_SEND_ATTEMPTS:
            await self._in_db(self._mark_failed, item, exc.reason)
            self._untrack(item.channel, item.follow_up_id, item.id)
            self.stats.send_failures += 1
            log.warning("event=send_gave_up outbox_id=%s reason=%s", item.id, exc.reason)
            return True
        delay = max(exc.after, 0.05)
        await self._in_db(self._update, "retry_later", item.id, exc.reason, self._clock() + timedelta(seconds=delay),
                          exc.rate_limit is None)
        log.info("event=send_retry outbox_id=%s after=%.2f reason=%s", item.id, delay, exc.reason)
        self.kick_later(key, delay)
        return False

    def _pause(self, key: str, item: OutboxItem, exc: RetryLater) -> None:
        """A rate-limit answer: pause the chat, or the channel when the limit is the whole account's."""
        self.stats.rate_limited += 1
        whole = exc.rate_limit == RATE_LIMIT_CHANNEL or self.rate_limits.refused(item.channel, key)
        if self.pacer is not None:
            if whole:
                self.pacer.pause_channel(item.channel, exc.after)
            else:
                self.pacer.pause_chat(key, exc.after)
        log.info("event=send_rate_limited channel=%s scope=%s after=%.2f", item.channel,
                 "channel" if whole else "chat", exc.after)

    def _queue(self, key: str) -> list[OutboxItem]:
        with self.db.unit_of_work(read_only=True) as uow:
            return uow.outbox.queue(key)

    async def _mark_sent_async(self, sent: list[tuple[int, int | None]]) -> list[None]:
        await self._in_db(self._mark_sent, sent)
        return [None] * len(sent)

    def _mark_sent(self, sent: list[tuple[int, int | None]]) -> None:
        """Forget sent messages and finish the follow_ups rows they delivered, in one transaction."""
        now = self._clock()
        with self.db.unit_of_work() as uow:
            uow.outbox.mark_sent_many([item_id for item_id, _ in sent])
            for _, follow_up_id in sent:
                if follow_up_id is not None:
                    uow.follow_ups.mark_sent(follow_up_id, now)

    def _mark_failed(self, item: OutboxItem, reason: str) -> None:
        now = self._clock()
        with self.db.unit_of_work() as uow:
            uow.outbox.mark_failed(item.id, reason)
            if item.follow_up_id is not None:
                uow.follow_ups.finish(item.follow_up_id, FOLLOW_UP_FAILED, "send_failed", now)

    def _drop_unreachable(self, item: OutboxItem) -> list[tuple[int | None, int]]:
        """The recipient can receive nothing: mark the contact, drop the chat's queue, skip its follow-ups."""
        now = self._clock()
        with self.db.unit_of_work() as uow:
            uow.contacts.mark_unreachable(item.channel, item.chat_id, now)
            dropped = uow.outbox.drop_chat(item.chat_key)
            for _, follow_up_id in dropped:
                if follow_up_id is not None:
                    uow.follow_ups.finish(follow_up_id, FOLLOW_UP_SKIPPED, "unreachable", now)
        return [(follow_up_id, item_id) for item_id, follow_up_id in dropped]

    def _update(self, method: str, *args: Any) -> None:
        with self.db.unit_of_work() as uow:
            getattr(uow.outbox, method)(*args)
