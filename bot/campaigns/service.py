"""What staff do with campaigns and surveys, as functions over one unit of work (the CLI only parses and prints).

Status machine: draft → scheduled (`launch`) → running (the bot's campaign tick, at `starts_at`) → closed (`close`,
or the tick at `ends_at`); draft, scheduled and running campaigns can be cancelled. Nothing here sends: it writes
rows that the running bot picks up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo

from bot.campaigns import CHANNELS, LANGUAGES
from bot.storage.db import UnitOfWork
from bot.storage.items import OPT_IN_SURVEYS, OUTCOME_CANCELLED, OUTCOME_CLOSED
from bot.storage.repositories.campaigns import (
    CANCELLED,
    CLOSED,
    DRAFT,
    RUNNING,
    SCHEDULED,
    Campaign,
)
from bot.survey_sync import bump_catalog_generation
from surveys.catalog import SurveyCatalog

DEFAULT_DURATION = timedelta(days=14)
NAME_MAX = 200


class CampaignError(Exception):
    """Something staff asked for cannot be done; the message says what and how to fix it."""


@dataclass(frozen=True)
class CampaignSpec:
    """What `campaign create` was given (times already in UTC; None = default)."""

    survey_key: str
    name: str | None = None
    channels: Sequence[str] = ()
    languages: Sequence[str] = ()
    fields: Sequence[str] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    remind_after_days: int | None = None
    created_by: str | None = None


def parse_local_time(text: str, timezone: tzinfo) -> datetime:
    """`2026-12-07 10:00` (or `2026-12-07T10:00`, `2026-12-07`) in the city's time zone → aware UTC."""
    cleaned = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{1,2}:\d{2}(:\d{2})?)?", cleaned):
        raise CampaignError(f"expected a time like '2026-12-07 10:00' (city time), got {text!r}")
    try:
        parsed = datetime.fromisoformat(cleaned.replace(" ", "T"))
    except ValueError as exc:
        raise CampaignError(f"not a valid date or time: {text!r}") from exc
    return parsed.replace(tzinfo=timezone).astimezone(UTC)


def offered_version(uow: UnitOfWork, catalog: SurveyCatalog, key: str) -> int:
    """The version of survey `key` citizens are offered now; CampaignError if it is unknown, closed or inactive."""
    known = sorted({stored.key for stored in uow.surveys.versions()})
    if key not in known:
        raise CampaignError(f"unknown survey {key!r}; imported surveys: {', '.join(known) or '(none)'}")
    if catalog.closed_at(key) is not None:
        raise CampaignError(f"survey {key!r} is closed; reopen it first: stadtdialog survey reopen {key}")
    latest = catalog.latest(key)
    if latest is None:
        raise CampaignError(f"survey {key!r} is not offered any more (its file left the survey folder?)")
    return latest.version


def create_campaign(
    uow: UnitOfWork, spec: CampaignSpec, catalog: SurveyCatalog, field_keys: Sequence[str], now: datetime
) -> Campaign:
    """Validate `spec` and store a draft campaign."""
    version = offered_version(uow, catalog, spec.survey_key)
    for channel in spec.channels:
        if channel not in CHANNELS:
            raise CampaignError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}")
    for language in spec.languages:
        if language not in LANGUAGES:
            raise CampaignError(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
    for field in spec.fields:
        if field not in field_keys:
            raise CampaignError(f"unknown strategy field {field!r}; fields: {', '.join(field_keys)}")
    survey = catalog.get(spec.survey_key, version)
    declared = None if survey is None else survey.survey.field
    if declared and any(field != declared for field in spec.fields):
        raise CampaignError(
            f"survey {spec.survey_key!r} is about the strategy field {declared!r} (its file says so); --field is only "
            "for surveys without a field"
        )
    starts_at = spec.starts_at or now
    ends_at = spec.ends_at or starts_at + DEFAULT_DURATION
    if ends_at <= starts_at:
        raise CampaignError("the end must be after the start")
    if ends_at <= now:
        raise CampaignError("the end is in the past")
    days = spec.remind_after_days
    if days is not None and days < 1:
        raise CampaignError("--remind-after-days must be at least 1")
    if days is not None and starts_at + timedelta(days=days) >= ends_at:
        raise CampaignError(f"a reminder {days} days after the start would come after the end; choose fewer days")
    title = survey.survey.title.de if survey is not None else spec.survey_key
    name = (spec.name or title).strip()[:NAME_MAX] or spec.survey_key
    audience = {
        "channels": sorted(set(spec.channels)),
        "languages": sorted(set(spec.languages)),
        "fields": sorted(set(spec.fields)),
    }
    campaign_id = uow.campaigns.create(
        name=name,
        survey_key=spec.survey_key,
        audience=audience,
        starts_at=starts_at,
        ends_at=ends_at,
        reminder_after_days=days,
        created_by=spec.created_by,
        now=now,
    )
    return _get(uow, campaign_id)


def _get(uow: UnitOfWork, campaign_id: int) -> Campaign:
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise CampaignError(f"there is no campaign {campaign_id} (stadtdialog campaign list shows them)")
    return campaign


def get_campaign(uow: UnitOfWork, campaign_id: int) -> Campaign:
    """The campaign, or CampaignError naming the missing id."""
    return _get(uow, campaign_id)


def _transition(uow: UnitOfWork, campaign: Campaign, expected: str, **values: object) -> Campaign:
    if not uow.campaigns.update(campaign.id, expected, **values):
        raise CampaignError(f"campaign {campaign.id} changed meanwhile; try again")
    return _get(uow, campaign.id)


def launch_campaign(uow: UnitOfWork, campaign_id: int, catalog: SurveyCatalog, now: datetime) -> Campaign:
    """draft → scheduled, pinned to the survey version offered now; the bot starts it at `starts_at`."""
    campaign = _get(uow, campaign_id)
    if campaign.status != DRAFT:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status}; only a draft can be launched")
    if campaign.ends_at <= now:
        raise CampaignError(f"campaign {campaign.id} ended at its end time already; create a new one")
    version = offered_version(uow, catalog, campaign.survey_key)
    return _transition(uow, campaign, DRAFT, status=SCHEDULED, survey_version=version)


def close_campaign(uow: UnitOfWork, campaign_id: int, now: datetime) -> tuple[Campaign, int]:
    """running → closed: no more invitations or reminders; returns the campaign and how many rows were cancelled."""
    campaign = _get(uow, campaign_id)
    if campaign.status == SCHEDULED:
        raise CampaignError(
            f"campaign {campaign.id} has not started yet; cancel it instead: campaign cancel {campaign.id}"
        )
    if campaign.status != RUNNING:
        raise CampaignError(f"campaign {campaign.id} is {campaign.status}; only a running campaign can be closed")
    return finish(uow, campaign, CLOSED, now)


def cancel_campaign(uow: UnitOfWork, campaign_id: int, now: datetime) -> tuple[Campaign, int]:
    """draft, scheduled or running → cancelled; pending invitations and reminders are cancelled."""
    campaign = _get(uow, campaign_id)
    if campaign.status not in (DRAFT, SCHEDULED, RUNNING):
        raise CampaignError(f"campaign {campaign.id} is already {campaign.status}")
    return finish(uow, campaign, CANCELLED, now)


def finish(uow: UnitOfWork, campaign: Campaign, status: str, now: datetime) -> tuple[Campaign, int]:
    """End a campaign with `status` (closed or cancelled) and cancel its rows that have not reached the core."""
    ended = _transition(uow, campaign, campaign.status, status=status, closed_at=now)
    cancelled = uow.campaigns.cancel_rows(campaign.id, OUTCOME_CLOSED if status == CLOSED else OUTCOME_CANCELLED, now)
    return ended, cancelled


def send_test(
    uow: UnitOfWork,
    campaign_id: int,
    target: str,
    staff: Mapping[str, str],
    consent_version: str,
    catalog: SurveyCatalog,
    now: datetime,
) -> int:
    """One invitation to a staff member (`CHANNEL:USER` from STADTDIALOG_STAFF), due now; returns the row id."""
    campaign = _get(uow, campaign_id)
    if campaign.status == CANCELLED:
        raise CampaignError(f"campaign {campaign.id} is cancelled")
    channel, sep, user = target.partition(":")
    if not sep or not user:
        raise CampaignError(f"--to expects CHANNEL:USER, e.g. telegram:12345, got {target!r}")
    if target not in staff:
        raise CampaignError(f"{target} is not in STADTDIALOG_STAFF; test invitations go to staff only")
    citizen_id = uow.contacts.citizen_for(channel, user)
    if citizen_id is None:
        raise CampaignError(f"{target} never wrote to the bot; write to it once (e.g. /start), then try again")
    state = uow.citizens.load_state(citizen_id)
    if state is None or state.consent_version != consent_version or OPT_IN_SURVEYS not in state.opt_ins:
        # the bot sends an invitation only to someone who asked for invitations, staff included
        raise CampaignError(
            f"{target} has not switched on survey invitations (or not agreed to the current privacy notice): "
            "write /abo to the bot and switch them on, then try again"
        )
    if campaign.survey_version is None:  # a draft: the version it would be pinned to
        campaign = replace(campaign, survey_version=offered_version(uow, catalog, campaign.survey_key))
    return uow.campaigns.add_test_invitation(campaign, citizen_id, now)


def close_survey(uow: UnitOfWork, key: str, now: datetime) -> list[tuple[Campaign, int]]:
    """Close survey `key` (all versions): no longer offered; scheduled and running campaigns of it are closed
    (scheduled ones cancelled). Returns those campaigns with how many rows each cancelled."""
    if uow.surveys.set_closed(key, now) == 0:
        raise CampaignError(f"unknown survey {key!r}")
    ended = []
    for campaign in uow.campaigns.using_survey(key):
        ended.append(finish(uow, campaign, CLOSED if campaign.status == RUNNING else CANCELLED, now))
    bump_catalog_generation(uow, now)
    return ended


def reopen_survey(uow: UnitOfWork, key: str, now: datetime) -> None:
    """Offer a closed survey again."""
    if uow.surveys.set_closed(key, None) == 0:
        raise CampaignError(f"unknown survey {key!r}")
    bump_catalog_generation(uow, now)
