"""Claiming due follow-ups on SQLite and PostgreSQL: the respect rules, pacing and exactly-once across restarts.

The clock is injected: days pass by assignment, never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.app import field_infos
from bot.config import Config
from bot.identity import pseudonym
from bot.outreach.claims import BATCH_SIZE, SETTLE_EVERY_TICKS, event_id
from bot.runtime import Runtime
from bot.storage.db import Database
from bot.storage.repositories.claims import FollowUpClaimRepository
from bot.survey_sync import import_surveys, load_catalog
from handlers.events import Inbound, InboundKind
from handlers.texts import load_texts
from tests.bot.test_runtime import RecordingChannel

ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC)
EVENING = datetime(2026, 6, 10, 20, 0, tzinfo=BERLIN).astimezone(UTC)  # 5 and 7 hours before: outside quiet hours


@dataclass
class Clock:
    now: datetime = NOON

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Bot:
    """One bot process on the shared test database."""

    runtime: Runtime
    channel: RecordingChannel


@pytest.fixture
async def start_bot(config: Config, database: Database) -> AsyncIterator[Callable[..., Any]]:
    fields = field_infos()
    import_surveys(database, config.survey_dir, {f.key for f in fields}, datetime.now(UTC))
    made: list[Runtime] = []

    async def factory(clock: Clock, *, start: bool = True, pacer: object | None = None) -> Bot:
        channel = RecordingChannel()
        runtime = Runtime(
            config, database, texts=load_texts(), fields=fields, catalog=load_catalog(database), clock=clock
        )
        runtime.add_channel(channel)
        if pacer is not None:
            runtime.pacer = pacer  # type: ignore[attr-defined]
        made.append(runtime)
        if start:
            await runtime.start()
        return Bot(runtime, channel)

    yield factory
    for runtime in made:
        await runtime.stop()


async def citizen(bot: Bot, chat: str, *opt_ins: str) -> str:
    """A citizen who consented on the test channel (so they have a contact), with the given opt-ins."""
    now = datetime.now(UTC)
    for number, (kind, value) in enumerate(((InboundKind.COMMAND, "start"), (InboundKind.BUTTON, "consent:yes"))):
        extra = {"command": value} if kind is InboundKind.COMMAND else {"payload": value}
        await bot.runtime.accept([Inbound(kind, "test", chat, chat, f"{chat}-{number}", now, **extra)])
        await bot.runtime.wait_idle()
    citizen_id = pseudonym(bot.runtime.config.pseudonym_secret, "test", chat)
    with bot.runtime.db.unit_of_work() as uow:
        for topic in opt_ins:
            uow.opt_ins.set(citizen_id, topic, True, source="test", notice_version="2", now=now)
    return citizen_id


def add_row(database: Database, citizen_id: str, due_at: datetime, *, kind: str = "survey_reminder",
            unsolicited: bool = True) -> int:
    with database.unit_of_work() as uow:
        return uow.follow_ups.add(citizen_id, due_at, kind, {"note": "x"}, now=due_at, unsolicited=unsolicited)


def row(database: Database, row_id: int) -> dict[str, Any]:
    with database.engine.connect() as connection:
        found = connection.execute(
            text("SELECT status, outcome, due_at, attempts FROM follow_ups WHERE id = :id"), {"id": row_id}
        ).one()
    with database.unit_of_work(read_only=True) as uow:
        stored = uow.follow_ups.get(row_id)
    assert stored is not None
    return {"status": found.status, "outcome": found.outcome, "due_at": stored.due_at, "attempts": found.attempts}


def follow_up_events(database: Database) -> list[tuple[str, str]]:
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT event_id, status FROM inbound_events WHERE event_id LIKE 'follow_up:%' ORDER BY id")
        )
        return [(r.event_id, r.status) for r in rows]


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


async def test_a_follow_up_due_in_three_days_fires_once_after_the_clock_advances_also_across_a_restart(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    row_id = add_row(database, someone, NOON + timedelta(days=3))

    assert await bot.runtime.feed_due_follow_ups() == 0
    clock.advance(days=2, hours=23, minutes=59)
    assert await bot.runtime.feed_due_follow_ups() == 0
    clock.advance(minutes=1)
    assert await bot.runtime.feed_due_follow_ups() == 1
    await bot.runtime.wait_idle()
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "done")]
    assert row(database, row_id)["status"] not in ("pending", "running")
    assert await bot.runtime.feed_due_follow_ups() == 0

    await bot.runtime.stop()
    clock.advance(hours=1)
    restarted = await start_bot(clock)
    assert await restarted.runtime.feed_due_follow_ups() == 0
    await restarted.runtime.wait_idle()
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "done")]


async def test_a_crash_between_claim_and_processing_delivers_the_follow_up_once_after_restart(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    setup = await start_bot(clock)
    someone = await citizen(setup, "1", "followups")
    await setup.runtime.stop()
    row_id = add_row(database, someone, NOON - timedelta(minutes=1))
    crashed = await start_bot(clock, start=False)  # claims, but its chat workers never run: as if SIGKILLed
    crashed.runtime._running = True
    crashed.runtime._kick_chat = lambda key: None  # type: ignore[method-assign]
    assert await crashed.runtime.feed_due_follow_ups() == 1
    crashed.runtime._running = False
    assert row(database, row_id)["status"] == "running"
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "pending")]

    restarted = await start_bot(clock)  # recover + resume: the stored event is processed, not fed again
    await restarted.runtime.wait_idle()
    assert await restarted.runtime.feed_due_follow_ups() == 0
    await restarted.runtime.wait_idle()
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "done")]
    assert row(database, row_id)["status"] not in ("pending", "running")
    assert row(database, row_id)["attempts"] == 1


async def test_a_running_row_whose_event_was_already_processed_is_settled_not_run_again(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    setup = await start_bot(clock)
    someone = await citizen(setup, "1", "followups")
    await setup.runtime.stop()
    row_id = add_row(database, someone, NOON - timedelta(minutes=1))
    with database.unit_of_work() as uow:  # processed, but (say) the event's effects named no outcome
        uow.session.execute(text("UPDATE follow_ups SET status='running', attempts=1, updated_at=:now WHERE id=:id"),
                            {"id": row_id, "now": NOON})
        uow.inbox.add({}, channel="test", event_id=event_id(row_id, 1), chat_key="", received_at=NOON)
        [item] = uow.session.execute(text("SELECT id FROM inbound_events WHERE event_id = :e"),
                                     {"e": event_id(row_id, 1)}).all()
        uow.inbox.mark_done(item.id, now=NOON)
    restarted = await start_bot(clock)
    await restarted.runtime.wait_idle()
    assert row(database, row_id)["status"] == "done"
    assert await restarted.runtime.feed_due_follow_ups() == 0
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "done")]


async def test_quiet_hours_move_a_row_to_nine_and_it_is_delivered_then(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock(berlin(2026, 6, 10, 22, 0))
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    row_id = add_row(database, someone, berlin(2026, 6, 10, 21, 30))
    assert await bot.runtime.feed_due_follow_ups() == 0
    assert row(database, row_id)["status"] == "pending"
    assert row(database, row_id)["due_at"] == berlin(2026, 6, 11, 9, 0)
    clock.now = berlin(2026, 6, 11, 8, 59)
    assert await bot.runtime.feed_due_follow_ups() == 0
    clock.now = berlin(2026, 6, 11, 9, 0)
    assert await bot.runtime.feed_due_follow_ups() == 1
    assert follow_up_events(database)[0][0] == f"follow_up:{row_id}"


@pytest.mark.parametrize(
    ("evening", "nine_utc"),
    [
        (berlin(2026, 3, 28, 22, 0), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),  # clocks go forward that night
        (berlin(2026, 10, 24, 22, 0), datetime(2026, 10, 25, 8, 0, tzinfo=UTC)),  # clocks go back that night
    ],
    ids=["march", "october"],
)
async def test_quiet_hours_end_at_nine_city_time_across_the_clock_changes(
    start_bot: Callable[..., Any], database: Database, evening: datetime, nine_utc: datetime
) -> None:
    clock = Clock(evening)
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    row_id = add_row(database, someone, evening)
    assert await bot.runtime.feed_due_follow_ups() == 0
    assert row(database, row_id)["due_at"] == nine_utc
    clock.now = nine_utc - timedelta(seconds=1)
    assert await bot.runtime.feed_due_follow_ups() == 0
    clock.now = nine_utc
    assert await bot.runtime.feed_due_follow_ups() == 1


async def test_the_daily_cap_moves_the_second_unsolicited_row_to_the_next_morning(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    first = add_row(database, someone, NOON - timedelta(minutes=2))
    second = add_row(database, someone, NOON - timedelta(minutes=1))
    solicited = add_row(database, someone, NOON - timedelta(minutes=1), unsolicited=False)
    assert await bot.runtime.feed_due_follow_ups() == 2
    assert row(database, first)["status"] != "pending"
    assert row(database, solicited)["status"] != "pending", "rows the citizen asked for are not capped"
    assert row(database, second)["status"] == "pending"
    assert row(database, second)["due_at"] == berlin(2026, 6, 11, 9, 0)


async def test_a_paused_citizen_gets_the_row_when_the_pause_ends(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    with database.unit_of_work() as uow:
        uow.citizens.set_paused(someone, NOON + timedelta(days=14))
    row_id = add_row(database, someone, NOON)
    assert await bot.runtime.feed_due_follow_ups() == 0
    assert row(database, row_id)["due_at"] == NOON + timedelta(days=14)
    clock.advance(days=14)
    assert await bot.runtime.feed_due_follow_ups() == 1


async def test_rows_past_their_grace_while_the_bot_was_down_are_skipped_as_missed_and_counted(
    start_bot: Callable[..., Any], database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(EVENING - timedelta(hours=8))
    setup = await start_bot(clock)  # its last sign of life: 8 hours before 20:00 (out of quiet hours)
    someone = await citizen(setup, "1", "followups")
    other = await citizen(setup, "2", "followups")
    await setup.runtime.stop()
    late = add_row(database, someone, EVENING - timedelta(hours=7))  # grace 6 h: missed
    recent = add_row(database, other, EVENING - timedelta(hours=5))  # still within the grace: delivered
    clock.now = EVENING
    bot = await start_bot(clock)
    caplog.set_level("INFO")
    assert await bot.runtime.feed_due_follow_ups() == 1
    assert (row(database, late)["status"], row(database, late)["outcome"]) == ("skipped", "missed")
    assert row(database, recent)["status"] != "pending"
    assert bot.runtime.follow_ups.totals["skipped:missed"] == 1
    assert "event=follow_ups_missed count=1" in caplog.text
    with database.unit_of_work(read_only=True) as uow:
        assert FollowUpClaimRepository(uow.session).counts()[("skipped", "missed")] == 1


async def test_a_restart_during_a_paced_broadcast_does_not_drop_the_rows_still_waiting(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock(NOON - timedelta(hours=10))
    first = await start_bot(clock, pacer=FakePacer(0))  # the channel's send budget is used up for hours
    someone = await citizen(first, "1", "surveys")
    invitation = add_row(database, someone, NOON - timedelta(hours=10), kind="invitation")
    for _ in range(SETTLE_EVERY_TICKS):
        assert await first.runtime.feed_due_follow_ups() == 0
    clock.now = NOON - timedelta(minutes=30)
    for _ in range(SETTLE_EVERY_TICKS):  # alive, still waiting for the channel: the heartbeat says so
        await first.runtime.feed_due_follow_ups()
    await first.runtime.stop()

    clock.now = NOON  # restarted half an hour later: ten hours after the row fell due, but not missed
    second = await start_bot(clock)
    assert await second.runtime.feed_due_follow_ups() == 1
    assert row(database, invitation)["status"] != "pending"
    assert row(database, invitation)["outcome"] != "missed"


async def test_unreachable_and_contactless_citizens_are_skipped(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    await bot.runtime.mark_unreachable("test", "1")
    row_id = add_row(database, someone, NOON)
    assert await bot.runtime.feed_due_follow_ups() == 0
    assert (row(database, row_id)["status"], row(database, row_id)["outcome"]) == ("skipped", "unreachable")

    await bot.runtime.accept([Inbound(InboundKind.TEXT, "test", "1", "1", "again", datetime.now(UTC), text="Hallo")])
    await bot.runtime.wait_idle()
    again = add_row(database, someone, NOON)
    assert await bot.runtime.feed_due_follow_ups() == 1, "writing again makes the citizen reachable"
    assert row(database, again)["status"] != "pending"


async def test_a_citizen_without_the_matching_opt_in_is_skipped(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "surveys")  # invitations yes, follow-up questions no
    followup = add_row(database, someone, NOON, kind="survey_followup")
    assert await bot.runtime.feed_due_follow_ups() == 0
    assert (row(database, followup)["status"], row(database, followup)["outcome"]) == ("skipped", "no_opt_in")
    assert follow_up_events(database) == []


@dataclass
class FakePacer:
    """Stands in for bot/pacing.py's SendPacer: a fixed bulk capacity; records the bulk messages tracked."""

    capacity: int
    tracked: list[tuple[str, object]] = field(default_factory=list)

    def bulk_capacity(self, channel: str, horizon_s: float) -> int:
        return self.capacity

    def track_bulk(self, channel: str, key: object) -> None:
        self.tracked.append((channel, key))


async def test_unsolicited_rows_are_claimed_only_up_to_the_channels_bulk_capacity(
    start_bot: Callable[..., Any], database: Database
) -> None:
    clock = Clock()
    pacer = FakePacer(2)
    bot = await start_bot(clock, pacer=pacer)
    citizens = [await citizen(bot, str(n), "surveys") for n in range(5)]
    invitations = [add_row(database, c, NOON - timedelta(minutes=5), kind="invitation") for c in citizens]
    asked_for = add_row(database, citizens[0], NOON, unsolicited=False)  # behind the broadcast
    assert await bot.runtime.feed_due_follow_ups() == 3
    assert [row(database, i)["status"] == "pending" for i in invitations].count(True) == 3
    assert row(database, asked_for)["status"] != "pending", "rows behind a saturated channel are reached"
    fed = [i for i in invitations if row(database, i)["status"] != "pending"]
    assert pacer.tracked == [("test", ("follow_up", i)) for i in fed], "claimed bulk counts for the pacer at once"
    pacer.capacity = 0
    assert await bot.runtime.feed_due_follow_ups() == 0
    pacer.capacity = 10
    assert await bot.runtime.feed_due_follow_ups() == 3


async def test_the_due_rows_query_uses_the_status_due_at_index(database: Database) -> None:
    with database.unit_of_work(read_only=True) as uow:
        repo = FollowUpClaimRepository(uow.session)
        uow.session.execute(text("ANALYZE")) if database.is_sqlite else None
        query = repo.due_query(NOON, BATCH_SIZE)
        compiled = query.compile(uow.session.get_bind(), compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        if not database.is_sqlite:  # the empty test table would make a sequential scan the cheapest plan
            uow.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(r[-1]) for r in uow.session.execute(text(explain + str(compiled))))
    assert "ix_follow_ups_status_due_at" in plan, plan


CLAIM_AND_HANG = """
import asyncio, sys, time
from datetime import datetime
from bot.app import build_runtime
from bot.config import load_config

config = load_config()
runtime = build_runtime(config, [], classify=False)
runtime.clock = lambda: datetime.fromisoformat(sys.argv[1])
runtime.follow_ups.awake_since = runtime.clock()
runtime._running = True
runtime._kick_chat = lambda key: None  # claimed, never processed: the kill comes first
fed = asyncio.run(runtime.feed_due_follow_ups())
print(f"claimed {fed}", flush=True)
time.sleep(600)
"""


async def test_a_bot_sigkilled_between_claim_and_processing_delivers_the_follow_up_once_after_restart(
    start_bot: Callable[..., Any], database: Database, config: Config, tmp_path: Path
) -> None:
    clock = Clock()
    setup = await start_bot(clock)
    someone = await citizen(setup, "1", "followups")
    await setup.runtime.stop()
    row_id = add_row(database, someone, NOON - timedelta(minutes=1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env |= {"STADTDIALOG_DATABASE_URL": config.database_url, "STADTDIALOG_DATA_DIR": str(tmp_path / "child"),
            "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789", "STADTDIALOG_SURVEY_DIR": str(config.survey_dir)}
    child = subprocess.Popen([sys.executable, "-c", CLAIM_AND_HANG, NOON.isoformat()], stdout=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 60) == "claimed 1\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert row(database, row_id)["status"] == "running"

    restarted = await start_bot(clock)
    await restarted.runtime.wait_idle()
    assert await restarted.runtime.feed_due_follow_ups() == 0
    await restarted.runtime.wait_idle()
    assert follow_up_events(database) == [(f"follow_up:{row_id}", "done")]
    assert row(database, row_id)["attempts"] == 1
    assert row(database, row_id)["status"] not in ("pending", "running")


async def test_no_more_rows_are_fed_than_the_core_can_work_through_soon(
    start_bot: Callable[..., Any], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A citizen's own message never finds thousands of follow-ups queued in front of it."""
    clock = Clock()
    setup = await start_bot(clock)
    citizens = [await citizen(setup, str(n), "followups") for n in range(4)]
    await setup.runtime.stop()
    rows = [add_row(database, c, NOON - timedelta(minutes=1)) for c in citizens]
    monkeypatch.setattr("bot.outreach.claims.MAX_IN_FLIGHT", 3)
    stalled = await start_bot(clock, start=False)  # its chat workers do not run: nothing is processed
    assert await stalled.runtime.feed_due_follow_ups() == 3
    assert await stalled.runtime.feed_due_follow_ups() == 0
    assert [row(database, r)["status"] for r in rows].count("pending") == 1


async def test_a_held_row_released_later_is_fed_again_under_a_new_event_id(
    start_bot: Callable[..., Any], database: Database
) -> None:
    """The citizen was busy: the core held the row; when their flow ends it is due again and fed a second time."""
    clock = Clock()
    bot = await start_bot(clock)
    someone = await citizen(bot, "1", "followups")
    row_id = add_row(database, someone, NOON)
    assert await bot.runtime.feed_due_follow_ups() == 1
    await bot.runtime.wait_idle()
    with database.unit_of_work() as uow:
        uow.follow_ups.hold(row_id, NOON)
    clock.advance(minutes=10)
    with database.unit_of_work() as uow:
        assert uow.follow_ups.release_held(someone, clock.now) == 1
    clock.advance(days=1)  # the daily cap starts afresh
    assert await bot.runtime.feed_due_follow_ups() == 1
    await bot.runtime.wait_idle()
    assert [event for event, _ in follow_up_events(database)] == [f"follow_up:{row_id}", f"follow_up:{row_id}.2"]


def test_the_claiming_job_runs_every_second_and_never_stacks(config: Config, database: Database) -> None:
    from bot.scheduler import build_scheduler

    runtime = Runtime(config, database, texts=load_texts(), fields=field_infos(), catalog=load_catalog(database))
    job = build_scheduler(runtime).get_job("follow_ups")
    assert job.trigger.interval == timedelta(seconds=1)
    assert job.max_instances == 1 and job.coalesce is True
