"""Read-only queries of the analyst exports and the report: survey versions, responses, ideas, follow-ups.

Everything streams: the main query is read in pages (`PAGE_SIZE` rows, a server-side cursor on PostgreSQL), and
each page's answers and follow-up rows come with one `IN` query per page — memory stays flat however many
responses there are. Call these inside one `Database.unit_of_work(read_only=True)` and consume the iterators
before it ends. Records carry the stored citizen id; exports replace it by a scoped pseudonym (`pseudonyms`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from bot.storage import models as m
from handlers.events import PUBLICATION_APPROVED
from surveys.schema import AnswerValue, Survey

PAGE_SIZE = 1000
SURVEY_FOLLOWUP_KIND = "survey_followup"  # handlers.outreach.SURVEY_FOLLOWUP (not imported: no dialogue code here)
RESPONSE_COMPLETED = "completed"
KNOWN_CHANNELS = ("telegram", "matrix", "terminal")

# The state of a follow-up question's follow_ups row, as the exports see it.
FOLLOW_UP_SENT = "sent"  # the question went out (the citizen may not have answered yet)
FOLLOW_UP_PENDING = "pending"  # scheduled, not yet sent
FOLLOW_UP_NOT_SENT = "not_sent"  # ended unsent (no opt-in any more, paused, cancelled, failed)


@dataclass(frozen=True)
class ExportFilter:
    """Which rows an export or report covers. `since` is inclusive, `until` exclusive; both UTC-aware.

    Responses (and their follow-ups) are selected by when they were started, ideas by when they were submitted.
    `campaign` is a campaign's name (or its number); `channel` telegram, matrix or terminal. `exclude`: citizen
    ids whose rows are left out (staff who tried the bot are no citizens: see
    `bot.campaigns.audience.staff_citizen_ids`).
    """

    survey: str | None = None
    campaign: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    exclude: frozenset[str] = frozenset()  # citizen ids left out of every count and row (staff)

    def for_survey(self, key: str | None) -> ExportFilter:
        """The same filter for survey `key` (None: every survey)."""
        return replace(self, survey=key)


@dataclass(frozen=True)
class StoredAnswer:
    """One stored answer: its value (None = skipped), for free text the classifier's view; `answered_at` and
    `model_version` only in follow-up records."""

    value: AnswerValue
    field: str | None = None
    scores: dict[str, float] = dataclasses.field(default_factory=dict)
    answered_at: datetime | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class ResponseRecord:
    """One response with everything the exports need. `answers` also holds the answers to follow-up questions
    (under the follow-up's id); `follow_ups` maps follow-up id → FOLLOW_UP_SENT / _PENDING / _NOT_SENT."""

    response_id: str
    citizen_id: str
    version: int
    status: str  # in_progress or completed
    started_at: datetime
    completed_at: datetime | None
    campaign: str | None
    channel: str | None
    answers: dict[str, StoredAnswer]
    follow_ups: dict[str, str]

    @property
    def completed(self) -> bool:
        return self.status == RESPONSE_COMPLETED

    def values(self) -> dict[str, AnswerValue]:
        """Question id → stored value, the mapping `surveys.engine` works with."""
        return {question_id: answer.value for question_id, answer in self.answers.items()}


@dataclass(frozen=True)
class IdeaRecord:
    idea_id: str
    citizen_id: str | None  # None: a kept public idea whose author deleted their data
    created_at: datetime
    status: str
    text: str
    fields: tuple[str, ...]  # the fields the citizen chose (first = `Idea.field`)
    proposed_field: str | None
    confident: bool | None
    scores: dict[str, float]
    model_version: str | None
    channel: str | None
    status_note: str | None = None  # the city's public note on the status (German)
    status_at: datetime | None = None  # when staff last set the status (None: still as filed)
    public_text: str | None = None  # only while approved (issue 13)
    support_count: int = 0
    merged_into: str | None = None  # internal id of the idea it was merged into
    theme: str | None = None


@dataclass(frozen=True)
class FollowUpRecord:
    """One follow_ups row asking a survey's follow-up question, with the response it belongs to."""

    row_id: int
    citizen_id: str
    response_id: str
    survey: str
    version: int
    follow_up_id: str
    state: str  # FOLLOW_UP_SENT / FOLLOW_UP_PENDING / FOLLOW_UP_NOT_SENT
    outcome: str | None  # why a row ended unsent (no_opt_in, paused, …)
    due_at: datetime
    sent_at: datetime | None
    answer: StoredAnswer | None
    campaign: str | None
    channel: str | None


class FilterError(ValueError):
    """A filter names something the database does not know (survey, campaign, channel)."""


# --------------------------------------------------------------------------------------------------- lookups


def survey_versions(session: Session, key: str) -> list[tuple[int, Survey]]:
    """Every stored version of survey `key` as (version, parsed definition), ascending; empty if unknown."""
    rows = session.execute(
        select(m.Survey.version, m.Survey.definition).where(m.Survey.key == key).order_by(m.Survey.version)
    ).all()
    return [(version, Survey.model_validate(definition)) for version, definition in rows]


def survey_keys(session: Session) -> list[str]:
    """Every stored survey key, sorted."""
    return list(session.execute(select(m.Survey.key).distinct().order_by(m.Survey.key)).scalars())


def surveys_with_responses(session: Session, flt: ExportFilter) -> list[str]:
    """Keys of the surveys that have at least one response matching `flt` (its `survey` is ignored), sorted."""
    query = filtered_responses(select(m.Survey.key).distinct(), session, flt.for_survey(None))
    return sorted(session.execute(query).scalars())


def channels(session: Session) -> list[str]:
    """The channels citizens have used, sorted."""
    return list(session.execute(select(m.Contact.channel).distinct().order_by(m.Contact.channel)).scalars())


def campaign_ids(session: Session, campaign: str) -> list[int]:
    """Ids of the campaigns called `campaign` (or numbered so, "12" or "#12"); empty when there is none."""
    names = list(session.execute(select(m.Campaign.id).where(m.Campaign.name == campaign)).scalars())
    number = campaign.removeprefix("#")
    if not names and number.isdigit():
        names = list(session.execute(select(m.Campaign.id).where(m.Campaign.id == int(number))).scalars())
    return names


def check_filter(session: Session, flt: ExportFilter) -> None:
    """Raise FilterError when `flt` names an unknown survey, campaign or channel (an export would be empty by
    mistake); a known channel nobody used is fine (an empty export)."""
    if flt.survey is not None and flt.survey not in survey_keys(session):
        known = ", ".join(survey_keys(session)) or "none"
        raise FilterError(f"unknown survey {flt.survey!r} (stored surveys: {known})")
    if flt.campaign is not None and not campaign_ids(session, flt.campaign):
        raise FilterError(f"unknown campaign {flt.campaign!r} (give its name as `campaign list` shows it, or #id)")
    if flt.channel is not None and flt.channel not in KNOWN_CHANNELS:
        raise FilterError(f"unknown channel {flt.channel!r} (channels: {', '.join(KNOWN_CHANNELS)})")
    if flt.since is not None and flt.until is not None and flt.until <= flt.since:
        raise FilterError("the period is empty: --until is before --since")


# --------------------------------------------------------------------------------------------------- responses


def _channel_of(citizen: Any) -> ColumnElement[Any]:
    """The channel of the citizen's first contact (the one their pseudonymous id was made from)."""
    return (
        select(m.Contact.channel)
        .where(m.Contact.citizen_id == citizen)
        .order_by(m.Contact.id)
        .limit(1)
        .scalar_subquery()
    )


def _in_period_and_channel(
    query: Select[Any], when: Any, citizen: Any, flt: ExportFilter, authorless: bool = False
) -> Select[Any]:
    """`query` restricted to `when` in [since, until) and to citizens of `flt.channel` (what applies to every
    kind of row: responses by their start, ideas by their submission); `authorless`: rows without a citizen stay
    (they are nobody's, so no staff exclusion applies to them)."""
    if flt.since is not None:
        query = query.where(when >= flt.since)
    if flt.until is not None:
        query = query.where(when < flt.until)
    if flt.channel is not None:
        query = query.where(_channel_of(citizen) == flt.channel)
    if flt.exclude:
        excluded = citizen.not_in(sorted(flt.exclude))
        query = query.where(or_(excluded, citizen.is_(None)) if authorless else excluded)
    return query


def filtered_responses(query: Select[Any], session: Session, flt: ExportFilter) -> Select[Any]:
    """`query` over responses (joined with their survey) restricted by `flt`."""
    query = query.select_from(m.Response).join(m.Survey, m.Survey.id == m.Response.survey_id)
    if flt.survey is not None:
        query = query.where(m.Survey.key == flt.survey)
    if flt.campaign is not None:
        query = query.where(m.Response.campaign_id.in_(campaign_ids(session, flt.campaign) or [-1]))
    return _in_period_and_channel(query, m.Response.started_at, m.Response.citizen_id, flt)


def _scores(stored: Any) -> dict[str, float]:
    if not isinstance(stored, dict):
        return {}
    return {str(k): float(v) for k, v in stored.items() if isinstance(v, int | float) and not isinstance(v, bool)}


_CACHED_LENGTH = 200
_CACHE_SIZE = 20_000


class _Decoder:
    """JSON text → value, remembering short texts: option ids, numbers, yes/no and choice lists repeat across
    thousands of answers (decoding dominated the export's time). Decoded values are shared: read them only."""

    def __init__(self) -> None:
        self.known: dict[str, Any] = {}

    def __call__(self, raw: str | None) -> Any:
        if raw is None:
            return None
        found = self.known.get(raw, _MISSING)
        if found is not _MISSING:
            return found
        value = json.loads(raw)
        if len(raw) <= _CACHED_LENGTH:
            if len(self.known) >= _CACHE_SIZE:
                self.known.clear()
            self.known[raw] = value
        return value


_MISSING = object()


def _answers(
    session: Session, response_ids: Sequence[str], decode: _Decoder, *, details: bool = False
) -> dict[str, dict[str, StoredAnswer]]:
    """The answers of these responses. JSON is read as text and decoded here (`_Decoder`); `details` adds when
    each was given and the classifier's model version."""
    columns: list[Any] = [m.Answer.response_id, m.Answer.question_id, cast(m.Answer.value, Text), m.Answer.field,
                          cast(m.Answer.scores, Text)]
    if details:
        columns += [m.Answer.answered_at, m.Answer.model_version]
    # One fetch per page (`all()`, not row by row: SQLAlchemy's per-row fetch cost more than the decoding).
    rows = session.connection().execute(select(*columns).where(m.Answer.response_id.in_(response_ids))).all()
    answers: dict[str, dict[str, StoredAnswer]] = {}
    if details:
        for response_id, question_id, value, field_key, scores, answered_at, model_version in rows:
            answers.setdefault(response_id, {})[question_id] = StoredAnswer(
                decode(value), field_key, _scores(decode(scores)) if scores is not None else {},
                answered_at, model_version,
            )
        return answers
    for response_id, question_id, value, field_key, scores in rows:
        per_response = answers.get(response_id)
        if per_response is None:
            per_response = answers[response_id] = {}
        per_response[question_id] = StoredAnswer(
            decode(value), field_key, _scores(decode(scores)) if scores is not None else {}
        )
    return answers


def _follow_up_state(status: str, sent_at: datetime | None) -> str:
    if sent_at is not None:
        return FOLLOW_UP_SENT
    if status in ("pending", "running", "held", "queued"):
        return FOLLOW_UP_PENDING
    return FOLLOW_UP_NOT_SENT


def follow_up_id_of(payload: Any) -> str | None:
    """The survey follow-up a `survey_followup` row asks (its payload's `followup_id`); None for a malformed row."""
    follow_up_id = payload.get("followup_id") if isinstance(payload, dict) else None
    return follow_up_id if isinstance(follow_up_id, str) else None


def _follow_up_states(session: Session, response_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    rows = session.execute(
        select(m.FollowUp.response_id, m.FollowUp.payload, m.FollowUp.status, m.FollowUp.sent_at)
        .where(m.FollowUp.kind == SURVEY_FOLLOWUP_KIND, m.FollowUp.response_id.in_(response_ids))
        .order_by(m.FollowUp.id)
    )
    states: dict[str, dict[str, str]] = {}
    for response_id, payload, status, sent_at in rows:
        follow_up_id = follow_up_id_of(payload)
        if response_id is None or follow_up_id is None:
            continue
        per_response = states.setdefault(response_id, {})
        state = _follow_up_state(status, sent_at)
        if per_response.get(follow_up_id) != FOLLOW_UP_SENT:  # a sent row wins over a later unsent duplicate
            per_response[follow_up_id] = state
    return states


def iter_responses(session: Session, key: str, flt: ExportFilter) -> Iterator[ResponseRecord]:
    """The responses to survey `key` matching `flt`, oldest first (by start, then id), with answers and follow-up
    states; read page by page."""
    query = filtered_responses(
        select(
            m.Response.id, m.Response.citizen_id, m.Survey.version, m.Response.status, m.Response.started_at,
            m.Response.completed_at, m.Campaign.name, _channel_of(m.Response.citizen_id),
        ),
        session,
        flt.for_survey(key),
    )
    query = query.outerjoin(m.Campaign, m.Campaign.id == m.Response.campaign_id)
    query = query.order_by(m.Response.started_at, m.Response.id).execution_options(yield_per=PAGE_SIZE)
    decode = _Decoder()
    for page in session.connection().execute(query).partitions(PAGE_SIZE):
        ids = [row[0] for row in page]
        answers = _answers(session, ids, decode)
        states = _follow_up_states(session, ids)
        for response_id, citizen_id, version, status, started_at, completed_at, campaign, channel in page:
            yield ResponseRecord(
                response_id=response_id,
                citizen_id=citizen_id,
                version=version,
                status=status,
                started_at=started_at,
                completed_at=completed_at,
                campaign=campaign,
                channel=channel,
                answers=answers.get(response_id, {}),
                follow_ups=states.get(response_id, {}),
            )


def count_responses(session: Session, key: str, flt: ExportFilter) -> int:
    """How many responses `iter_responses` would yield."""
    query = filtered_responses(select(func.count(m.Response.id)), session,
                      flt.for_survey(key))
    return int(session.execute(query).scalar_one())


# --------------------------------------------------------------------------------------------------- ideas


def iter_ideas(session: Session, flt: ExportFilter) -> Iterator[IdeaRecord]:
    """Ideas submitted in `flt`'s period (and channel), oldest first. Survey and campaign do not apply to ideas.
    Kept public ideas whose author deleted their data (no citizen) are included unless a channel is asked for."""
    supports = (
        select(func.count()).where(m.IdeaSupport.idea_id == m.Idea.id).correlate(m.Idea).scalar_subquery()
    )
    query = select(
        m.Idea.id, m.Idea.citizen_id, m.Idea.created_at, m.Idea.status, m.Idea.text, m.Idea.field, m.Idea.fields,
        m.Idea.proposed_field, m.Idea.confident, m.Idea.scores, m.Idea.model_version, _channel_of(m.Idea.citizen_id),
        m.Idea.status_note, m.Idea.status_at, m.Idea.publication, m.Idea.public_text, supports, m.Idea.merged_into,
        m.Idea.theme,
    )
    query = _in_period_and_channel(query, m.Idea.created_at, m.Idea.citizen_id, flt, authorless=True)
    query = query.order_by(m.Idea.created_at, m.Idea.id).execution_options(yield_per=PAGE_SIZE)
    for row in session.execute(query):
        (idea_id, citizen_id, created_at, status, text, first, chosen, proposed, confident, scores, model, channel,
         note, status_at, publication, public_text, support_count, merged_into, theme) = row
        fields = tuple(str(f) for f in (chosen or ([first] if first else [])))
        yield IdeaRecord(idea_id, citizen_id, created_at, status, text, fields, proposed, confident, _scores(scores),
                         model, channel, note, status_at,
                         public_text if publication == PUBLICATION_APPROVED else None, int(support_count or 0),
                         merged_into, theme)  # fmt: skip


# --------------------------------------------------------------------------------------------------- follow-ups


def iter_follow_ups(session: Session, key: str, flt: ExportFilter) -> Iterator[FollowUpRecord]:
    """The follow-up question rows of survey `key`'s responses matching `flt` (by the response's start), in the
    order they were scheduled, each with its answer if any."""
    query = filtered_responses(
        select(
            m.FollowUp.id, m.FollowUp.citizen_id, m.FollowUp.response_id, m.Survey.key, m.Survey.version,
            m.FollowUp.payload, m.FollowUp.status, m.FollowUp.outcome, m.FollowUp.due_at, m.FollowUp.sent_at,
            m.Campaign.name, _channel_of(m.Response.citizen_id),
        ),
        session,
        flt.for_survey(key),
    )
    query = (
        query.join(m.FollowUp, m.FollowUp.response_id == m.Response.id)
        .outerjoin(m.Campaign, m.Campaign.id == m.Response.campaign_id)
        .where(m.FollowUp.kind == SURVEY_FOLLOWUP_KIND)
        .order_by(m.FollowUp.id)
        .execution_options(yield_per=PAGE_SIZE)
    )
    decode = _Decoder()
    for page in session.connection().execute(query).partitions(PAGE_SIZE):
        answers = _answers(session, sorted({row[2] for row in page}), decode, details=True)
        for (row_id, citizen_id, response_id, survey, version, payload, status, outcome, due_at, sent_at, campaign,
             channel) in page:
            follow_up_id = follow_up_id_of(payload)
            if follow_up_id is None:
                continue
            yield FollowUpRecord(
                row_id=row_id,
                citizen_id=citizen_id,
                response_id=response_id,
                survey=survey,
                version=version,
                follow_up_id=follow_up_id,
                state=_follow_up_state(status, sent_at),
                outcome=outcome,
                due_at=due_at,
                sent_at=sent_at,
                answer=answers.get(response_id, {}).get(follow_up_id),
                campaign=campaign,
                channel=channel,
            )
