"""Paced sending on Telegram, with the whole bot against the test Bot API server enforcing Telegram's limits:
a 429 storm costs nothing, a blocked citizen is marked unreachable, and replies overtake a broadcast."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.identity import pseudonym
from bot.runtime import Runtime
from bot.storage import models as m
from bot.storage.items import FOLLOW_UP_QUEUED, PRIORITY_BULK
from handlers.events import CitizenState, Outbound
from tests.e2e.scenarios import TelegramBot, say
from tests.e2e.telegram_api import TelegramApiServer, User

pytestmark = pytest.mark.e2e


@pytest.fixture
async def limited_api() -> AsyncIterator[TelegramApiServer]:
    """The test Bot API server refusing what Telegram refuses: > 10 messages/s overall (quicker tests than 30),
    > 1 message/s per chat after a burst of 3."""
    async with TelegramApiServer(enforce_rate_limits=True, overall_rate=10) as server:
        yield server


async def start_bot(
    server: TelegramApiServer, tmp_path: Path, telegram_rate: float = 30.0, telegram_chat_rate: float = 1.0
) -> TelegramBot:
    harness = TelegramBot(server, tmp_path)
    harness.config = replace(harness.config, telegram_rate=telegram_rate, telegram_chat_rate=telegram_chat_rate)
    await harness.start()
    return harness


def enqueue_bulk(runtime: Runtime, user: User, texts: Sequence[str], *, follow_ups: bool = True) -> list[int]:
    """A consented citizen behind `user` with `texts` queued as bulk messages (each one delivering its own
    follow_ups row, as the runtime queues invitations); returns the follow_ups ids."""
    now = datetime.now(UTC)
    citizen = pseudonym(runtime.config.pseudonym_secret, "telegram", str(user.id))
    ids: list[int] = []
    with runtime.db.unit_of_work() as uow:
        if not uow.citizens.exists(citizen):
            uow.citizens.save_state(citizen, CitizenState(consent_version="1", consent_at=now), now)
            uow.contacts.upsert(citizen, "telegram", str(user.id), str(user.id))
        for text in texts:
            follow_up_id = None
            if follow_ups:
                follow_up_id = uow.follow_ups.add(citizen, now, "invitation", {"survey_key": "x"}, now=now)
                uow.follow_ups.finish(follow_up_id, FOLLOW_UP_QUEUED, None, now)
                ids.append(follow_up_id)
            uow.outbox.enqueue("telegram", str(user.id), Outbound(text).to_dict(), now=now, priority=PRIORITY_BULK,
                               follow_up_id=follow_up_id)
    return ids


def follow_up_rows(runtime: Runtime, ids: Sequence[int]) -> list[tuple[str, str | None, bool]]:
    with runtime.db.unit_of_work(read_only=True) as uow:
        rows = uow.session.execute(
            select(m.FollowUp.status, m.FollowUp.outcome, m.FollowUp.sent_at).where(m.FollowUp.id.in_(ids))
            .order_by(m.FollowUp.id)
        ).all()
    return [(row.status, row.outcome, row.sent_at is not None) for row in rows]


async def outbox_drained(runtime: Runtime, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with runtime.db.unit_of_work(read_only=True) as uow:
            if uow.outbox.pending_count() == 0 and not runtime.outbox.workers:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the outbox did not drain")
        await asyncio.sleep(0.05)


async def test_a_429_storm_is_ridden_out_without_loss_duplicates_or_reordering(
    limited_api: TelegramApiServer, tmp_path: Path
) -> None:
    # The bot believes it may send far faster than the server allows: nearly every burst is refused.
    bot = await start_bot(limited_api, tmp_path, telegram_rate=200.0, telegram_chat_rate=0.0)
    try:
        assert bot.runtime is not None
        users = [limited_api.add_user() for _ in range(12)]
        expected: dict[int, list[str]] = {}
        follow_ups: list[int] = []
        for user in users:
            limited_api.open_chat(user)
            expected[user.id] = [f"Nachricht {n} an {user.id}" for n in range(6)]
            follow_ups += enqueue_bulk(bot.runtime, user, expected[user.id])
        await bot.runtime.resume_pending()
        await outbox_drained(bot.runtime, timeout=60)
        assert limited_api.http_429 > 0, "the storm did not happen"
        for user in users:
            assert [msg.text for msg in limited_api.messages_to(user)] == expected[user.id]
        assert follow_up_rows(bot.runtime, follow_ups) == [("done", "sent", True)] * len(follow_ups)
        assert bot.runtime.stats.rate_limited > 0 and bot.runtime.stats.send_failures == 0
    finally:
        await bot.stop()


async def test_the_pacer_keeps_within_telegrams_limits(limited_api: TelegramApiServer, tmp_path: Path) -> None:
    bot = await start_bot(limited_api, tmp_path, telegram_rate=10.0, telegram_chat_rate=1.0)
    try:
        assert bot.runtime is not None
        users = [limited_api.add_user() for _ in range(8)]
        for user in users:
            limited_api.open_chat(user)
            enqueue_bulk(bot.runtime, user, [f"Teil {n}" for n in range(4)], follow_ups=False)
        await bot.runtime.resume_pending()
        await outbox_drained(bot.runtime, timeout=30)
        assert sum(len(limited_api.messages_to(user)) for user in users) == 32
        assert limited_api.http_429 == 0
    finally:
        await bot.stop()


async def test_a_blocked_citizen_is_marked_unreachable_and_their_follow_ups_skipped(
    limited_api: TelegramApiServer, tmp_path: Path
) -> None:
    bot = await start_bot(limited_api, tmp_path)
    try:
        runtime = bot.runtime
        assert runtime is not None
        blocked, reachable = limited_api.add_user(), limited_api.add_user()
        for user in (blocked, reachable):
            limited_api.open_chat(user)
        limited_api.block(blocked)
        skipped = enqueue_bulk(runtime, blocked, ["Einladung", "Erinnerung"])
        sent = enqueue_bulk(runtime, reachable, ["Einladung"])
        await runtime.resume_pending()
        await outbox_drained(runtime)
        assert limited_api.messages_to(blocked) == []
        assert [msg.text for msg in limited_api.messages_to(reachable)] == ["Einladung"]
        assert follow_up_rows(runtime, skipped) == [("skipped", "unreachable", False)] * 2
        assert follow_up_rows(runtime, sent) == [("done", "sent", True)]
        # one refused send is enough: the second message was dropped without trying it
        assert len([c for c in limited_api.calls_to("sendMessage") if c.status == 403]) == 1
        citizen = bot.pseudonym(bot.chat(user=blocked))
        with runtime.db.unit_of_work(read_only=True) as uow:
            (contact,) = uow.session.execute(select(m.Contact).where(m.Contact.citizen_id == citizen)).scalars()
            assert contact.unreachable_at is not None
        # writing again makes the citizen reachable again
        limited_api.unblock(blocked)
        chat = bot.chat(user=blocked)
        await say(chat, "/start")
        with runtime.db.unit_of_work(read_only=True) as uow:
            (contact,) = uow.session.execute(select(m.Contact).where(m.Contact.citizen_id == citizen)).scalars()
            assert contact.unreachable_at is None
    finally:
        await bot.stop()


async def test_a_reply_overtakes_a_broadcast_backlog(limited_api: TelegramApiServer, tmp_path: Path) -> None:
    bot = await start_bot(limited_api, tmp_path, telegram_rate=10.0, telegram_chat_rate=1.0)
    try:
        runtime = bot.runtime
        assert runtime is not None
        audience = [limited_api.add_user() for _ in range(80)]
        for user in audience:
            limited_api.open_chat(user)
            enqueue_bulk(runtime, user, ["Neue Umfrage"], follow_ups=False)
        await runtime.resume_pending()
        audience_ids = {str(user.id) for user in audience}

        def bulk_sent() -> int:
            calls = limited_api.calls_to("sendMessage")
            return sum(1 for c in calls if c.ok and str(c.params["chat_id"]) in audience_ids)

        await limited_api.wait_for(lambda: bulk_sent() >= 15, timeout=10)
        citizen = limited_api.add_user()
        before = bulk_sent()
        limited_api.send_text(citizen, "/start")
        await limited_api.wait_for(lambda: bool(limited_api.messages_to(citizen)), timeout=10)
        during = bulk_sent() - before
        # at 10 messages/s, only what went out while the bot received and processed the update
        assert during <= 3, f"{during} bulk messages went out before the reply"
        assert bulk_sent() <= 40, "the reply came only after most of the broadcast"
        await outbox_drained(runtime, timeout=30)
        assert bulk_sent() == 80 and limited_api.http_429 == 0
    finally:
        await bot.stop()
