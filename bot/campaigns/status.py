"""Read side for staff: where a campaign stands (never writes).

Invited = invitation rows written for the campaign; delivered = actually sent (status done, outcome sent);
waiting = not sent yet (pending, claimed, held while the citizen is busy, queued in the outbox); unreachable =
the channel said the citizen blocked the bot or left; skipped = ended unsent for another reason (no opt-in any
more, paused/stopped, missed its grace period, survey closed …); cancelled = cancelled by close/cancel.
Started / completed count responses that followed the campaign's invitation (`responses.campaign_id`).
Staff's own responses (e.g. to a test invitation) are never counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import case, func, select

from bot.storage import models as m
from bot.storage.db import UnitOfWork
from bot.storage.items import (
    FOLLOW_UP_CANCELLED,
    FOLLOW_UP_DONE,
    FOLLOW_UP_OPEN,
    OUTCOME_SENT,
    OUTCOME_UNREACHABLE,
    RESPONSE_COMPLETED,
)
from bot.storage.repositories.campaigns import INVITATION, REMINDER, Campaign
from handlers.staff_render import PERCENT_FROM

WAITING = FOLLOW_UP_OPEN
SMALL = PERCENT_FROM
"""Below this many invitations percentages would mislead: only counts are shown (the same rule as in the chat)."""


@dataclass(frozen=True)
class Progress:
    """A campaign's figures (see the module docstring)."""

    campaign: Campaign
    invited: int
    waiting: int
    delivered: int
    unreachable: int
    skipped: int
    cancelled: int
    reminders: int
    reminders_sent: int
    started: int
    completed: int

    @property
    def settled(self) -> int:
        """Invitations that reached an end (sent or not): the launch progress bar's position."""
        return self.invited - self.waiting


def progress(uow: UnitOfWork, campaign: Campaign, staff_citizens: Collection[str] = ()) -> Progress:
    """The figures of `campaign` now."""
    rows = uow.session.execute(
        select(m.FollowUp.kind, m.FollowUp.status, m.FollowUp.outcome, func.count())
        .where(m.FollowUp.campaign_id == campaign.id)
        .group_by(m.FollowUp.kind, m.FollowUp.status, m.FollowUp.outcome)
    ).all()
    invitations: Counter[str] = Counter()
    reminders: Counter[str] = Counter()
    for kind, status, outcome, count in rows:
        target = invitations if kind == INVITATION else reminders if kind == REMINDER else None
        if target is not None:
            target[_bucket(status, outcome)] += count
    # counted in SQL: a campaign may have 100k responses, the staff list is a handful of ids
    completed_citizen = case((m.Response.status == RESPONSE_COMPLETED, m.Response.citizen_id))
    responses = select(
        func.count(m.Response.citizen_id.distinct()), func.count(completed_citizen.distinct())
    ).where(m.Response.campaign_id == campaign.id)
    if staff_citizens:
        responses = responses.where(m.Response.citizen_id.not_in(list(staff_citizens)))
    started, completed = uow.session.execute(responses).one()
    return Progress(
        campaign=campaign,
        invited=sum(invitations.values()),
        waiting=invitations["waiting"],
        delivered=invitations["delivered"],
        unreachable=invitations["unreachable"],
        skipped=invitations["skipped"],
        cancelled=invitations["cancelled"],
        reminders=sum(reminders.values()),
        reminders_sent=reminders["delivered"],
        started=int(started),
        completed=int(completed),
    )


def invitation_counts(uow: UnitOfWork) -> dict[int, tuple[int, int]]:
    """Campaign id → (invited, delivered), for every campaign with invitations (one query, for `campaign list`)."""
    rows = uow.session.execute(
        select(m.FollowUp.campaign_id, m.FollowUp.status, m.FollowUp.outcome, func.count())
        .where(m.FollowUp.campaign_id.is_not(None), m.FollowUp.kind == INVITATION)
        .group_by(m.FollowUp.campaign_id, m.FollowUp.status, m.FollowUp.outcome)
    ).all()
    counts: dict[int, tuple[int, int]] = {}
    for campaign_id, status, outcome, count in rows:
        invited, delivered = counts.get(campaign_id, (0, 0))
        counts[campaign_id] = (invited + count, delivered + (count if _bucket(status, outcome) == "delivered" else 0))
    return counts


def _bucket(status: str, outcome: str | None) -> str:
    if status in WAITING:
        return "waiting"
    if status == FOLLOW_UP_DONE and outcome in (None, OUTCOME_SENT):
        return "delivered"
    if outcome == OUTCOME_UNREACHABLE:
        return "unreachable"
    if status == FOLLOW_UP_CANCELLED:
        return "cancelled"
    return "skipped"


def share(part: int, whole: int) -> str:
    """`part` of `whole` with a percentage only when `whole` is large enough for one to mean something."""
    if whole >= SMALL:
        return f"{part} of {whole} ({100 * part / whole:.0f} %)"
    return f"{part} of {whole}"


def render(figures: Progress, timezone: tzinfo) -> str:
    """The figures as lines for the terminal."""
    c = figures.campaign

    def local(moment: datetime | None) -> str:
        return "—" if moment is None else moment.astimezone(timezone).strftime("%Y-%m-%d %H:%M")

    version = "" if c.survey_version is None else f" v{c.survey_version}"
    filters = ", ".join(f"{name}={'/'.join(values)}" for name, values in c.audience.items() if values) or "none"
    reminder = "none" if c.reminder_after_days is None else f"after {c.reminder_after_days} days"
    if c.reminded_at is not None:
        reminder += f" (written {local(c.reminded_at)}: {figures.reminders}, sent {figures.reminders_sent})"
    lines = [
        f"campaign {c.id}: {c.name}",
        f"  status      {c.status}",
        f"  survey      {c.survey_key}{version}",
        f"  audience    filters: {filters}",
        f"  time        {local(c.starts_at)} → {local(c.ends_at)} ({timezone})",
        f"  reminder    {reminder}",
        f"  invited     {figures.invited}",
        f"  delivered   {share(figures.delivered, figures.invited)} invited",
        f"  waiting     {figures.waiting}",
        f"  started     {share(figures.started, figures.invited)} invited",
        f"  completed   {share(figures.completed, figures.invited)} invited",
        f"  unreachable {figures.unreachable}",
        f"  skipped     {figures.skipped}",
        f"  cancelled   {figures.cancelled}",
    ]
    if figures.invited and figures.invited < SMALL:
        lines.append(f"  (fewer than {SMALL} invitations: no percentages, they would mislead)")
    return "\n".join(lines)
