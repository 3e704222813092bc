"""Messages that can never be sent and events that cannot be stored: the chat goes on, nothing stalls for ever.

A crafted client can send text with a lone UTF-16 surrogate; a send can fail in ways no channel foresaw. Such a
message ends as a dead letter (outbox status "failed") after the usual attempts, the chat's later messages go
ahead, staff see the count, citizens see it in /meinedaten, and it is deleted with the citizen or after a week.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from bot.outbox import MAX_SEND_ATTEMPTS
from bot.runtime import DEAD_LETTER_RETENTION, Runtime
from bot.storage.db import Database
from handlers.events import Inbound, InboundKind
from tests.bot.conftest import RuntimeFactory
from tests.bot.test_runtime import RecordingChannel, count_rows, event, press


def dead_letters(database: Database) -> int:
    with database.unit_of_work(read_only=True) as uow:
        return uow.outbox.failed_count()


def unencodable() -> UnicodeEncodeError:
    return UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


async def consented(runtime: Runtime, chat: str) -> None:
    await runtime.accept([event(chat, "/start")])
    await runtime.wait_idle()
    await runtime.accept([press(chat, "consent:yes")])
    await runtime.wait_idle()


async def until_dead_letters(database: Database, count: int) -> None:
    async with asyncio.timeout(10):
        while dead_letters(database) < count:
            await asyncio.sleep(0.02)


async def a_dead_letter_for(runtime: Runtime, channel: RecordingChannel, chat: str) -> None:
    """Consent, then a reply whose send raises an exception no channel error class covers, every time."""
    await consented(runtime, chat)
    runtime.outbox.unexpected_retry_delay = 0.01
    before = dead_letters(runtime.db)
    channel.failures = [unencodable() for _ in range(MAX_SEND_ATTEMPTS)]
    await runtime.accept([event(chat, "/hilfe")])
    await until_dead_letters(runtime.db, before + 1)
    await runtime.wait_idle()


async def test_a_send_that_keeps_raising_an_unexpected_error_ends_as_a_dead_letter_and_the_chat_goes_on(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await a_dead_letter_for(runtime, channel, "40")
    assert not channel.failures, f"tried {MAX_SEND_ATTEMPTS} times, then given up"
    before = len(channel.to("40"))
    await runtime.accept([event("40", "/hilfe")])
    await runtime.wait_idle()
    assert len(channel.to("40")) > before, "the chat's later messages reach the citizen"
    assert dead_letters(database) == 1
    assert runtime.stats.send_failures == 1


async def test_an_event_the_database_cannot_store_is_cleaned_and_does_not_hold_up_the_others(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    now = datetime.now(UTC)
    # As a channel that forgot `clean_inbound` would hand it over: the event id cannot be encoded for the database.
    poison = Inbound(InboundKind.COMMAND, "test", "41", "41", "p\ud800", now, text="/start\x00", command="start")
    fine = event("42", "/start")
    assert await runtime.accept([poison, fine], cursor=("test:offset", "7")) == [True, True]
    await runtime.wait_idle()
    assert channel.to("41") and channel.to("42"), "both citizens are answered"
    assert await runtime.load_cursor("test:offset") == "7", "the channel's position moved on"
    assert count_rows(database, "inbound_events") == 2


async def test_housekeeping_purges_dead_letters_after_their_retention(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await a_dead_letter_for(runtime, channel, "43")
    assert (await runtime.housekeeping())["dead_letters"] == 0, "kept for staff and the citizen for a while"
    runtime.clock = lambda: datetime.now(UTC) + DEAD_LETTER_RETENTION + timedelta(minutes=1)
    assert (await runtime.housekeeping())["dead_letters"] == 1
    assert dead_letters(database) == 0


async def test_my_data_lists_undelivered_messages(make_runtime: RuntimeFactory) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await a_dead_letter_for(runtime, channel, "44")
    await runtime.accept([event("44", "/meinedaten")])
    await runtime.wait_idle()
    export = channel.to("44")[-1]
    assert export.document is not None
    assert "nicht zugestellt werden konnten: 1" in export.text
    (undelivered,) = json.loads(export.document.content)["undelivered"]
    assert undelivered["text"] and undelivered["created_at"], "the file holds the undelivered message itself"


async def test_deleting_everything_removes_the_dead_letters_and_the_goodbye_still_goes_out(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    await a_dead_letter_for(runtime, channel, "45")
    await a_dead_letter_for(runtime, channel, "46")  # another citizen's stays
    await runtime.accept([event("45", "/loeschen")])
    await runtime.wait_idle()
    await runtime.accept([press("45", "del:yes")])
    await runtime.wait_idle()
    assert "gelöscht" in channel.to("45")[-1].text, "the goodbye is sent"
    assert dead_letters(database) == 1
    with database.engine.connect() as connection:
        keys = connection.execute(text("SELECT chat_key FROM outbox")).scalars().all()
    assert keys == ["test:46"]
