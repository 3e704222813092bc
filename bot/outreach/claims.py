"""The follow-up claimer: turns due follow_ups rows into inbox events, under the respect rules, exactly once.

Every tick (1 s, bot/scheduler.py) claims due pending rows in small batches, each batch its own short transaction
so a citizen's own events are processed between batches (SQLite has one database thread). Per row the pure
policy (bot/outreach/policy.py) says deliver, move or skip; a delivered row becomes an inbox event of its
citizen's chat and the row turns "running" in the same transaction. Unsolicited rows are claimed per channel only
up to the pacer's bulk capacity, so a broadcast fans out at the send rate instead of queueing thousands of events
in front of citizens who are answering.

Exactly once: the event id is derived from the row (`follow_up:<id>`, `follow_up:<id>.<n>` for its n-th feed
after being held), so the inbox's unique constraint drops a second feed; and a "running" row whose event was
already processed is settled (done or failed), never fed again.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.config import Config
from bot.outreach.policy import OUTCOME_MISSED, Deliver, Move, RowFacts, Rules, Skip, decide
from bot.storage.db import Database, UnitOfWork
from bot.storage.items import (
    FOLLOW_UP_DONE,
    FOLLOW_UP_FAILED,
    FOLLOW_UP_PENDING,
    FOLLOW_UP_RUNNING,
    FOLLOW_UP_SKIPPED,
    chat_key,
)
from bot.storage.repositories.claims import DueRow, FollowUpClaimRepository, ReachableContact
from handlers.events import Inbound, InboundKind

log = logging.getLogger(__name__)

BATCH_SIZE = 200
"""Rows per claiming transaction: small enough that a citizen's event waits at most one batch."""
TICK_BUDGET_S = 0.5
"""Most wall-clock time one tick spends claiming; the rest waits for the next tick."""
PACING_HORIZON_S = 5.0
"""Unsolicited rows are claimed for the bulk messages each channel can send within this many seconds."""
SETTLE_EVERY_TICKS = 10
"""Every this many ticks: settle rows left running, and write the heartbeat."""
HEARTBEAT_KEY = "follow_ups:alive"
"""channel_state key: when a bot last claimed (UTC ISO time). After a restart it tells how long no bot ran."""
MAX_IN_FLIGHT = 500
"""Most rows fed to the core and not yet processed. Bounds the FOLLOW_UP events a citizen's own event may find
queued in front of it, whatever the pacer says (or without one)."""
IN_FLIGHT = (FOLLOW_UP_RUNNING,)
"""Statuses of unsolicited rows that count against the daily cap besides `citizens.outreach_count`."""


R = TypeVar("R")


class InDatabase(Protocol):
    """Runs blocking database work on the runtime's database threads (`Runtime._in_db`)."""

    def __call__(self, function: Callable[..., R], /, *args: Any) -> Awaitable[R]: ...


def respect_rules(config: Config) -> Rules:
    """The policy's rules from the configuration."""
    quiet = config.quiet_hours
    return Rules(
        timezone=config.timezone,
        quiet_start=None if quiet is None else quiet.start,
        quiet_end=None if quiet is None else quiet.end,
        daily_cap=config.daily_cap,
        grace=config.follow_up_grace,
    )


def event_id(row_id: int, feed: int) -> str:
    """The inbox event id of a row's `feed`-th feed (1 for the first)."""
    return f"follow_up:{row_id}" if feed <= 1 else f"follow_up:{row_id}.{feed}"


def bulk_capacities(pacer: object | None, channels: Sequence[str], horizon_s: float) -> dict[str, int]:
    """Per channel, how many unsolicited messages may still be claimed; channels without a limit are left out."""
    method = getattr(pacer, "bulk_capacity", None)
    if method is None:
        return {}
    return {channel: max(0, int(method(channel, horizon_s))) for channel in channels}


@dataclass
class _Room:
    """How many more rows this tick may feed."""

    left: int


@dataclass
class _Batch:
    last: tuple[datetime, int] | None = None
    exhausted: bool = True
    keys: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    bulk: list[tuple[str, int]] = field(default_factory=list)  # (channel, row id) of unsolicited rows fed


class FollowUpClaimer:
    """Claims due follow_ups rows for one runtime; see the module docstring."""

    def __init__(
        self,
        database: Database,
        rules: Rules,
        clock: Callable[[], datetime],
        *,
        in_db: InDatabase,
        kick: Callable[[str], None],
        pacer: Callable[[], object | None] = lambda: None,
        channels: Callable[[], Sequence[str]] = tuple,
        inbox_retention: timedelta = timedelta(days=2),
    ) -> None:
        self.db = database
        self.rules = rules
        self.clock = clock
        self._in_db = in_db
        self._kick = kick
        self._pacer = pacer
        self._channels = channels
        self.inbox_retention = inbox_retention
        self.awake_since = clock()
        self.down_since: datetime | None = None
        self.totals: Counter[str] = Counter()
        """Since start: `delivered`, `moved:<reason>`, `skipped:<outcome>`, `settled:<status>`."""
        self._ticks = 0

    async def recover(self) -> Counter[str]:
        """At start: rows due while no bot ran are judged from now on; rows a crash left running are settled."""
        self.awake_since = self.clock()
        self.down_since = await self._in_db(self._last_heartbeat)
        counts = await self._in_db(self._settle_running, self.clock())
        if counts:
            self.totals.update(counts)
            log.info("event=follow_ups_recovered %s", _fmt(counts))
        return counts

    async def tick(self) -> int:
        """Claim what is due now within the tick's budget; returns how many rows were fed to the core."""
        now = self.clock()
        self._ticks += 1
        if self._ticks % SETTLE_EVERY_TICKS == 0:
            self.totals.update(await self._in_db(self._settle_running, now))
        caps = bulk_capacities(self._pacer(), list(self._channels()), PACING_HORIZON_S)
        room = _Room(MAX_IN_FLIGHT - await self._in_db(self._count_running))
        deadline = time.monotonic() + TICK_BUDGET_S
        after: tuple[datetime, int] | None = None
        counts: Counter[str] = Counter()
        while room.left > 0:
            batch: _Batch = await self._in_db(self._claim_batch, now, after, caps, room)
            self._track_bulk(batch.bulk)
            for key in batch.keys:
                self._kick(key)
            counts.update(batch.counts)
            if batch.exhausted or batch.last is None or time.monotonic() >= deadline:
                break
            after = batch.last
        if counts:
            self.totals.update(counts)
            log.info("event=follow_ups_claimed %s", _fmt(counts))
            missed = counts.get(f"skipped:{OUTCOME_MISSED}", 0)
            if missed:
                log.warning("event=follow_ups_missed count=%s grace=%s", missed, self.rules.grace)
        return counts.get("delivered", 0)

    def _track_bulk(self, fed: list[tuple[str, int]]) -> None:
        """Tell the pacer about bulk messages on their way, so its capacity counts them before the outbox sees
        them (key as `bot.pacing.bulk_key(follow_up_id)`)."""
        track = getattr(self._pacer(), "track_bulk", None)
        if track is not None:
            for channel, row_id in fed:
                track(channel, ("follow_up", row_id))

    # --- in the database thread ------------------------------------------------------------------------------

    def _last_heartbeat(self) -> datetime | None:
        with self.db.unit_of_work(read_only=True) as uow:
            value = uow.channel_state.get(HEARTBEAT_KEY)
        try:
            return None if value is None else datetime.fromisoformat(value)
        except ValueError:
            return None

    def _count_running(self) -> int:
        with self.db.unit_of_work(read_only=True) as uow:
            return FollowUpClaimRepository(uow.session).count_running()

    def _claim_batch(
        self, now: datetime, after: tuple[datetime, int] | None, caps: dict[str, int], room: _Room
    ) -> _Batch:
        """One transaction: claim the next due rows after `after`; `caps` and `room` are used up as rows are fed."""
        batch = _Batch()
        with self.db.unit_of_work() as uow:
            repo = FollowUpClaimRepository(uow.session)
            saturated = [channel for channel, left in caps.items() if left <= 0]
            rows = repo.due(now, BATCH_SIZE, after=after, saturated_channels=saturated)
            if not rows:
                return batch
            batch.last = (rows[-1].due_at, rows[-1].id)
            batch.exhausted = len(rows) < BATCH_SIZE
            ids = [row.citizen_id for row in rows]
            # In-flight rows before the citizens' daily counts: a row the core settles in between (running →
            # queued, count + 1) is then seen twice, never missed (PostgreSQL reads committed rows per statement).
            in_flight = repo.in_flight(ids, IN_FLIGHT)
            citizens = repo.citizens(ids)
            contacts = repo.contacts(ids)
            opt_ins = repo.opt_ins(ids) if any(row.unsolicited for row in rows) else {}
            today = self.rules.city_day(now)
            configured = set(self._channels())  # a contact on a channel this bot does not run cannot be reached
            fed_now: Counter[str] = Counter()
            started: list[int] = []
            moves: list[tuple[int, datetime]] = []
            ends: list[tuple[int, str, str | None]] = []
            for row in rows:
                citizen = citizens.get(row.citizen_id)
                known = [c for c in contacts.get(row.citizen_id, []) if not configured or c.channel in configured]
                reachable = [contact for contact in known if contact.unreachable_at is None]
                sent_today = fed_now[row.citizen_id] + in_flight.get(row.citizen_id, 0)
                if citizen is not None and citizen.outreach_day == today:
                    sent_today += citizen.outreach_count
                facts = RowFacts(
                    due_at=row.due_at,
                    kind=row.kind,
                    unsolicited=row.unsolicited,
                    has_contact=bool(known),
                    reachable=bool(reachable),
                    opt_ins=opt_ins.get(row.citizen_id, frozenset()),
                    paused_until=None if citizen is None else citizen.paused_until,
                    sent_today=sent_today,
                    awake_since=self.awake_since,
                    down_since=self.down_since,
                )
                match decide(facts, now, self.rules):
                    case Deliver():
                        contact = reachable[0]
                        if room.left <= 0:
                            continue  # stays pending and due: fed once the core caught up
                        if row.unsolicited and contact.channel in caps:
                            if caps[contact.channel] <= 0:
                                continue  # stays pending and due: claimed when the channel has room
                            caps[contact.channel] -= 1
                        key = self._feed(uow, row, contact, now)
                        if key is not None:
                            batch.keys.add(key)
                        started.append(row.id)
                        room.left -= 1
                        fed_now[row.citizen_id] += row.unsolicited
                        if row.unsolicited:
                            batch.bulk.append((contact.channel, row.id))
                        batch.counts["delivered"] += 1
                    case Move(due_at, reason):
                        moves.append((row.id, due_at))
                        batch.counts[f"moved:{reason.value}"] += 1
                    case Skip(outcome):
                        ends.append((row.id, FOLLOW_UP_SKIPPED, outcome))
                        batch.counts[f"skipped:{outcome}"] += 1
            repo.start(started, now)
            repo.move(moves, now)
            repo.finish(ends, now, expected=FOLLOW_UP_PENDING)
        return batch

    @staticmethod
    def _feed(uow: UnitOfWork, row: DueRow, contact: ReachableContact, now: datetime) -> str | None:
        """Write the row's inbox event; returns the chat key to kick, None if the event was already there."""
        event = Inbound(
            kind=InboundKind.FOLLOW_UP,
            channel=contact.channel,
            user_id=contact.channel_user_id,
            chat_id=contact.chat_id,
            event_id=event_id(row.id, row.attempts + 1),
            received_at=now,
            payload=row.kind,
            args=json.dumps({**row.payload, "follow_up_id": row.id}, ensure_ascii=False),
        )
        key = chat_key(contact.channel, contact.chat_id)
        added = uow.inbox.add(
            event.to_dict(), channel=event.channel, event_id=event.event_id, chat_key=key, received_at=now
        )
        return key if added else None

    def _settle_running(self, now: datetime) -> Counter[str]:
        """Record the heartbeat; settle rows left "running" whose event is no longer pending: processed without an
        outcome → done, given up → failed. A running row without its event (never written; only after manual
        edits) is fed again; one whose event was purged after processing (older than the inbox retention) is done."""
        counts: Counter[str] = Counter()
        with self.db.unit_of_work() as uow:
            uow.channel_state.set(HEARTBEAT_KEY, now.isoformat(), now)
            repo = FollowUpClaimRepository(uow.session)
            running = repo.running()
            if not running:
                return counts
            ids = {event_id(row_id, attempts): row_id for row_id, attempts, _ in running}
            status = repo.inbox_status(list(ids), list(self._channels()))
            ends: list[tuple[int, str, str | None]] = []
            refeed: list[int] = []
            for row_id, attempts, claimed_at in running:
                match status.get(event_id(row_id, attempts)):
                    case "pending":
                        continue
                    case "failed":
                        ends.append((row_id, FOLLOW_UP_FAILED, None))
                    case "done":
                        ends.append((row_id, FOLLOW_UP_DONE, None))
                    case _ if claimed_at is not None and claimed_at >= now - self.inbox_retention:
                        refeed.append(row_id)
                    case _:
                        ends.append((row_id, FOLLOW_UP_DONE, None))
            repo.finish(ends, now, expected=FOLLOW_UP_RUNNING)
            repo.requeue(refeed, now)
            counts.update(f"settled:{row_status}" for _, row_status, _ in ends)
            counts["settled:refed"] += len(refeed)
        return +counts


def _fmt(counts: Counter[str]) -> str:
    return " ".join(f"{key.replace(':', '_')}={value}" for key, value in sorted(counts.items()))

