"""Paced sending: one send budget per channel (token buckets), interactive replies always first.

The outbox asks `SendPacer.acquire(channel, chat_key, priority)` before every send. Budgets:

* per channel an overall token bucket (`rate` messages/s, `burst` tokens): Telegram ~30/s across chats, Matrix
  Synapse's `rc_message` (0.2/s, burst 10) unless the homeserver admin exempted the bot (rate 0 = unlimited);
* per chat a second bucket where the platform limits a chat (Telegram: ≤ 1 message/s, short bursts of 3 pass);
* pauses: a 429 / `M_LIMIT_EXCEEDED` answer pauses a chat or the whole channel for the server's `retry_after`.

Priority rule (strict priority plus a reserve): interactive replies (priority 0) are served before bulk messages
(priority 1, invitations, reminders, follow-ups) whenever both wait for the same channel budget, and a bulk
message takes a token only while more than `reserve` tokens are left. So a citizen who is answering never waits
behind a broadcast: an interactive reply finds a token at once (the reserve) or is the next one served; bulk still
gets the whole rate in steady state (the bucket refills above the reserve and bulk drains it back down to it).
Waiters of one priority are served first come, first served, by one dispatcher per channel (no thundering herd
when thousands of bulk messages wait).

Pure logic around an injectable monotonic clock and sleep function: tests drive it without real waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

INTERACTIVE = 0
"""Priority of a reply to something the citizen just did."""
BULK = 1
"""Priority of unsolicited messages: invitations, reminders, follow-up questions."""

TELEGRAM_BURST_SECONDS = 1.0
"""The overall Telegram bucket holds one second's worth of messages (30 at the default rate)."""
TELEGRAM_CHAT_BURST = 3.0
"""Telegram lets a private chat receive a short burst (a reply of three parts) above the ~1/s it sustains."""
MATRIX_BURST = 10.0
"""Synapse's default `rc_message.burst_count`."""
RESERVE_SHARE = 0.2
"""Share of a channel's bucket that bulk messages leave for interactive replies."""
BULK_TRACK_TTL = 120.0
"""Seconds a tracked bulk message counts as queued (a claimed row the core held or skipped sends nothing; its
entry must not shrink the capacity for ever)."""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]


@dataclass(frozen=True)
class Limits:
    """A channel's budget. `rate` 0 = unlimited (then `burst` is ignored); `chat_rate` 0 = no per-chat limit."""

    rate: float
    burst: float = 1.0
    chat_rate: float = 0.0
    chat_burst: float = 1.0

    @property
    def reserve(self) -> float:
        """Tokens bulk messages never take: room for interactive replies arriving while a broadcast runs."""
        return math.floor(self.burst * RESERVE_SHARE) if self.rate > 0 else 0.0


class _Bucket:
    """A token bucket on the pacer's clock; tokens may go below zero (a forced take), never above `capacity`."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> float:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        return self.tokens

    def wait_for(self, tokens: float, now: float) -> float:
        """Seconds until the bucket holds `tokens` (0 when it does now)."""
        have = self.refill(now)
        return 0.0 if have >= tokens else (tokens - have) / self.rate


@dataclass
class _Waiter:
    future: asyncio.Future[None]
    priority: int


@dataclass
class _ChannelState:
    limits: Limits
    bucket: _Bucket | None
    paused_until: float = 0.0
    waiting: tuple[deque[_Waiter], deque[_Waiter]] = field(default_factory=lambda: (deque(), deque()))
    dispatcher: asyncio.Task[None] | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    bulk_pending: dict[object, float] = field(default_factory=dict)  # bulk message key → when it was tracked


def bulk_key(follow_up_id: int | None, outbox_id: int | None = None) -> tuple[str, int]:
    """The key one bulk message is tracked under: its follow_ups row if it has one, else its outbox row."""
    if follow_up_id is not None:
        return ("follow_up", follow_up_id)
    assert outbox_id is not None
    return ("outbox", outbox_id)


class SendPacer:
    """Send budgets of all channels of one bot (see the module docstring). Channels without limits pass at once."""

    def __init__(
        self,
        limits: dict[str, Limits],
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limits = dict(limits)
        self._channels: dict[str, _ChannelState] = {}
        self._chats: dict[str, _Bucket] = {}
        self._chat_paused: dict[str, float] = {}
        self.granted = [0, 0]  # messages let through, per priority (for logs and benchmarks)

    @classmethod
    def from_config(cls, config: Any, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> SendPacer:
        """Telegram: `telegram_rate` overall, `telegram_chat_rate` per chat; Matrix: `matrix_rate` with Synapse's
        burst of 10; 0 = unlimited. The terminal is never paced."""
        telegram = float(getattr(config, "telegram_rate", 30.0))
        chat = float(getattr(config, "telegram_chat_rate", 1.0))
        matrix = float(getattr(config, "matrix_rate", 0.2))
        return cls(
            {
                "telegram": Limits(telegram, max(1.0, telegram * TELEGRAM_BURST_SECONDS), chat, TELEGRAM_CHAT_BURST),
                "matrix": Limits(matrix, MATRIX_BURST),
            },
            clock=clock,
            sleep=sleep,
        )

    def limits(self, channel: str) -> Limits:
        return self._limits.get(channel, Limits(0.0))

    # --- asking for a send ---------------------------------------------------------------------------------------

    async def acquire(self, channel: str, chat_key: str, priority: int = INTERACTIVE, cost: int = 1) -> None:
        """Wait until one message may go to `chat_key` on `channel` now, and take its budget.

        Interactive (priority 0) waiters are always served before bulk ones; per chat, calls are expected one at a
        time (the outbox has one sending task per chat). `cost` > 1: the message goes out as that many platform
        messages (a long text split in parts); it waits for one token and leaves the rest as a debt that later
        messages wait out.
        """
        limits = self.limits(channel)
        await self._wait_for_chat(chat_key, limits)
        state = self._state(channel)
        if not self._take_now(state, priority):
            waiter = _Waiter(asyncio.get_running_loop().create_future(), INTERACTIVE if priority <= 0 else BULK)
            state.waiting[waiter.priority].append(waiter)
            self._ensure_dispatcher(channel, state)
            try:
                await waiter.future
            except asyncio.CancelledError:
                if waiter.future.done() and not waiter.future.cancelled():
                    self._give_back(state)  # granted just as we were cancelled: the token is not used
                else:
                    with contextlib.suppress(ValueError):
                        state.waiting[waiter.priority].remove(waiter)
                raise
        self.granted[INTERACTIVE if priority <= 0 else BULK] += 1
        if cost > 1 and state.bucket is not None:
            state.bucket.tokens -= cost - 1
        if limits.chat_rate > 0:
            bucket = self._chat_bucket(chat_key, limits)
            bucket.refill(self._clock())
            bucket.tokens -= max(1, cost)

    def _take_now(self, state: _ChannelState, priority: int) -> bool:
        """Take a channel token without queueing, if the priority rule allows it now."""
        now = self._clock()
        if now < state.paused_until:
            return False
        interactive, bulk = state.waiting
        if priority <= 0:
            if interactive:
                return False  # first come, first served among interactive replies
            need = 1.0
        else:
            if interactive or bulk:
                return False
            need = 1.0 + state.limits.reserve
        if state.bucket is None:
            return True
        if state.bucket.refill(now) >= need:
            state.bucket.tokens -= 1
            return True
        return False

    def _give_back(self, state: _ChannelState) -> None:
        if state.bucket is not None:
            state.bucket.tokens = min(state.bucket.capacity, state.bucket.tokens + 1)
        self._ensure_dispatcher_if_waiting(state)

    async def _wait_for_chat(self, chat_key: str, limits: Limits) -> None:
        """Wait out a pause of this chat and its own rate (without taking the token yet)."""
        while True:
            now = self._clock()
            wait = max(0.0, self._chat_paused.get(chat_key, 0.0) - now)
            if limits.chat_rate > 0:
                wait = max(wait, self._chat_bucket(chat_key, limits).wait_for(1.0, now))
            if wait <= 0:
                self._chat_paused.pop(chat_key, None)
                return
            await self._sleep(wait)

    # --- the dispatcher (one per channel while anybody waits) ---------------------------------------------------

    def _ensure_dispatcher(self, channel: str, state: _ChannelState) -> None:
        if state.dispatcher is None or state.dispatcher.done():
            state.dispatcher = asyncio.create_task(self._dispatch(state), name=f"pacer:{channel}")
        else:
            state.wakeup.set()

    def _ensure_dispatcher_if_waiting(self, state: _ChannelState) -> None:
        if any(state.waiting):
            state.wakeup.set()

    async def _dispatch(self, state: _ChannelState) -> None:
        interactive, bulk = state.waiting
        while interactive or bulk:
            state.wakeup.clear()
            wait = self._serve(state)
            if interactive or bulk:
                # a new arrival (e.g. a pause ending earlier is impossible, but a cancelled waiter) re-checks early
                sleeper = asyncio.ensure_future(self._sleep(max(wait, 0.0)))
                woken = asyncio.ensure_future(state.wakeup.wait())
                _done, pending = await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
        state.dispatcher = None

    def _serve(self, state: _ChannelState) -> float:
        """Grant what the budget allows now, interactive first; returns seconds until the next grant is possible."""
        interactive, bulk = state.waiting
        for queue in (interactive, bulk):
            while queue and queue[0].future.done():  # cancelled waiters
                queue.popleft()
        now = self._clock()
        if now < state.paused_until:
            return state.paused_until - now
        bucket = state.bucket
        while interactive:
            if interactive[0].future.done():
                interactive.popleft()
                continue
            if bucket is not None and bucket.refill(now) < 1.0:
                return bucket.wait_for(1.0, now)
            if bucket is not None:
                bucket.tokens -= 1
            interactive.popleft().future.set_result(None)
        need = 1.0 + state.limits.reserve
        while bulk:
            if bulk[0].future.done():
                bulk.popleft()
                continue
            if bucket is not None and bucket.refill(now) < need:
                return bucket.wait_for(need, now)
            if bucket is not None:
                bucket.tokens -= 1
            bulk.popleft().future.set_result(None)
        return 0.0

    # --- rate-limit answers ---------------------------------------------------------------------------------------

    def pause_channel(self, channel: str, seconds: float) -> None:
        """The server said the whole account is over its limit: nothing goes out on `channel` for `seconds`."""
        state = self._state(channel)
        state.paused_until = max(state.paused_until, self._clock() + max(0.0, seconds))
        if state.bucket is not None:
            state.bucket.tokens = min(state.bucket.tokens, 0.0)  # start slowly after the pause
        self._ensure_dispatcher_if_waiting(state)

    def pause_chat(self, chat_key: str, seconds: float) -> None:
        """The server said this chat is over its limit: nothing goes to it for `seconds`."""
        until = self._clock() + max(0.0, seconds)
        self._chat_paused[chat_key] = max(self._chat_paused.get(chat_key, 0.0), until)
        bucket = self._chats.get(chat_key)
        if bucket is not None:
            bucket.tokens = min(bucket.tokens, 0.0)

    def paused_for(self, channel: str, chat_key: str | None = None) -> float:
        """Seconds until `channel` (and `chat_key`, if given) may send again because of a pause; 0 if not paused."""
        now = self._clock()
        wait = self._channels[channel].paused_until - now if channel in self._channels else 0.0
        if chat_key is not None:
            wait = max(wait, self._chat_paused.get(chat_key, 0.0) - now)
        return max(0.0, wait)

    # --- just-in-time fan-out -------------------------------------------------------------------------------------

    def track_bulk(self, channel: str, key: object) -> None:
        """A bulk message for `channel` is on its way and unsent (idempotent: the same key counts once).

        Keys: `bulk_key(follow_up_id, outbox_id)` — the follow-up claimer tracks `("follow_up", id)` as soon as it
        claims a row, the outbox tracks the same key when it reads the row's message, and forgets it once the
        message was sent or dropped. An entry not forgotten within `BULK_TRACK_TTL` stops counting."""
        self._state(channel).bulk_pending.setdefault(key, self._clock())

    def untrack_bulk(self, channel: str, key: object) -> None:
        """The bulk message was sent or dropped."""
        state = self._channels.get(channel)
        if state is not None:
            state.bulk_pending.pop(key, None)

    def bulk_queued(self, channel: str) -> int:
        """Bulk messages for `channel` known to be on their way and unsent."""
        state = self._channels.get(channel)
        if state is None:
            return 0
        pending = state.bulk_pending
        oldest = self._clock() - BULK_TRACK_TTL
        if pending and next(iter(pending.values())) < oldest:  # insertion order = tracking order
            for key in [key for key, tracked in pending.items() if tracked < oldest]:
                del pending[key]
        return len(pending)

    def bulk_capacity(self, channel: str, horizon_s: float) -> int:
        """How many more bulk messages `channel` can send within `horizon_s` seconds at its rate (what its bucket
        holds above the reserve now, plus the refill; none while paused), minus bulk messages already queued and
        unsent for it. The follow-up claimer claims at most this many unsolicited rows per channel and tick.

        An unlimited channel answers a large fixed number (the claimer's own batch size then bounds it)."""
        limits = self.limits(channel)
        queued = self.bulk_queued(channel)
        if limits.rate <= 0:
            return max(0, 1000 - queued)
        state = self._state(channel)
        now = self._clock()
        usable = max(0.0, horizon_s - max(0.0, state.paused_until - now))
        assert state.bucket is not None
        stock = max(0.0, state.bucket.refill(now) - limits.reserve)
        interactive_waiting = len(state.waiting[INTERACTIVE])
        capacity = math.floor(stock + usable * limits.rate) - interactive_waiting - queued
        return max(0, capacity)

    # --- internals ------------------------------------------------------------------------------------------------

    def _state(self, channel: str) -> _ChannelState:
        state = self._channels.get(channel)
        if state is None:
            limits = self.limits(channel)
            bucket = _Bucket(limits.rate, limits.burst, self._clock()) if limits.rate > 0 else None
            state = self._channels[channel] = _ChannelState(limits, bucket)
        return state

    def _chat_bucket(self, chat_key: str, limits: Limits) -> _Bucket:
        bucket = self._chats.get(chat_key)
        if bucket is None:
            if len(self._chats) > 100_000:  # forget idle chats (a full bucket is the same as a new one)
                now = self._clock()
                self._chats = {k: b for k, b in self._chats.items() if b.refill(now) < b.capacity}
            bucket = self._chats[chat_key] = _Bucket(limits.chat_rate, limits.chat_burst, self._clock())
        return bucket

    async def close(self) -> None:
        """Stop the dispatchers; waiters still queued are cancelled."""
        for state in self._channels.values():
            for queue in state.waiting:
                while queue:
                    queue.popleft().future.cancel()
            if state.dispatcher is not None:
                state.dispatcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await state.dispatcher
                state.dispatcher = None
