"""The read side staff and analysts see in the chat: campaign figures, launch/close previews, new ideas, and a
citizen's own ideas for /meineideen. Read only; every count leaves staff out and is grouped in SQL (a campaign
may have 100k responses).

Citizens' texts go through `shown_text`: on channels outside `roles.FULL_TEXT_CHANNELS` (Telegram) they are
redacted (`nlp.redact`) and shortened to `TELEGRAM_TEXT_LIMIT` characters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, case, func, literal_column, or_, select

from bot.analytics.pseudonyms import idea_pseudonym
from bot.campaigns.audience import audience, campaign_fields
from bot.campaigns.audience import staff_citizens as find_staff
from bot.campaigns.status import Progress, progress
from bot.storage import models as m
from bot.storage.db import UnitOfWork
from bot.storage.items import RESPONSE_COMPLETED
from bot.storage.repositories.campaigns import DRAFT, ROW_PENDING, RUNNING, SCHEDULED, Campaign
from handlers.events import PUBLICATION_APPROVED, PUBLICATION_NONE, PUBLICATION_REJECTED
from handlers.staff_views import (
    CampaignFigures,
    CampaignLine,
    CampaignPreview,
    FieldIdeas,
    IdeaItem,
    MyIdea,
    NewIdeas,
    QuestionDropOff,
    SupportedIdea,
)
from handlers.turn import clip
from nlp.redact import redact
from surveys.catalog import SurveyCatalog

TELEGRAM_TEXT_LIMIT = 200
MY_IDEA_LIMIT = 300
ENDED_SHOWN = 5
NO_FIELD = ""
_FIELD_KEY = func.coalesce(m.Idea.field, literal_column("''"))
"""An idea's field, "" for none (a literal, not a parameter: PostgreSQL must see the GROUP BY expression equal)."""
_OPEN_ORDER = {RUNNING: 0, SCHEDULED: 1, DRAFT: 2}




def shown_text(text: str, full: bool) -> tuple[str, bool]:
    """A citizen's text as staff see it: in full, or redacted and shortened; the flag says it was redacted."""
    if full:
        return text, False
    return clip(redact(text), TELEGRAM_TEXT_LIMIT), True


# --- campaigns ----------------------------------------------------------------------------------------------------


def _line(figures: Progress) -> CampaignLine:
    c = figures.campaign
    return CampaignLine(
        id=c.id,
        name=c.name,
        status=c.status,
        survey_key=c.survey_key,
        survey_version=c.survey_version,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        invited=figures.invited,
        delivered=figures.delivered,
        started=figures.started,
        completed=figures.completed,
    )


def campaign_lines(uow: UnitOfWork, staff_citizens: Collection[str], now: datetime) -> list[CampaignLine]:
    """Running, scheduled and draft campaigns (each group newest first), then the `ENDED_SHOWN` most recently
    ended ones. (`now` is not needed yet: a campaign's status says where it stands.)"""
    campaigns = uow.campaigns.all()  # newest first; the sort below is stable
    current = sorted((c for c in campaigns if c.status in _OPEN_ORDER), key=lambda c: _OPEN_ORDER[c.status])
    ended = sorted(
        (c for c in campaigns if c.status not in _OPEN_ORDER), key=lambda c: c.closed_at or c.ends_at, reverse=True
    )
    return [_line(progress(uow, c, staff_citizens)) for c in current + ended[:ENDED_SHOWN]]


def campaign_figures(
    uow: UnitOfWork, campaign_id: int, catalog: SurveyCatalog, staff_citizens: Collection[str], now: datetime
) -> CampaignFigures | None:
    """The live figures of one campaign; None if there is no such campaign."""
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        return None
    figures = progress(uow, campaign, staff_citizens)
    staff = list(staff_citizens)
    return CampaignFigures(
        line=_line(figures),
        audience={
            "channels": tuple(campaign.filter("channels")),
            "languages": tuple(campaign.filter("languages")),
            # the fields that decide the audience: the survey file's field, else the campaign's --field list
            "fields": tuple(campaign_fields(campaign, catalog)),
        },
        reminder_after_days=campaign.reminder_after_days,
        waiting=figures.waiting,
        unreachable=figures.unreachable,
        skipped=figures.skipped,
        cancelled=figures.cancelled,
        reminders_sent=figures.reminders_sent,
        completion_rate=None if not figures.started else figures.completed / figures.started,
        median_minutes=_median_minutes(uow, campaign.id, staff),
        drop_off=_drop_off(uow, campaign, catalog, staff),
        ideas_per_field=_ideas_per_field(uow, campaign, staff, now),
    )


def _without(query: Select[Any], column: Any, staff: Sequence[str]) -> Select[Any]:
    """`query` without staff's rows; rows without a citizen (a kept public idea whose author deleted their data)
    stay (`NOT IN` alone drops NULL)."""
    return query.where(or_(column.not_in(staff), column.is_(None))) if staff else query


def _median_minutes(uow: UnitOfWork, campaign_id: int, staff: Sequence[str]) -> float | None:
    """Median minutes from start to completion of the campaign's completed responses, computed in the database:
    count, then read the middle one or two durations in order."""
    if uow.session.get_bind().dialect.name == "sqlite":
        minutes: Any = (func.julianday(m.Response.completed_at) - func.julianday(m.Response.started_at)) * 1440.0
    else:
        minutes = func.extract("epoch", m.Response.completed_at - m.Response.started_at) / 60.0
    completed = _without(
        select(minutes.label("minutes")).where(
            m.Response.campaign_id == campaign_id,
            m.Response.status == RESPONSE_COMPLETED,
            m.Response.completed_at.is_not(None),
        ),
        m.Response.citizen_id,
        staff,
    )
    count = int(uow.session.execute(select(func.count()).select_from(completed.subquery())).scalar_one())
    if count == 0:
        return None
    middle = completed.order_by(minutes).offset((count - 1) // 2).limit(1 if count % 2 else 2)
    values = [float(value) for value in uow.session.execute(middle).scalars()]
    return round(sum(values) / len(values), 2)  # SQLite's julianday leaves float noise below a second


def _drop_off(
    uow: UnitOfWork, campaign: Campaign, catalog: SurveyCatalog, staff: Sequence[str]
) -> tuple[QuestionDropOff, ...]:
    """Per question of the pinned survey version, in file order: responses that answered it, and unfinished
    responses whose last answered question (in survey order, not in time) it is."""
    version = campaign.survey_version
    if version is None:
        latest = catalog.latest(campaign.survey_key)
        version = None if latest is None else latest.version
    stored = None if version is None else catalog.get(campaign.survey_key, version)
    if stored is None:
        return ()
    questions = stored.survey.questions

    def answers(*columns: Any) -> Select[Any]:
        query = (
            select(*columns)
            .join(m.Response, m.Response.id == m.Answer.response_id)
            .where(m.Response.campaign_id == campaign.id)
        )
        return _without(query, m.Response.citizen_id, staff)

    reached = dict(
        uow.session.execute(answers(m.Answer.question_id, func.count()).group_by(m.Answer.question_id)).tuples().all()
    )
    # answers to anything else (follow-up questions, ids a later version dropped) have no position: NULL
    position = case({q.id: index for index, q in enumerate(questions)}, value=m.Answer.question_id)
    last = (
        answers(m.Answer.response_id, func.max(position).label("position"))
        .where(m.Response.status != RESPONSE_COMPLETED)
        .group_by(m.Answer.response_id)
        .subquery()
    )
    stopped = dict(
        uow.session.execute(
            select(last.c.position, func.count()).where(last.c.position.is_not(None)).group_by(last.c.position)
        ).tuples().all()
    )
    return tuple(
        QuestionDropOff(
            question_id=q.id,
            text={"de": q.text.de, **({"en": q.text.en} if q.text.en else {})},
            reached=int(reached.get(q.id, 0)),
            stopped_here=int(stopped.get(index, 0)),
        )
        for index, q in enumerate(questions)
    )


def _ideas_per_field(uow: UnitOfWork, campaign: Campaign, staff: Sequence[str], now: datetime) -> dict[str, int]:
    """Ideas filed from the campaign's start until it ended (closed, or its end time) or now, by field."""
    until = min(campaign.closed_at or campaign.ends_at, now)
    if until <= campaign.starts_at:
        return {}
    field = _FIELD_KEY
    query = _without(
        select(field, func.count())
        .where(m.Idea.created_at >= campaign.starts_at, m.Idea.created_at < until)
        .group_by(field),
        m.Idea.citizen_id,
        staff,
    )
    return {key: int(count) for key, count in uow.session.execute(query).tuples()}


def campaign_preview(
    uow: UnitOfWork,
    campaign_id: int,
    action: Literal["launch", "close"],
    catalog: SurveyCatalog,
    *,
    consent_version: str,
    staff: Mapping[str, str],
    secret: bytes,
    now: datetime,
) -> CampaignPreview | None:
    """The dry run of launching or closing a campaign now; None if there is no such campaign. A launch counts the
    audience exactly as `stadtdialog campaign launch --dry-run` does; a close counts the rows it would cancel."""
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        return None
    line = _line(progress(uow, campaign, find_staff(uow, staff, secret)))
    if action == "launch":
        problem = _launch_problem(campaign, catalog, now)
        offered = catalog.latest(campaign.survey_key)
        if problem is not None or offered is None:
            return CampaignPreview(action, line, problem or "survey_gone")
        pinned = replace(campaign, survey_version=campaign.survey_version or offered.version)
        members = audience(uow, pinned, catalog, consent_version=consent_version, staff=staff, secret=secret)
        return CampaignPreview(
            action,
            line,
            audience=len(members),
            by_channel=dict(sorted(Counter(member.channel for member in members).items())),
            by_language=dict(sorted(Counter(member.language for member in members).items())),
        )
    if action == "close":
        if campaign.status == SCHEDULED:
            return CampaignPreview(action, line, "scheduled")
        if campaign.status != RUNNING:
            return CampaignPreview(action, line, "not_running")
        return CampaignPreview(action, line, pending=_pending_rows(uow, campaign.id))
    raise ValueError(f"unknown preview action {action!r}")


def _launch_problem(campaign: Campaign, catalog: SurveyCatalog, now: datetime) -> str | None:
    """Why `bot.campaigns.service.launch_campaign` would refuse now, as a code (its checks, in its order)."""
    if campaign.status != DRAFT:
        return "not_draft"
    if campaign.ends_at <= now:
        return "ended"
    if catalog.closed_at(campaign.survey_key) is not None:
        return "survey_closed"
    if catalog.latest(campaign.survey_key) is None:
        return "survey_gone"
    return None


def _pending_rows(uow: UnitOfWork, campaign_id: int) -> int:
    """The invitation and reminder rows `CampaignRepository.cancel_rows` would cancel now."""
    query = select(func.count()).where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.status.in_(ROW_PENDING))
    return int(uow.session.execute(query).scalar_one())


# --- ideas --------------------------------------------------------------------------------------------------------

_IDEA_COLUMNS = (
    m.Idea.id,
    m.Idea.text,
    m.Idea.fields,
    m.Idea.created_at,
    m.Idea.status,
    m.Idea.status_note,
    m.Idea.status_note_en,
    m.Idea.status_at,
)


def _item(row: Any, full_text: bool, secret: bytes) -> IdeaItem:
    text, redacted = shown_text(row.text, full_text)
    return IdeaItem(
        ref=idea_pseudonym(secret, row.id),
        idea_id=row.id,
        text=text,
        fields=tuple(row.fields or ()),
        created_at=row.created_at,
        status=row.status,
        status_note=row.status_note,
        status_note_en=row.status_note_en,
        status_at=row.status_at,
        redacted=redacted,
    )


def new_ideas(
    uow: UnitOfWork,
    field_keys: Sequence[str],
    *,
    per_field: int,
    full_text: bool,
    secret: bytes,
    staff_citizens: Collection[str],
    only_field: str | None = None,
) -> NewIdeas:
    """The latest `per_field` ideas of every field (newest first) with each field's total, staff's ideas left out.
    Every key of `field_keys` is listed, empty or not; then fields no longer in the taxonomy that still have ideas,
    then "" (ideas filed without a field) if there are any. `only_field` lists that one field alone."""
    field = _FIELD_KEY
    staff = list(staff_citizens)

    def ideas(*columns: Any) -> Select[Any]:
        query = _without(select(*columns), m.Idea.citizen_id, staff)
        return query if only_field is None else query.where(field == only_field)

    totals = {key: int(count) for key, count in uow.session.execute(ideas(field, func.count()).group_by(field))}
    latest: dict[str, list[IdeaItem]] = {}
    if per_field > 0 and totals:
        rank = func.row_number().over(partition_by=field, order_by=(m.Idea.created_at.desc(), m.Idea.id.desc()))
        ranked = ideas(*_IDEA_COLUMNS, field.label("field_key"), rank.label("rank")).subquery()
        query = (
            select(ranked)
            .where(ranked.c.rank <= per_field)
            .order_by(ranked.c.field_key, ranked.c.rank)
        )
        for row in uow.session.execute(query):
            latest.setdefault(row.field_key, []).append(_item(row, full_text, secret))
    if only_field is not None:
        keys = [only_field]
    else:
        known = list(dict.fromkeys(field_keys))
        keys = known + sorted(key for key in totals if key not in known and key != NO_FIELD)
        if NO_FIELD in totals and NO_FIELD not in keys:
            keys.append(NO_FIELD)
    return NewIdeas(
        fields=tuple(FieldIdeas(key, tuple(latest.get(key, ())), totals.get(key, 0)) for key in keys),
        redacted=not full_text,
    )


def idea_item(uow: UnitOfWork, idea_id: str, *, full_text: bool, secret: bytes) -> IdeaItem | None:
    """One idea by its internal id as staff see it; None if there is none (deleted with its author)."""
    row = uow.session.execute(select(*_IDEA_COLUMNS).where(m.Idea.id == idea_id)).first()
    return None if row is None else _item(row, full_text, secret)


def my_ideas(uow: UnitOfWork, citizen_id: str) -> list[MyIdea]:
    """The citizen's own ideas, newest first, their own text shortened to `MY_IDEA_LIMIT` characters, with the
    publication state, the public text (while approved) and the number of supporters."""
    rows = uow.session.execute(
        select(*_IDEA_COLUMNS, m.Idea.publication, m.Idea.public_text, m.Idea.merged_into, m.Idea.publication_note)
        .where(m.Idea.citizen_id == citizen_id)
        .order_by(m.Idea.created_at.desc(), m.Idea.id.desc())
    ).all()
    counts = uow.ideas.support_counts([row.id for row in rows])
    return [
        MyIdea(
            text=clip(row.text, MY_IDEA_LIMIT),
            fields=tuple(row.fields or ()),
            created_at=row.created_at,
            status=row.status,
            status_note=row.status_note,
            status_note_en=row.status_note_en,
            status_at=row.status_at,
            idea_id=row.id,
            publication=row.publication or PUBLICATION_NONE,
            public_text=row.public_text if row.publication == PUBLICATION_APPROVED else None,
            supporters=counts.get(row.id, 0),
            merged=row.merged_into is not None,
            publication_note=row.publication_note if row.publication == PUBLICATION_REJECTED else None,
        )
        for row in rows
    ]


def supported_ideas(uow: UnitOfWork, citizen_id: str) -> list[SupportedIdea]:
    """The ideas the citizen supports that are still on the board (approved, not merged), newest support first;
    their public text only."""
    rows = uow.session.execute(
        select(m.Idea.id, m.Idea.public_text)
        .join(m.IdeaSupport, m.IdeaSupport.idea_id == m.Idea.id)
        .where(m.IdeaSupport.citizen_id == citizen_id, m.Idea.publication == PUBLICATION_APPROVED,
               m.Idea.merged_into.is_(None), m.Idea.public_text.is_not(None))
        .order_by(m.IdeaSupport.created_at.desc(), m.Idea.id)
    ).all()
    counts = uow.ideas.support_counts([row.id for row in rows])
    return [SupportedIdea(row.id, clip(row.public_text, MY_IDEA_LIMIT), counts.get(row.id, 0)) for row in rows]
