"""The respect rules for one due follow_ups row, as a pure decision (no I/O, no clock of its own).

Given what the claimer read for a row (its due time, kind, whether it is unsolicited) and for its citizen (pause,
unsolicited messages already sent today, opt-ins, whether a reachable contact exists), `decide` says: deliver
now, move to a later time, or skip with an outcome. Quiet hours and the daily cap are evaluated in the city's
time zone with zoneinfo, so the March and October clock changes move rows to the right wall-clock time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Final

from bot.config import QuietHours
from handlers.outreach import OPT_IN_OF_KIND

OPT_IN_FOR_KIND: Final[Mapping[str, str]] = OPT_IN_OF_KIND
"""The opt-in each unsolicited kind needs: the dialogue core's table (it checks the same when a row arrives,
idea-status news included). A kind not listed needs none here (the core decides)."""

OUTCOME_MISSED: Final = "missed"
OUTCOME_UNREACHABLE: Final = "unreachable"
OUTCOME_NO_OPT_IN: Final = "no_opt_in"
OUTCOME_NO_CONTACT: Final = "no_contact"


class Reason(StrEnum):
    """Why a row was moved to a later time."""

    PAUSED = "paused"
    QUIET_HOURS = "quiet_hours"
    DAILY_CAP = "daily_cap"


@dataclass(frozen=True)
class Rules:
    """The city's respect rules: quiet hours (local wall-clock, may wrap midnight; None = none), the most
    unsolicited messages per citizen per city day (0 = no cap), and how late a row missed while the bot was down
    may still go."""

    timezone: tzinfo
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(9, 0)
    daily_cap: int = 1
    grace: timedelta = timedelta(hours=6)

    def is_quiet(self, moment: datetime) -> bool:
        """Whether `moment` (aware) falls into the quiet hours in the city's time zone."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        return QuietHours(self.quiet_start, self.quiet_end).contains(moment.astimezone(self.timezone).time())

    def city_day(self, moment: datetime) -> str:
        """The city-local date of `moment` as `YYYY-MM-DD` (the form of `citizens.outreach_day`)."""
        return moment.astimezone(self.timezone).date().isoformat()

    def quiet_end_after(self, moment: datetime) -> datetime:
        """The first instant at or after `moment` that is outside the quiet hours (UTC)."""
        if not self.is_quiet(moment) or self.quiet_end is None:
            return moment.astimezone(UTC)
        local = moment.astimezone(self.timezone)
        day = local.date() if local.time() < self.quiet_end else local.date() + timedelta(days=1)
        return self._at(day, self.quiet_end)

    def next_day_slot(self, moment: datetime) -> datetime:
        """The first allowed instant of the city day after `moment`'s: its midnight, or the end of quiet hours."""
        next_day = moment.astimezone(self.timezone).date() + timedelta(days=1)
        return self.quiet_end_after(self._at(next_day, time(0, 0)))

    def _at(self, day: date, wall: time) -> datetime:
        """Wall-clock `wall` on `day` in the city, in UTC. A wall time the spring change skips (02:30 on the last
        Sunday of March) maps to the instant one hour later, never earlier."""
        # fold=0 (PEP 495): a skipped wall time takes the offset before the change, i.e. the later instant; a
        # repeated one (October) its first occurrence.
        return datetime.combine(day, wall, tzinfo=self.timezone).astimezone(UTC)


@dataclass(frozen=True)
class RowFacts:
    """What the claimer knows about one due row and its citizen.

    `sent_today`: unsolicited messages the citizen got (or has in flight) on the current city day.
    `awake_since`: when this bot process began claiming; `down_since`: when a bot was last seen alive before that
    (its heartbeat; None if unknown). A row is missed only when no bot ran for longer than the grace period after
    it fell due: a row that waits while the bot runs (pacing a broadcast) is never dropped, not even when the bot
    is restarted meanwhile.
    """

    due_at: datetime
    kind: str
    unsolicited: bool
    has_contact: bool
    reachable: bool
    opt_ins: frozenset[str]
    paused_until: datetime | None
    sent_today: int
    awake_since: datetime
    down_since: datetime | None = None


@dataclass(frozen=True)
class Deliver:
    """Feed the row to the core now."""


@dataclass(frozen=True)
class Move:
    """Put the row back as pending, due at `due_at` (UTC)."""

    due_at: datetime
    reason: Reason


@dataclass(frozen=True)
class Skip:
    """End the row unsent; `outcome` says why."""

    outcome: str


Decision = Deliver | Move | Skip


def decide(row: RowFacts, now: datetime, rules: Rules) -> Decision:
    """What to do with one due row at `now` (aware). Order: gone for good (missed, no contact, unreachable, no
    opt-in) before held for later (paused, quiet hours, daily cap)."""
    # From when a running bot would have sent it: an unsolicited row due in quiet hours waited for their end anyway.
    sendable_from = rules.quiet_end_after(row.due_at) if row.unsolicited else row.due_at
    unattended_from = sendable_from if row.down_since is None else max(sendable_from, row.down_since)
    if row.awake_since - unattended_from > rules.grace:
        return Skip(OUTCOME_MISSED)
    if not row.has_contact:
        return Skip(OUTCOME_NO_CONTACT)
    if not row.reachable:
        return Skip(OUTCOME_UNREACHABLE)
    if not row.unsolicited:
        return Deliver()
    topic = OPT_IN_FOR_KIND.get(row.kind)
    if topic is not None and topic not in row.opt_ins:
        return Skip(OUTCOME_NO_OPT_IN)
    if row.paused_until is not None and row.paused_until > now:
        return Move(row.paused_until, Reason.PAUSED)
    if rules.is_quiet(now):
        return Move(rules.quiet_end_after(now), Reason.QUIET_HOURS)
    if rules.daily_cap > 0 and row.sent_today >= rules.daily_cap:
        return Move(rules.next_day_slot(now), Reason.DAILY_CAP)
    return Deliver()
