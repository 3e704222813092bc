"""Claiming due follow_ups rows in bulk: the reads and writes of the follow-up claimer (bot/outreach/claims.py).

Everything is set-based (one statement per batch, not per row) so that a tick stays cheap with a million
pending rows: the due rows come from the (status, due_at) index, the facts about their citizens from primary keys
and the citizen_id indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, exists, func, or_, select, update

from bot.storage import models as m
from bot.storage.items import (
    FOLLOW_UP_CANCELLED,
    FOLLOW_UP_HELD,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_PENDING,
    FOLLOW_UP_RUNNING,
)
from bot.storage.repositories._base import Repository, table_of

_FOLLOW_UPS = table_of(m.FollowUp)
_CITIZENS = table_of(m.Citizen)
_CONTACTS = table_of(m.Contact)
_INBOX = table_of(m.InboundEvent)
_OPT_INS = table_of(m.OptIn)


@dataclass(frozen=True)
class DueRow:
    """A due pending row, locked by the claiming transaction."""

    id: int
    citizen_id: str
    due_at: datetime
    kind: str
    payload: dict[str, Any]
    unsolicited: bool
    attempts: int


@dataclass(frozen=True)
class CitizenOutreach:
    """What the respect rules need to know about a citizen."""

    paused_until: datetime | None
    outreach_day: str | None
    outreach_count: int


@dataclass(frozen=True)
class ReachableContact:
    """One contact of a citizen; `unreachable_at` set when they blocked the bot or left the room."""

    id: int
    channel: str
    channel_user_id: str
    chat_id: str
    unreachable_at: datetime | None


# Every write names the status the row must still have: a row another transaction moved on meanwhile (the core
# settled it, staff cancelled it) is left alone.
_MOVE = (
    update(_FOLLOW_UPS)
    .where(_FOLLOW_UPS.c.id == bindparam("row_id"), _FOLLOW_UPS.c.status == FOLLOW_UP_PENDING)
    .values(due_at=bindparam("new_due_at", type_=_FOLLOW_UPS.c.due_at.type), updated_at=bindparam("now"))
)
_FINISH = (
    update(_FOLLOW_UPS)
    .where(_FOLLOW_UPS.c.id == bindparam("row_id"), _FOLLOW_UPS.c.status == bindparam("expected"))
    .values(status=bindparam("new_status"), outcome=bindparam("new_outcome"), updated_at=bindparam("now"))
)


class FollowUpClaimRepository(Repository):
    """Set-based reads and writes for claiming due follow-ups (see the module docstring)."""

    def due(
        self,
        now: datetime,
        limit: int,
        *,
        after: tuple[datetime, int] | None = None,
        saturated_channels: Sequence[str] = (),
    ) -> list[DueRow]:
        """Pending rows due at `now`, oldest first, after the keyset position `after` (due_at, id), locked.

        Unsolicited rows of citizens with a contact on a `saturated_channels` channel (its bulk send capacity is
        used up) are left out, so the rows behind them are reached; they come back once the channel has room.
        On PostgreSQL rows another worker holds are skipped (FOR UPDATE SKIP LOCKED).
        """
        query = self.due_query(now, limit, after=after, saturated_channels=saturated_channels)
        return [DueRow(**row._mapping) for row in self.session.execute(query)]

    def due_query(
        self,
        now: datetime,
        limit: int,
        *,
        after: tuple[datetime, int] | None = None,
        saturated_channels: Sequence[str] = (),
    ) -> Select[Any]:
        """The statement behind `due` (tests check its plan uses the (status, due_at) index)."""
        f = _FOLLOW_UPS
        query = select(
            f.c.id, f.c.citizen_id, f.c.due_at, f.c.kind, f.c.payload, f.c.unsolicited, f.c.attempts
        ).where(f.c.status == FOLLOW_UP_PENDING, f.c.due_at <= now)
        if after is not None:
            query = query.where(or_(f.c.due_at > after[0], and_(f.c.due_at == after[0], f.c.id > after[1])))
        if saturated_channels:
            busy = exists().where(
                _CONTACTS.c.citizen_id == f.c.citizen_id, _CONTACTS.c.channel.in_(list(saturated_channels))
            )
            query = query.where(or_(f.c.unsolicited.is_(False), ~busy))
        query = query.order_by(f.c.due_at, f.c.id).limit(limit)
        if self.is_postgres:
            query = query.with_for_update(of=f, skip_locked=True)
        return query

    def citizens(self, citizen_ids: Iterable[str]) -> dict[str, CitizenOutreach]:
        ids = sorted(set(citizen_ids))
        c = _CITIZENS
        rows = self.session.execute(
            select(c.c.id, c.c.paused_until, c.c.outreach_day, c.c.outreach_count).where(c.c.id.in_(ids))
        )
        return {row.id: CitizenOutreach(row.paused_until, row.outreach_day, row.outreach_count or 0) for row in rows}

    def contacts(self, citizen_ids: Iterable[str]) -> dict[str, list[ReachableContact]]:
        """Each citizen's contacts, newest first."""
        c = _CONTACTS
        rows = self.session.execute(
            select(c.c.citizen_id, c.c.id, c.c.channel, c.c.channel_user_id, c.c.chat_id, c.c.unreachable_at)
            .where(c.c.citizen_id.in_(sorted(set(citizen_ids))))
            .order_by(c.c.id.desc())
        )
        found: dict[str, list[ReachableContact]] = defaultdict(list)
        for row in rows:
            found[row.citizen_id].append(
                ReachableContact(row.id, row.channel, row.channel_user_id, row.chat_id, row.unreachable_at)
            )
        return found

    def opt_ins(self, citizen_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """Each citizen's current opt-in topics."""
        o = _OPT_INS
        rows = self.session.execute(
            select(o.c.citizen_id, o.c.topic).where(
                o.c.citizen_id.in_(sorted(set(citizen_ids))), o.c.withdrawn_at.is_(None)
            )
        )
        found: dict[str, set[str]] = defaultdict(set)
        for citizen_id, topic in rows:
            found[citizen_id].add(topic)
        return {key: frozenset(value) for key, value in found.items()}

    def in_flight(self, citizen_ids: Iterable[str], statuses: Sequence[str]) -> dict[str, int]:
        """Per citizen, unsolicited rows fed to the core (or queued) whose message is not counted yet."""
        f = _FOLLOW_UPS
        rows = self.session.execute(
            select(f.c.citizen_id, func.count())
            .where(f.c.citizen_id.in_(sorted(set(citizen_ids))), f.c.status.in_(list(statuses)),
                   f.c.unsolicited.is_(True))
            .group_by(f.c.citizen_id)
        )
        return {citizen_id: int(count) for citizen_id, count in rows}

    def start(self, row_ids: Sequence[int], now: datetime) -> None:
        """The rows were fed to the core (their inbox events are written in the same transaction)."""
        if row_ids:
            f = _FOLLOW_UPS
            self.session.execute(
                update(f)
                .where(f.c.id.in_(list(row_ids)), f.c.status == FOLLOW_UP_PENDING)
                .values(status=FOLLOW_UP_RUNNING, attempts=f.c.attempts + 1, updated_at=now)
            )

    def move(self, moves: Sequence[tuple[int, datetime]], now: datetime) -> None:
        """Pending rows due later (quiet hours, daily cap, pause)."""
        if moves:
            self.session.execute(_MOVE, [{"row_id": i, "new_due_at": due, "now": now} for i, due in moves])

    def finish(self, ends: Sequence[tuple[int, str, str | None]], now: datetime, *, expected: str) -> None:
        """Rows ended with (id, status, outcome), if their status is still `expected`."""
        if ends:
            params = [
                {"row_id": i, "new_status": s, "new_outcome": o, "now": now, "expected": expected} for i, s, o in ends
            ]
            self.session.execute(_FINISH, params)

    def running(self, limit: int = 1000) -> list[tuple[int, int, datetime | None]]:
        """Rows "running" (fed to the core, no outcome yet): (id, feeds so far, when claimed)."""
        f = _FOLLOW_UPS
        rows = self.session.execute(
            select(f.c.id, f.c.attempts, f.c.updated_at)
            .where(f.c.status == FOLLOW_UP_RUNNING)
            .order_by(f.c.id)
            .limit(limit)
        )
        return [(row.id, row.attempts, row.updated_at) for row in rows]

    def count_running(self) -> int:
        """How many rows are fed to the core and not yet processed."""
        f = _FOLLOW_UPS
        return int(self.session.execute(select(func.count()).where(f.c.status == FOLLOW_UP_RUNNING)).scalar_one())

    def requeue(self, row_ids: Sequence[int], now: datetime) -> None:
        """Running rows back to pending (due as they were), to be claimed and fed again."""
        if row_ids:
            f = _FOLLOW_UPS
            self.session.execute(
                update(f)
                .where(f.c.id.in_(list(row_ids)), f.c.status == FOLLOW_UP_RUNNING)
                .values(status=FOLLOW_UP_PENDING, updated_at=now)
            )

    def inbox_status(self, event_ids: Sequence[str], channels: Sequence[str]) -> dict[str, str]:
        """Inbox status (pending, done, failed) of the given event ids on `channels` (the inbox's unique index)."""
        if not event_ids:
            return {}
        i = _INBOX
        query = select(i.c.event_id, i.c.status).where(i.c.event_id.in_(list(event_ids)))
        if channels:
            query = query.where(i.c.channel.in_(list(channels)))
        rows = self.session.execute(query)
        return {event_id: status for event_id, status in rows}

    def counts(self) -> dict[tuple[str, str | None], int]:
        """How many rows per (status, outcome): the read-only status query behind `followups list`."""
        f = _FOLLOW_UPS
        rows = self.session.execute(select(f.c.status, f.c.outcome, func.count()).group_by(f.c.status, f.c.outcome))
        return {(status, outcome): int(count) for status, outcome, count in rows}


@dataclass(frozen=True)
class FollowUpListing:
    """One row as staff see it: never channel ids, payloads or texts."""

    id: int
    kind: str
    status: str
    due_at: datetime
    citizen_id: str
    outcome: str | None
    campaign_id: int | None


CANCELLABLE = (FOLLOW_UP_PENDING, FOLLOW_UP_HELD)


class FollowUpStaffRepository(Repository):
    """The staff's view of follow-ups: list and cancel (`stadtdialog followups`)."""

    def listing(
        self,
        *,
        citizen_prefix: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[FollowUpListing]:
        """Open rows (pending, running, held, queued) soonest due first, then ended rows latest first;
        `citizen_prefix` matches the start of the pseudonym."""
        f = _FOLLOW_UPS
        query = select(f.c.id, f.c.kind, f.c.status, f.c.due_at, f.c.citizen_id, f.c.outcome, f.c.campaign_id)
        if citizen_prefix:
            escaped = citizen_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(f.c.citizen_id.like(escaped + "%", escape="\\"))
        if kind:
            query = query.where(f.c.kind == kind)
        if status:
            query = query.where(f.c.status == status)
        is_open = f.c.status.in_(FOLLOW_UP_OPEN)
        rows = self.session.execute(
            query.order_by(
                case((is_open, 0), else_=1), case((is_open, f.c.due_at), else_=None), f.c.due_at.desc(), f.c.id
            ).limit(limit)
        )
        return [FollowUpListing(**row._mapping) for row in rows]

    def statuses(self, row_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        f = _FOLLOW_UPS
        rows = self.session.execute(select(f.c.id, f.c.status, f.c.outcome).where(f.c.id.in_(list(row_ids))))
        return {row.id: (row.status, row.outcome) for row in rows}

    def cancel(self, row_ids: Sequence[int], outcome: str, now: datetime) -> list[int]:
        """Cancel the rows that are still pending or held; returns the ids cancelled."""
        if not row_ids:
            return []
        f = _FOLLOW_UPS
        cancelled = self.session.execute(
            update(f)
            .where(f.c.id.in_(list(row_ids)), f.c.status.in_(CANCELLABLE))
            .values(status=FOLLOW_UP_CANCELLED, outcome=outcome, updated_at=now)
            .returning(f.c.id)
        ).scalars()
        return sorted(cancelled)
