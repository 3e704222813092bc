"""The campaign tick: what the running bot does every few seconds for scheduled and running campaigns.

- At `starts_at` a scheduled campaign's audience is materialised: one `invitation` row per citizen, due at the
  start, in batches of their own transactions. The unique (campaign_id, citizen_id, kind) constraint makes this
  idempotent, so a bot killed halfway resumes on its next tick and nobody is invited twice. Only when every batch
  is written does the campaign become `running` (with `launched_at`). The follow-up claimer then fans the rows
  out just in time at each channel's send rate.
- `reminder_after_days` after the start, once: a `campaign_reminder` row to everyone who was sent the invitation
  or started the survey through it and has not completed it.
- At `ends_at`: closed; invitations and reminders that have not reached the core are cancelled (outcome `closed`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.campaigns.audience import audience, staff_citizens
from bot.campaigns.service import finish
from bot.storage.db import Database, UnitOfWork
from bot.storage.items import OUTCOME_CANCELLED, OUTCOME_CLOSED
from bot.storage.repositories.campaigns import (
    CANCELLED,
    CLOSED,
    INVITATION,
    REMINDER,
    RUNNING,
    SCHEDULED,
    Campaign,
)
from surveys.catalog import SurveyCatalog

log = logging.getLogger(__name__)

BATCH = 500
"""Rows written per transaction: small enough that citizens' events never wait long for the (SQLite) write lock."""


@dataclass
class TickReport:
    """What one tick did, per campaign id."""

    started: dict[int, int] = field(default_factory=dict)  # campaign → invitation rows written
    reminded: dict[int, int] = field(default_factory=dict)  # campaign → reminder rows written
    closed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AudienceSettings:
    """What the audience query needs from the configuration."""

    consent_version: str
    staff: Mapping[str, str]
    secret: bytes


DbRunner = Callable[..., Awaitable[Any]]
"""Runs a blocking database function with its arguments off the event loop (`Runtime._in_db`). Every batch is its
own call, so citizens' events get the (SQLite) database thread between two batches."""


async def run_inline(function: Callable[..., Any], *args: Any) -> Any:
    """A DbRunner that runs the function right here (tests, the CLI)."""
    return function(*args)


async def campaign_tick(
    run: DbRunner, db: Database, catalog: SurveyCatalog, settings: AudienceSettings, now: datetime,
    *, batch: int = BATCH,
) -> TickReport:
    """Start, remind and close campaigns that are due at `now`."""
    report = TickReport()
    campaigns: list[Campaign] = await run(_open_campaigns, db)
    for campaign in campaigns:
        if campaign.ends_at <= now or catalog.closed_at(campaign.survey_key) is not None:
            if await run(_close, db, campaign, now):
                report.closed.append(campaign.id)
        elif campaign.status == SCHEDULED and campaign.starts_at <= now:
            members = await run(_audience_ids, db, campaign, catalog, settings)
            written = await _write(run, db, campaign, INVITATION, members, campaign.starts_at, now, batch)
            if written is not None and await run(_mark_running, db, campaign, now):
                log.info("event=campaign_started campaign=%s audience=%s new_rows=%s", campaign.id, len(members),
                         written)
                report.started[campaign.id] = written
        elif campaign.status == RUNNING and _reminder_due(campaign, now):
            candidates = await run(_reminder_candidates, db, campaign.id, settings)
            written = await _write(run, db, campaign, REMINDER, candidates, now, now, batch)
            if written is not None:
                await run(_mark_reminded, db, campaign, now)
                log.info("event=campaign_reminded campaign=%s new_rows=%s", campaign.id, written)
                report.reminded[campaign.id] = written
    return report


async def _write(
    run: DbRunner, db: Database, campaign: Campaign, kind: str, citizen_ids: list[str], due_at: datetime,
    now: datetime, batch: int,
) -> int | None:
    """Write `kind` rows in batches; None if the campaign changed status meanwhile (its rows are then cancelled)."""
    written = 0
    for offset in range(0, len(citizen_ids), batch):
        count = await run(_write_batch, db, campaign, kind, citizen_ids[offset : offset + batch], due_at, now)
        if count is None:
            return None
        written += count
    return written


def _open_campaigns(db: Database) -> list[Campaign]:
    with db.unit_of_work(read_only=True) as uow:
        return uow.campaigns.with_status(SCHEDULED, RUNNING)


def _close(db: Database, campaign: Campaign, now: datetime) -> bool:
    status = CLOSED if campaign.status == RUNNING else CANCELLED  # a campaign that never started was not run
    with db.unit_of_work() as uow:
        current = uow.campaigns.get(campaign.id)
        if current is None or current.status != campaign.status:
            return False
        _, cancelled = finish(uow, current, status, now)
    log.info("event=campaign_ended campaign=%s status=%s cancelled_rows=%s", campaign.id, status, cancelled)
    return True


def _audience_ids(db: Database, campaign: Campaign, catalog: SurveyCatalog, settings: AudienceSettings) -> list[str]:
    with db.unit_of_work(read_only=True) as uow:
        members = audience(
            uow, campaign, catalog,
            consent_version=settings.consent_version, staff=settings.staff, secret=settings.secret,
        )
    return [member.citizen_id for member in members]


def _write_batch(
    db: Database, campaign: Campaign, kind: str, citizen_ids: list[str], due_at: datetime, now: datetime
) -> int | None:
    with db.unit_of_work() as uow:
        current = uow.campaigns.get(campaign.id)
        if current is None or current.status != campaign.status:  # ended, or another worker finished: stop
            _cancel_if_ended(uow, current, campaign.id, now)
            return None
        return uow.campaigns.add_rows(current, kind, citizen_ids, due_at, now)


def _cancel_if_ended(uow: UnitOfWork, current: Campaign | None, campaign_id: int, now: datetime) -> None:
    """Rows written after staff closed or cancelled the campaign are cancelled too (another worker that started
    the campaign first leaves them alone)."""
    if current is None or current.status in (CLOSED, CANCELLED):
        outcome = OUTCOME_CLOSED if current is not None and current.status == CLOSED else OUTCOME_CANCELLED
        uow.campaigns.cancel_rows(campaign_id, outcome, now)


def _mark_running(db: Database, campaign: Campaign, now: datetime) -> bool:
    with db.unit_of_work() as uow:
        if uow.campaigns.update(campaign.id, SCHEDULED, status=RUNNING, launched_at=now):
            return True
        _cancel_if_ended(uow, uow.campaigns.get(campaign.id), campaign.id, now)
        return False


def _reminder_due(campaign: Campaign, now: datetime) -> bool:
    days = campaign.reminder_after_days
    return days is not None and campaign.reminded_at is None and campaign.starts_at + timedelta(days=days) <= now


def _reminder_candidates(db: Database, campaign_id: int, settings: AudienceSettings) -> list[str]:
    with db.unit_of_work(read_only=True) as uow:
        staff = staff_citizens(uow, settings.staff, settings.secret)
        return uow.campaigns.reminder_candidates(campaign_id, staff)


def _mark_reminded(db: Database, campaign: Campaign, now: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.campaigns.update(campaign.id, RUNNING, reminded_at=now)
