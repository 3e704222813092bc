"""The citizen's side of outreach through the real runtime and database (SQLite and PostgreSQL): opt-ins with
proof, /pause and /stop stored; a survey's follow-up offered at its end, asked after the clock advanced, and its
answer stored with the original response."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.config import Config
from bot.identity import pseudonym
from bot.runtime import Runtime
from bot.storage.db import Database
from handlers.events import Inbound, InboundKind
from tests.bot.conftest import RuntimeFactory
from tests.bot.test_runtime import RecordingChannel, event, press


def rows(database: Database, query: str) -> list[tuple[object, ...]]:
    with database.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(query))]


async def test_abo_pause_and_stop_are_stored_with_proof(make_runtime: RuntimeFactory, database: Database) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    await runtime.start()
    for inbound in (event("7", "/start"), press("7", "consent:yes"), event("7", "/abo"), press("7", "ab:followups:on")):
        await runtime.accept([inbound])
        await runtime.wait_idle()
    assert "Eingeschaltet: kurze Nachfragen" in channel.to("7")[-1].text
    assert rows(database, "SELECT topic, source, withdrawn_at FROM opt_ins") == [("followups", "abo", None)]

    await runtime.accept([event("7", "/pause 2 Wochen")])
    await runtime.wait_idle()
    assert "Bis zum" in channel.to("7")[-1].text
    assert rows(database, "SELECT paused_until IS NOT NULL FROM citizens") in ([(True,)], [(1,)])

    await runtime.accept([event("7", "/stop")])
    await runtime.wait_idle()
    assert rows(database, "SELECT withdrawn_at IS NOT NULL FROM opt_ins") in ([(True,)], [(1,)])


async def test_a_survey_follow_up_is_offered_asked_later_and_answered_into_the_response(
    make_runtime: RuntimeFactory, config: Config, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel, replace(config, quiet_hours=None))
    start = datetime.now(UTC)
    runtime.clock = lambda: start
    await runtime.start()
    steps = [
        event("8", "/start"),
        press("8", "consent:yes"),
        event("8", "/umfragen"),
        press("8", "s:mobilitaet-quartier"),
        press("8", "a:bezirk:vohwinkel"),
        press("8", "t:unterwegs:bus"),
        press("8", "d:unterwegs"),
        press("8", "a:oepnv_zufrieden:2"),  # dissatisfied: the follow-up's condition holds
        event("8", "3"),
        press("8", "a:mehr_rad:no"),
        press("8", "k:verbesserung"),
    ]
    for inbound in steps:
        await runtime.accept([inbound])
        await runtime.wait_idle()
    offer = channel.to("8")[-1]
    assert "Darf ich Sie in 14 Tagen noch einmal kurz fragen" in offer.text
    yes = next(b.payload for b in offer.all_buttons() if b.payload.startswith("fa:yes:"))
    await runtime.accept([press("8", yes)])
    await runtime.wait_idle()
    assert rows(database, "SELECT topic, source FROM opt_ins") == [("followups", "survey_end")]
    assert await runtime.feed_due_follow_ups() == 0, "not due yet"

    runtime.clock = lambda: start + timedelta(days=15)
    assert await runtime.feed_due_follow_ups() == 1
    await runtime.wait_idle()
    question = channel.to("8")[-1]
    assert "Vor etwa zwei Wochen" in question.text and "seitdem besser oder schlechter" in question.text
    await runtime.accept([press("8", "a:oepnv_seitdem:besser")])
    await runtime.wait_idle()
    assert "Danke für Ihre Antwort" in channel.to("8")[-1].text
    answers = rows(database, "SELECT question_id FROM answers WHERE question_id = 'oepnv_seitdem'")
    assert answers == [("oepnv_seitdem",)]
    assert rows(database, "SELECT count(*) FROM responses") == [(1,)], "stored with the original response"
    # Delivered: queued by the core's decision, marked done/sent by the outbox once the channel took it — once.
    assert rows(database, "SELECT status, outcome FROM follow_ups") == [("done", "sent")]
    runtime.clock = lambda: start + timedelta(days=16)
    assert await runtime.feed_due_follow_ups() == 0, "exactly once"


NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Wuppertal: outside the quiet hours


async def consented_with_follow_ups(runtime: Runtime, channel: RecordingChannel, chat: str) -> str:
    for inbound in (event(chat, "/start"), press(chat, "consent:yes"), event(chat, "/abo"),
                    press(chat, "ab:followups:on")):  # fmt: skip
        await runtime.accept([inbound])
        await runtime.wait_idle()
    return pseudonym(runtime.config.pseudonym_secret, "test", chat)


async def test_ending_a_pause_early_brings_the_held_back_messages_forward(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    channel = RecordingChannel()
    runtime = make_runtime(channel)
    runtime.clock = lambda: NOON
    await runtime.start()
    citizen = await consented_with_follow_ups(runtime, channel, "7")
    await runtime.accept([event("7", "/pause 2 Wochen")])
    await runtime.wait_idle()
    with database.unit_of_work() as uow:
        row = uow.follow_ups.add(citizen, NOON, "survey_reminder", {"survey_key": "x"}, now=NOON)
    assert await runtime.feed_due_follow_ups() == 0, "paused: moved, not fed"
    [(due,)] = rows(database, f"SELECT due_at FROM follow_ups WHERE id = {row}")
    assert str(due).startswith(str((NOON + timedelta(days=14)).date())), "held until the pause ends"
    await runtime.accept([event("7", "/pause aus")])
    await runtime.wait_idle()
    assert rows(database, f"SELECT status FROM follow_ups WHERE id = {row}") == [("pending",)]
    assert await runtime.feed_due_follow_ups() == 1, "due again at once"


async def test_a_follow_up_the_bot_cannot_process_ends_failed_without_an_apology_nobody_asked_for(
    make_runtime: RuntimeFactory, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.decisions

    real_handle = bot.decisions.handle

    def core_failing_on_follow_ups(inbound: Inbound, *args: Any) -> Any:
        if inbound.kind is InboundKind.FOLLOW_UP:
            raise RuntimeError("a broken survey version")
        return real_handle(inbound, *args)

    channel = RecordingChannel()
    runtime = make_runtime(channel)
    runtime.clock = lambda: NOON
    await runtime.start()
    citizen = await consented_with_follow_ups(runtime, channel, "8")
    monkeypatch.setattr(bot.decisions, "handle", core_failing_on_follow_ups)
    heard = len(channel.to("8"))
    with database.unit_of_work() as uow:
        row = uow.follow_ups.add(citizen, NOON, "survey_reminder", {"survey_key": "x"}, now=NOON)
    assert await runtime.feed_due_follow_ups() == 1
    await runtime.wait_idle()
    assert len(channel.to("8")) == heard, "no 'Entschuldigung' for a message the citizen never wrote"
    assert rows(database, f"SELECT status, outcome FROM follow_ups WHERE id = {row}") == [
        ("failed", "processing_failed")
    ]
