"""Who a campaign invites: opted-in, currently consented, reachable citizens — never staff.

A citizen belongs to a campaign's audience when all of these hold:
- a current `surveys` opt-in (`opt_ins.topic = 'surveys'`, not withdrawn). An opt-in for all fields (`[]`) matches
  every campaign; an opt-in for chosen fields matches a campaign only if one of them is among the campaign's
  fields: the survey file's `field:`, or for a survey without one the campaign's `--field` list (a campaign with
  neither reaches only citizens who opted in to all surveys);
- consent to the privacy notice in force (`citizens.consent_version` = `STADTDIALOG_CONSENT_VERSION`);
- a reachable contact (`contacts.unreachable_at IS NULL`) on one of the campaign's channels, and the campaign's
  language (both filters empty = any);
- not staff (`STADTDIALOG_STAFF`), and has not already completed this survey (any version).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.identity import pseudonym
from bot.storage import models as m
from bot.storage.db import UnitOfWork
from bot.storage.items import OPT_IN_SURVEYS, RESPONSE_COMPLETED
from bot.storage.repositories.campaigns import Campaign
from surveys.catalog import SurveyCatalog


@dataclass(frozen=True)
class Member:
    """One citizen of an audience, with the channel the invitation will go to and their language."""

    citizen_id: str
    channel: str
    language: str


def campaign_fields(campaign: Campaign, catalog: SurveyCatalog) -> list[str]:
    """The strategy fields a campaign is about: the survey file's `field:`, else the campaign's `--field` list.

    The dialogue core applies the same rule when an invitation is due (a citizen who chose other fields is
    skipped), so an audience never holds anyone the core would then refuse."""
    version = _survey_version(campaign, catalog)
    stored = None if version is None else catalog.get(campaign.survey_key, version)
    if stored is not None and stored.survey.field:
        return [stored.survey.field]
    return campaign.filter("fields")


def _survey_version(campaign: Campaign, catalog: SurveyCatalog) -> int | None:
    if campaign.survey_version is not None:
        return campaign.survey_version
    latest = catalog.latest(campaign.survey_key)
    return None if latest is None else latest.version


def staff_ids(staff: Mapping[str, str], secret: bytes) -> tuple[set[tuple[str, str]], set[str]]:
    """Staff as (channel, user id) pairs and as pseudonymous citizen ids (`STADTDIALOG_STAFF` keys)."""
    pairs = set()
    for entry in staff:
        channel, _, user = entry.partition(":")
        pairs.add((channel, user))
    return pairs, {pseudonym(secret, channel, user) for channel, user in pairs}


def audience(
    uow: UnitOfWork,
    campaign: Campaign,
    catalog: SurveyCatalog,
    *,
    consent_version: str,
    staff: Mapping[str, str],
    secret: bytes,
) -> list[Member]:
    """The campaign's audience now, ordered by citizen id (see the module docstring for who is in it)."""
    channels, languages = campaign.filter("channels"), campaign.filter("languages")
    fields = set(campaign_fields(campaign, catalog))
    query = (
        select(m.Citizen.id, m.Citizen.language, m.Contact.channel, m.OptIn.fields)
        .join(
            m.OptIn,
            and_(
                m.OptIn.citizen_id == m.Citizen.id,
                m.OptIn.topic == OPT_IN_SURVEYS,
                m.OptIn.withdrawn_at.is_(None),
            ),
        )
        .join(m.Contact, m.Contact.citizen_id == m.Citizen.id)
        .where(m.Citizen.consent_version == consent_version, m.Contact.unreachable_at.is_(None))
        .order_by(m.Citizen.id, m.Contact.id)
    )
    if languages:
        query = query.where(m.Citizen.language.in_(languages))
    rows = uow.session.execute(query).all()
    excluded = staff_citizens(uow, staff, secret) | _completed(uow, campaign.survey_key)
    members: dict[str, Member] = {}
    for row in rows:
        if row.id in excluded or row.id in members:
            continue
        if channels and row.channel not in channels:
            continue
        if not _fields_match(row.fields, fields):
            continue
        members[row.id] = Member(row.id, row.channel, row.language)
    return list(members.values())


def _fields_match(opted: Sequence[str] | None, campaign: set[str]) -> bool:
    """An opt-in for all fields (`[]`) matches every campaign; chosen fields need one in common."""
    return not opted or bool(set(opted) & campaign)


def _completed(uow: UnitOfWork, survey_key: str) -> set[str]:
    query = (
        select(m.Response.citizen_id)
        .join(m.Survey, m.Survey.id == m.Response.survey_id)
        .where(m.Survey.key == survey_key, m.Response.status == RESPONSE_COMPLETED)
    )
    return set(uow.session.execute(query).scalars())


def staff_citizens(uow: UnitOfWork, staff: Mapping[str, str], secret: bytes) -> set[str]:
    """Pseudonymous ids of staff: the allowlist entries' pseudonyms plus every citizen with a contact on the
    allowlist (a contact's citizen id need not be that contact's own pseudonym)."""
    return set(staff_citizen_ids(uow.session, staff, secret))


def staff_citizen_ids(session: Session, staff: Mapping[str, str], secret: bytes) -> frozenset[str]:
    """`staff_citizens` for a bare session (the analysts' read side): one query for all allowlisted contacts."""
    pairs, pseudonyms = staff_ids(staff, secret)
    if not pairs:
        return frozenset(pseudonyms)
    contacts = session.execute(
        select(m.Contact.citizen_id).where(
            or_(*(and_(m.Contact.channel == channel, m.Contact.channel_user_id == user) for channel, user in pairs))
        )
    ).scalars()
    return frozenset(pseudonyms) | frozenset(contacts)

