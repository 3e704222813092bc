"""The outbox with its send pacer on SQLite and PostgreSQL: delivery finishes follow-up rows, rate limits pause
without losing anything, an unreachable citizen's queue is dropped and their follow-ups skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select

from bot.channels.base import RATE_LIMIT_CHANNEL, RATE_LIMIT_CHAT, RecipientUnreachableError, RetryLater
from bot.outbox import MAX_SEND_ATTEMPTS
from bot.runtime import Runtime
from bot.storage import models as m
from bot.storage.items import FOLLOW_UP_QUEUED, PRIORITY_BULK, PRIORITY_INTERACTIVE
from handlers.events import CitizenState, Outbound
from tests.bot.conftest import RuntimeFactory
from tests.bot.test_runtime import RecordingChannel


def queue(runtime: Runtime, chat: str, texts: Sequence[str], priority: int = PRIORITY_BULK) -> list[int]:
    """A consented citizen in `chat` of the test channel with `texts` queued, each bulk one delivering a
    follow_ups row; returns those rows' ids."""
    now = datetime.now(UTC)
    citizen = f"citizen-{chat}"
    ids: list[int] = []
    with runtime.db.unit_of_work() as uow:
        if not uow.citizens.exists(citizen):
            uow.citizens.save_state(citizen, CitizenState(consent_version="2", consent_at=now), now)
            uow.contacts.upsert(citizen, "test", chat, chat)
        for text in texts:
            follow_up_id = None
            if priority == PRIORITY_BULK:
                follow_up_id = uow.follow_ups.add(citizen, now, "invitation", {}, now=now)
                uow.follow_ups.finish(follow_up_id, FOLLOW_UP_QUEUED, None, now)
                ids.append(follow_up_id)
            uow.outbox.enqueue("test", chat, Outbound(text).to_dict(), now=now, priority=priority,
                               follow_up_id=follow_up_id)
    return ids


def rows(runtime: Runtime, ids: Sequence[int]) -> list[tuple[str, str | None]]:
    with runtime.db.unit_of_work(read_only=True) as uow:
        found = uow.session.execute(
            select(m.FollowUp.status, m.FollowUp.outcome).where(m.FollowUp.id.in_(ids)).order_by(m.FollowUp.id)
        ).all()
    return [(row.status, row.outcome) for row in found]


def unreachable_at(runtime: Runtime, chat: str) -> datetime | None:
    with runtime.db.unit_of_work(read_only=True) as uow:
        return uow.session.execute(
            select(m.Contact.unreachable_at).where(m.Contact.channel == "test", m.Contact.chat_id == chat)
        ).scalar_one()


async def drained(runtime: Runtime, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            with runtime.db.unit_of_work(read_only=True) as uow:
                if uow.outbox.pending_count() == 0 and not runtime.outbox.workers:
                    return
            await asyncio.sleep(0.02)


async def test_a_delivered_bulk_message_marks_its_follow_up_sent(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    ids = queue(runtime, "1", ["Einladung", "Erinnerung"])
    await runtime.resume_pending()
    await drained(runtime)
    assert [message.text for message in channel.to("1")] == ["Einladung", "Erinnerung"]
    assert rows(runtime, ids) == [("done", "sent"), ("done", "sent")]


async def test_a_rate_limited_message_waits_as_long_as_it_takes_and_is_never_given_up(
    make_runtime: RuntimeFactory,
) -> None:
    storm = [RetryLater(0.01, "rate_limited", rate_limit=RATE_LIMIT_CHAT)] * (MAX_SEND_ATTEMPTS + 3)
    channel = RecordingChannel(failures=list(storm))
    runtime = make_runtime(channel)
    await runtime.start()
    ids = queue(runtime, "2", ["Einladung", "Erinnerung"])
    await runtime.resume_pending()
    await drained(runtime, timeout=20)
    assert [message.text for message in channel.to("2")] == ["Einladung", "Erinnerung"]
    assert rows(runtime, ids) == [("done", "sent"), ("done", "sent")]
    assert runtime.stats.rate_limited == len(storm) and runtime.stats.send_failures == 0


async def test_waiting_for_a_rate_limit_is_no_failed_attempt(make_runtime: RuntimeFactory) -> None:
    storm = [RetryLater(0.01, "rate_limited", rate_limit=RATE_LIMIT_CHAT)] * (MAX_SEND_ATTEMPTS + 1)
    network = [RetryLater(0.01, "NetworkError")] * (MAX_SEND_ATTEMPTS - 2)
    channel = RecordingChannel(failures=[*storm, *network])
    runtime = make_runtime(channel)
    await runtime.start()
    queue(runtime, "6", ["Einladung"])
    await runtime.resume_pending()
    await drained(runtime, timeout=20)
    assert [message.text for message in channel.to("6")] == ["Einladung"], "given up after the rate limits"


async def test_a_channel_wide_rate_limit_pauses_every_chat_of_the_channel(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel(failures=[RetryLater(0.6, "send_rate_limited", rate_limit=RATE_LIMIT_CHANNEL)])
    runtime = make_runtime(channel)
    await runtime.start()
    queue(runtime, "3", ["an drei"])
    await runtime.resume_pending()
    async with asyncio.timeout(5):
        while channel.attempts == 0:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert runtime.pacer is not None and runtime.pacer.paused_for("test") > 0.3
    queue(runtime, "4", ["an vier"], priority=PRIORITY_INTERACTIVE)
    await runtime.resume_pending()
    await asyncio.sleep(0.2)
    assert channel.sent == [], "another chat went out while the whole channel was paused"
    await drained(runtime)
    assert sorted(chat for chat, _ in channel.sent) == ["3", "4"]


async def test_an_unreachable_citizen_is_marked_and_their_queue_dropped(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel(failures=[RecipientUnreachableError("blocked")])
    runtime = make_runtime(channel)
    await runtime.start()
    ids = queue(runtime, "5", ["Einladung", "Erinnerung"])
    queue(runtime, "5", ["Antwort"], priority=PRIORITY_INTERACTIVE)
    await runtime.resume_pending()
    await drained(runtime)
    assert channel.sent == [] and channel.attempts == 1
    assert rows(runtime, ids) == [("skipped", "unreachable"), ("skipped", "unreachable")]
    assert unreachable_at(runtime, "5") is not None
    assert runtime.stats.unreachable == 1
    assert runtime.pacer is not None and runtime.pacer.bulk_queued("test") == 0
