"""The runtime on SQLite and PostgreSQL: store → process in one transaction → send, in order, nothing lost."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.channels.base import (
    ChannelStartError,
    ChannelUnreachableError,
    EventSink,
    PermanentFailure,
    RetryLater,
    SentMessage,
    text_event,
)
from bot.config import Config
from bot.runtime import MAX_ATTEMPTS
from bot.storage.db import Database
from handlers.events import Inbound, InboundKind, Outbound
from tests.bot.conftest import RuntimeFactory


@dataclass
class RecordingChannel:
    """An in-process channel: records what the runtime sends; `failures` scripts errors for the next sends."""

    name: str = "test"
    sent: list[tuple[str, Outbound]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    attempts: int = 0

    async def start(self, sink: EventSink) -> None:
        self.sink = sink

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat_id, message))
        return SentMessage((str(len(self.sent)),))

    def to(self, chat_id: str) -> list[Outbound]:
        return [message for chat, message in self.sent if chat == chat_id]


_ids = itertools.count(1)


def event(chat: str, text: str) -> Inbound:
    return text_event("test", chat, chat, f"e{next(_ids)}", text, datetime.now(UTC), "de")


def press(chat: str, payload: str) -> Inbound:
    return Inbound(InboundKind.BUTTON, "test", chat, chat, f"e{next(_ids)}", datetime.now(UTC), payload=payload)


def count_rows(database: Database, table: str) -> int:
    from sqlalchemy import text

    with database.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


async def test_citizen_hears_back_with_consent_buttons(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("1", "/start")])
    await runtime.wait_idle()
    replies = channel.to("1")
    assert replies, "the citizen always hears back"
    assert len(replies[-1].all_buttons()) == 2


async def test_duplicate_delivery_is_processed_once(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    first = event("1", "/start")
    assert await runtime.accept([first]) == [True]
    assert await runtime.accept([first]) == [False]
    await runtime.wait_idle()
    once = len(channel.to("1"))
    await runtime.accept([first])
    await runtime.wait_idle()
    assert len(channel.to("1")) == once
    assert runtime.stats.duplicates == 2


async def test_double_tap_on_consent_advances_once(make_runtime: RuntimeFactory, database: Database) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("1", "/start")])
    await runtime.wait_idle()
    consent = channel.to("1")[-1].all_buttons()[0].payload
    await runtime.accept([press("1", consent), press("1", consent)])
    await runtime.wait_idle()
    assert count_rows(database, "citizens") == 1
    texts = [m.text for m in channel.to("1")]
    # the second tap must not produce a second welcome/menu identical to the first
    assert len(texts) == len(set(texts)) or texts.count(texts[-1]) == 1


async def test_events_stored_before_a_crash_are_processed_after_restart(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    crashed = make_runtime(RecordingChannel())
    # accepted but never processed: the runtime is not running (as if killed right after the inbox commit)
    await crashed.accept([event("7", "/start"), event("7", "/hilfe")])
    assert count_rows(database, "inbound_events") == 2
    channel = RecordingChannel()
    fresh = make_runtime(channel)
    await fresh.start()
    await fresh.wait_idle()
    assert len(channel.to("7")) >= 2


async def test_replies_keep_their_order_when_sending_is_rate_limited(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel(failures=[RetryLater(0.2, "429")])
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("3", "/start")])
    await runtime.accept([event("3", "/hilfe")])
    await runtime.wait_idle()
    await asyncio.sleep(0.5)
    await runtime.wait_idle()
    replies = channel.to("3")
    assert len(replies) >= 2
    assert len(replies[0].all_buttons()) == 2, "the consent notice (first reply) is still delivered first"
    assert channel.attempts == len(channel.sent) + 1


async def test_a_single_reply_told_to_retry_later_is_sent_without_anything_else_waking_its_chat(
    make_runtime: RuntimeFactory,
) -> None:
    channel = RecordingChannel(failures=[RetryLater(0.1, "429")])
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("31", "/start")])
    async with asyncio.timeout(5):
        while not channel.to("31"):
            await asyncio.sleep(0.02)
    assert channel.attempts == 2, "the retry timer woke the chat by itself"


async def test_unsent_messages_survive_a_restart(make_runtime: RuntimeFactory, database: Database) -> None:
    broken = RecordingChannel(failures=[RetryLater(0.05, "network down")] * 3)
    first = make_runtime(broken)
    await first.start()
    await first.accept([event("4", "/start")])
    await first.wait_idle()
    await first.stop()
    assert count_rows(database, "outbox") >= 1
    channel = RecordingChannel()
    second = make_runtime(channel)
    await second.start()
    await asyncio.sleep(0.1)
    await second.wait_idle()
    assert channel.to("4")
    assert count_rows(database, "outbox") == 0, "sent messages are not kept"


async def test_permanent_send_failure_does_not_block_the_chat(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel(failures=[PermanentFailure("blocked")])
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("5", "/start")])
    await runtime.wait_idle()
    await runtime.accept([event("5", "/hilfe")])
    await runtime.wait_idle()
    assert channel.to("5"), "later messages are still sent"


async def test_a_crashing_event_ends_in_an_apology_not_silence(
    make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    import bot.decisions

    calls = 0

    def exploding_core(*args: object) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.decisions, "handle", exploding_core)
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("6", "/start")])
    await runtime.wait_idle()
    assert calls == MAX_ATTEMPTS
    assert len(channel.to("6")) == 1, "the citizen is told something went wrong"
    assert count_rows(database, "citizens") == 0, "nothing half-done is stored"


async def test_unconsented_citizens_are_purged_after_24_hours(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("8", "/start")])
    await runtime.wait_idle()
    assert count_rows(database, "citizens") == 1
    assert (await runtime.housekeeping())["unconsented"] == 0
    runtime.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    assert (await runtime.housekeeping())["unconsented"] == 1
    assert count_rows(database, "citizens") == 0
    assert count_rows(database, "contacts") == 0


async def test_a_failing_event_in_a_shared_transaction_does_not_lose_the_other_chats(
    make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch, database: Database
) -> None:
    import bot.decisions

    real_handle = bot.decisions.handle

    def core_failing_for_chat_13(event: Inbound, *args: Any) -> Any:
        if event.chat_id == "13":
            raise RuntimeError("boom")
        return real_handle(event, *args)

    monkeypatch.setattr(bot.decisions, "handle", core_failing_for_chat_13)
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    chats = [str(n) for n in range(10, 20)]
    await runtime.accept([event(chat, "/start") for chat in chats])  # processed together, one savepoint each
    await runtime.wait_idle()
    for chat in chats:
        replies = channel.to(chat)
        if chat == "13":
            assert len(replies) == 1, "the failing chat gets its apology"
        else:
            assert replies and len(replies[-1].all_buttons()) == 2, f"chat {chat} got its consent notice"
    assert count_rows(database, "citizens") == len(chats) - 1
    assert count_rows(database, "outbox") == 0, "every sent message is deleted"
    assert runtime.stats.failed == MAX_ATTEMPTS


async def test_many_chats_are_answered_in_order_when_their_events_are_batched(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    chats = [str(n) for n in range(100, 140)]
    await runtime.accept([event(chat, "/start") for chat in chats])
    await runtime.accept([event(chat, "/hilfe") for chat in chats])
    await runtime.wait_idle()
    for chat in chats:
        replies = channel.to(chat)
        assert len(replies) >= 2
        assert len(replies[0].all_buttons()) == 2, "the reply to /start comes before the reply to /hilfe"
    assert runtime.stats.processed == 2 * len(chats)


async def test_a_new_privacy_notice_is_agreed_again_and_nothing_stored_is_lost_meanwhile(
    make_runtime: RuntimeFactory, config: Config, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await runtime.accept([event("9", "/start")])
    await runtime.wait_idle()
    await runtime.accept([press("9", "consent:yes")])
    await runtime.wait_idle()
    await runtime.accept([event("9", "/idee Mehr Trinkbrunnen in der Innenstadt")])
    await runtime.wait_idle()
    umwelt = next(b.payload for b in channel.to("9")[-1].all_buttons() if b.payload.startswith("f:umwelt:"))
    await runtime.accept([press("9", umwelt)])
    await runtime.wait_idle()
    await runtime.stop()
    assert count_rows(database, "ideas") == 1

    # The city publishes a new privacy notice (STADTDIALOG_CONSENT_VERSION raised by one).
    channel = RecordingChannel()
    newer = str(int(config.consent_version) + 1)
    runtime = make_runtime(channel, replace(config, consent_version=newer))  # stopped by the fixture
    await runtime.start()
    await runtime.accept([event("9", "/idee Noch eine Idee")])
    await runtime.wait_idle()
    assert "Datenschutzhinweise haben sich geändert" in channel.to("9")[-1].text
    assert count_rows(database, "ideas") == 1, "nothing new before the new notice is agreed to"
    runtime.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    assert (await runtime.housekeeping())["unconsented"] == 0, "earlier consent: not purged"
    assert count_rows(database, "ideas") == 1
    await runtime.accept([press("9", "consent:yes")])
    await runtime.wait_idle()
    with database.engine.connect() as connection:
        from sqlalchemy import text

        versions = connection.execute(text("SELECT consent_version FROM citizens")).scalars().all()
    assert versions == [newer]


@dataclass
class UnreachableChannel(RecordingChannel):
    """A channel whose server answers only from the `reachable_after`-th start on (then: `then` if set)."""

    reachable_after: int = 3
    then: Exception | None = None
    starts: int = 0

    async def start(self, sink: EventSink) -> None:
        self.starts += 1
        if self.starts < self.reachable_after:
            raise ChannelUnreachableError("connection refused")
        if self.then is not None:
            raise self.then
        await super().start(sink)


async def test_a_channel_unreachable_at_start_is_retried_and_its_replies_wait_in_the_outbox(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    flaky = UnreachableChannel(name="flaky", reachable_after=3)
    steady = RecordingChannel()
    runtime = make_runtime(steady)
    runtime.add_channel(flaky)
    runtime.start_retry_first = 0.05
    await runtime.start()  # does not raise: the steady channel serves meanwhile
    assert list(runtime.ready) == ["test"]
    await runtime.accept([event("10", "/start")])
    await runtime.accept([text_event("flaky", "20", "20", "f1", "/start", datetime.now(UTC), "de")])
    await runtime.wait_idle()
    assert steady.to("10"), "the other channel answers while one is down"
    assert count_rows(database, "outbox") == 1, "the reply for the unreachable channel waits, stored"
    async with asyncio.timeout(5):
        while not flaky.to("20"):
            await asyncio.sleep(0.02)
    assert flaky.starts == 3 and "flaky" in runtime.ready
    await runtime.wait_idle()
    assert count_rows(database, "outbox") == 0


async def test_a_channel_refusing_its_credentials_after_a_retry_stops_the_bot(make_runtime: RuntimeFactory) -> None:
    flaky = UnreachableChannel(name="flaky", reachable_after=2, then=ChannelStartError("token refused"))
    runtime = make_runtime(flaky)
    runtime.start_retry_first = 0.01
    await runtime.start()
    async with asyncio.timeout(5):
        await runtime.fatal.wait()
    assert str(runtime.fatal_error) == "token refused"
