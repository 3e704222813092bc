"""The send pacer: budgets per channel and chat, pauses on rate-limit answers, interactive replies first.

Time is virtual: `VirtualTime.sleep` parks a coroutine until a test moves the clock with `advance`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from types import SimpleNamespace

import pytest

from bot.outbox import RateLimitWatch
from bot.pacing import BULK, BULK_TRACK_TTL, INTERACTIVE, Limits, SendPacer, bulk_key


class VirtualTime:
    """A monotonic clock and a sleep that only return when `advance` moves past their wake-up time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, step: float = 0.01) -> None:
        """Move time forward in small steps, waking sleepers as their time comes (like a real clock would)."""
        end = self.now + seconds
        await self.settle()
        while self.now < end - 1e-9:
            self.now = min(end, self.now + step)
            while self._sleepers and self._sleepers[0][0] <= self.now + 1e-9:
                _, _, future = heapq.heappop(self._sleepers)
                if not future.done():
                    future.set_result(None)
            await self.settle()


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def pacer_for(vt: VirtualTime, **limits: Limits) -> SendPacer:
    return SendPacer(dict(limits), clock=vt.clock, sleep=vt.sleep)


async def send_all(pacer: SendPacer, jobs: list[tuple[str, int]], vt: VirtualTime, log: list[tuple[str, float]],
                   channel: str = "telegram") -> None:
    async def one(chat: str, priority: int) -> None:
        await pacer.acquire(channel, chat, priority)
        log.append((chat, vt.now))

    await asyncio.gather(*(one(chat, priority) for chat, priority in jobs))


async def test_a_channel_without_limits_never_waits(vt: VirtualTime) -> None:
    pacer = pacer_for(vt)
    for index in range(1000):
        await asyncio.wait_for(pacer.acquire("terminal", f"terminal:{index}", BULK), 1)
    assert pacer.granted == [0, 1000]


async def test_overall_rate_is_kept_across_chats(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30))
    log: list[tuple[str, float]] = []
    task = asyncio.create_task(send_all(pacer, [(f"telegram:{i}", INTERACTIVE) for i in range(120)], vt, log))
    await vt.advance(3.05)
    await asyncio.wait_for(task, 1)
    started = 1000.0
    # the burst of 30 at once, then 30 per second
    assert sum(1 for _, t in log if t <= started + 0.001) == 30
    assert len(log) == 120
    assert max(t for _, t in log) == pytest.approx(started + 3.0, abs=0.02)
    for second in range(1, 4):
        within = sum(1 for _, t in log if started + second - 1 < t <= started + second + 1e-6)
        assert within <= 31


async def test_one_chat_gets_at_most_its_own_rate_after_a_short_burst(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30, chat_rate=1, chat_burst=3))
    times: list[float] = []

    async def chat_worker() -> None:
        for _ in range(6):
            await pacer.acquire("telegram", "telegram:7", INTERACTIVE)
            times.append(vt.now)

    task = asyncio.create_task(chat_worker())
    await vt.advance(3.5)
    await asyncio.wait_for(task, 1)
    assert times[:3] == [1000.0] * 3
    gaps = [b - a for a, b in itertools.pairwise(times[2:])]
    assert all(gap == pytest.approx(1.0, abs=0.02) for gap in gaps)


async def test_a_message_sent_in_several_parts_costs_as_many_messages(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(10, 10, chat_rate=1, chat_burst=3))
    await pacer.acquire("telegram", "telegram:1", INTERACTIVE, cost=10)  # a long text in ten parts
    log: list[tuple[str, float]] = []
    task = asyncio.create_task(send_all(pacer, [("telegram:2", INTERACTIVE)], vt, log))
    await vt.advance(0.05)
    assert log == []  # the channel's whole second went to the ten parts
    await vt.advance(0.1)
    await asyncio.wait_for(task, 1)
    times: list[float] = []

    async def same_chat() -> None:
        await pacer.acquire("telegram", "telegram:1", INTERACTIVE)
        times.append(vt.now)

    follow = asyncio.create_task(same_chat())
    await vt.advance(8.5)
    await asyncio.wait_for(follow, 1)
    assert times[0] >= 1000.0 + 8.0 - 0.02  # the chat's debt: 10 parts, burst 3 → 8 s at 1/s


async def test_interactive_replies_overtake_a_bulk_backlog(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(10, 10))
    log: list[tuple[str, float]] = []
    bulk = asyncio.create_task(send_all(pacer, [(f"telegram:b{i}", BULK) for i in range(100)], vt, log))
    await vt.advance(1.0)
    sent_before = len(log)
    reply = asyncio.create_task(send_all(pacer, [("telegram:citizen", INTERACTIVE)], vt, log))
    await vt.advance(0.15)
    assert reply.done(), "the reply waited behind the broadcast"
    position = [chat for chat, _ in log].index("telegram:citizen")
    assert position <= sent_before + 1  # at most the one bulk message already granted went first
    bulk.cancel()
    await asyncio.gather(bulk, return_exceptions=True)
    await pacer.close()


async def test_bulk_leaves_a_reserve_so_a_reply_goes_out_at_once(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30))
    assert pacer.limits("telegram").reserve == 6
    log: list[tuple[str, float]] = []
    bulk = asyncio.create_task(send_all(pacer, [(f"telegram:b{i}", BULK) for i in range(200)], vt, log))
    await vt.advance(2.0)
    when = vt.now
    await asyncio.wait_for(pacer.acquire("telegram", "telegram:citizen", INTERACTIVE), 0.5)  # no time passes
    assert vt.now == when
    bulk.cancel()
    await asyncio.gather(bulk, return_exceptions=True)
    await pacer.close()


async def test_bulk_alone_still_gets_the_whole_rate(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30))
    log: list[tuple[str, float]] = []
    task = asyncio.create_task(send_all(pacer, [(f"telegram:b{i}", BULK) for i in range(324)], vt, log))
    await vt.advance(10.05)
    await asyncio.wait_for(task, 1)
    # 24 from the bucket (its reserve of 6 stays), then 30/s
    assert max(t for _, t in log) - 1000.0 == pytest.approx(10.0, abs=0.05)


async def test_bulk_waiters_are_served_first_come_first_served(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, matrix=Limits(1, 1))
    log: list[tuple[str, float]] = []
    jobs = [(f"matrix:!room{i}", BULK) for i in range(5)]
    task = asyncio.create_task(send_all(pacer, jobs, vt, log, channel="matrix"))
    await vt.advance(5.0)
    await asyncio.wait_for(task, 1)
    assert [chat for chat, _ in log] == [chat for chat, _ in jobs]


async def test_a_paused_channel_sends_nothing_until_the_pause_ends(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, matrix=Limits(0.2, 10))
    pacer.pause_channel("matrix", 5.0)
    assert pacer.paused_for("matrix") == 5.0
    log: list[tuple[str, float]] = []
    task = asyncio.create_task(send_all(pacer, [("matrix:!a", INTERACTIVE), ("matrix:!b", BULK)], vt, log, "matrix"))
    await vt.advance(4.9)
    assert log == []
    await vt.advance(20.0)
    await asyncio.wait_for(task, 1)
    assert [chat for chat, _ in log] == ["matrix:!a", "matrix:!b"]
    assert all(t >= 1005.0 for _, t in log)


async def test_a_paused_chat_waits_while_other_chats_go_on(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30, chat_rate=1, chat_burst=3))
    pacer.pause_chat("telegram:1", 3.0)
    log: list[tuple[str, float]] = []
    task = asyncio.create_task(send_all(pacer, [("telegram:1", BULK), ("telegram:2", BULK)], vt, log))
    await vt.advance(0.1)
    assert [chat for chat, _ in log] == ["telegram:2"]
    await vt.advance(3.0)
    await asyncio.wait_for(task, 1)
    assert log[1][0] == "telegram:1" and log[1][1] >= 1003.0


async def test_a_cancelled_waiter_gives_its_turn_to_the_next(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, matrix=Limits(1, 1))
    await pacer.acquire("matrix", "matrix:!first", BULK)
    doomed = asyncio.create_task(pacer.acquire("matrix", "matrix:!doomed", BULK))
    log: list[tuple[str, float]] = []
    later = asyncio.create_task(send_all(pacer, [("matrix:!next", BULK)], vt, log, "matrix"))
    await vt.settle()
    doomed.cancel()
    await vt.advance(1.1)
    await asyncio.wait_for(later, 1)
    assert [chat for chat, _ in log] == ["matrix:!next"]
    assert log[0][1] == pytest.approx(1001.0, abs=0.02)


def test_bulk_capacity_is_what_the_rate_allows_minus_what_is_queued(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30))
    # a full bucket above the reserve (24) and 30/s for 5 s
    assert pacer.bulk_capacity("telegram", 5.0) == 24 + 150
    for item in range(100):
        pacer.track_bulk("telegram", item)
    pacer.track_bulk("telegram", 5)  # the same message again counts once
    assert pacer.bulk_capacity("telegram", 5.0) == 74
    for item in range(50):
        pacer.untrack_bulk("telegram", item)
    assert pacer.bulk_capacity("telegram", 5.0) == 124
    pacer.pause_channel("telegram", 10.0)
    assert pacer.bulk_capacity("telegram", 5.0) == 0


def test_a_tracked_bulk_message_stops_counting_after_a_while(vt: VirtualTime) -> None:
    pacer = pacer_for(vt, telegram=Limits(30, 30))
    pacer.track_bulk("telegram", bulk_key(7))  # claimed, but the core held it: nobody untracks it
    assert pacer.bulk_queued("telegram") == 1
    vt.now += BULK_TRACK_TTL + 1
    assert pacer.bulk_queued("telegram") == 0


def test_bulk_capacity_of_an_unlimited_channel_is_large_but_finite(vt: VirtualTime) -> None:
    pacer = pacer_for(vt)
    assert 0 < pacer.bulk_capacity("terminal", 5.0) <= 1000


def test_limits_come_from_the_configuration(vt: VirtualTime) -> None:
    config = SimpleNamespace(telegram_rate=30.0, telegram_chat_rate=1.0, matrix_rate=0.2)
    pacer = SendPacer.from_config(config, clock=vt.clock, sleep=vt.sleep)
    assert pacer.limits("telegram") == Limits(30.0, 30.0, 1.0, 3.0)
    assert pacer.limits("matrix") == Limits(0.2, 10.0)
    assert pacer.limits("terminal").rate == 0
    exempt = SendPacer.from_config(SimpleNamespace(telegram_rate=0, telegram_chat_rate=0, matrix_rate=0))
    assert exempt.limits("matrix").rate == 0 and exempt.limits("telegram").chat_rate == 0


def test_a_429_counts_as_global_only_when_several_chats_are_refused_with_no_success_between() -> None:
    now = [0.0]
    watch = RateLimitWatch(clock=lambda: now[0])
    assert not watch.refused("telegram", "telegram:1")
    now[0] = 0.1
    assert not watch.refused("telegram", "telegram:1")  # the same chat again: its own limit
    now[0] = 0.2
    assert not watch.refused("telegram", "telegram:2")
    now[0] = 0.3
    assert watch.refused("telegram", "telegram:3")  # three chats within a second: the whole bot
    assert not watch.refused("matrix", "matrix:!a")  # channels are judged separately
    now[0] = 0.4
    watch.succeeded("telegram")  # others get through: back to per-chat limits
    now[0] = 0.5
    assert not watch.refused("telegram", "telegram:4")
    now[0] = 2.0
    assert not watch.refused("telegram", "telegram:5")
    assert not watch.refused("telegram", "telegram:6")  # telegram:4 was refused too long ago
