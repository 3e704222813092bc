"""What the report counts, read from storage in one read-only pass per survey (memory flat in the responses).

Counts only — no text of a survey answer is kept. Idea texts are read for the top terms, redacted on the way.
Per response the survey engine's route (`surveys.engine.path`) decides which answers count (an answer a later
branching change left off the route does not) and where an unfinished response stopped (the completion funnel).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from bot.storage import models as m
from bot.storage.items import RESPONSE_COMPLETED
from surveys.engine import path
from surveys.schema import LocalText, Question, QuestionType, Survey

from .terms import tokens

CHUNK = 5000
NO_FIELD = ""
"""The field key under which ideas without a chosen field are counted."""


class ReportFilterError(ValueError):
    """A filter names something that does not exist (unknown survey or campaign)."""


@dataclass
class QuestionStats:
    """One question (matched by id across versions) and what its answers add up to."""

    id: str
    type: QuestionType
    text: LocalText
    question: Question  # the newest version's definition (options in their order, scale, unit)
    options: list[tuple[str, LocalText]] = field(default_factory=list)  # union of options across versions
    answered: int = 0
    skipped: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # option id / scale point / "yes" "no" / field key
    numbers: list[float] = field(default_factory=list)  # scale and number values


@dataclass
class SurveyStats:
    key: str
    title: LocalText
    versions: list[int]
    questions: list[QuestionStats]
    responses: int = 0
    completed: int = 0
    dropped: Counter[str] = field(default_factory=Counter)  # unfinished responses, by the question they stopped at
    per_day: Counter[date] = field(default_factory=Counter)  # responses started per local day
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class IdeaStats:
    total: int = 0
    per_field_day: Counter[tuple[str, date]] = field(default_factory=Counter)  # (field or NO_FIELD, day)
    proposed: Counter[str] = field(default_factory=Counter)  # proposed field → ideas with a proposal and a choice
    kept: Counter[str] = field(default_factory=Counter)  # proposed field → the citizen kept it
    term_texts: dict[str, Counter[str]] = field(default_factory=dict)  # field → term → distinct texts
    texts_per_field: Counter[str] = field(default_factory=Counter)
    first: datetime | None = None
    last: datetime | None = None


@dataclass(frozen=True)
class ReportFilter:
    survey: str | None
    campaign: str | None
    since: datetime | None
    until: datetime | None


@dataclass
class ReportData:
    surveys: list[SurveyStats]
    ideas: IdeaStats


def _aware(moment: datetime) -> datetime:
    """Timestamps come back naive from SQLite; storage keeps UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _span(first: datetime | None, last: datetime | None, moment: datetime) -> tuple[datetime, datetime]:
    return (moment if first is None or moment < first else first, moment if last is None or moment > last else last)


def _campaign_ids(session: Session, name: str | None) -> list[int] | None:
    if name is None:
        return None
    ids = list(session.execute(select(m.Campaign.id).where(m.Campaign.name == name)).scalars())
    if not ids:
        raise ReportFilterError(f"Unknown campaign {name!r}")
    return ids


def _survey_versions(session: Session, key: str | None) -> dict[str, list[tuple[int, int, Survey]]]:
    """Survey key → [(surveys.id, version, parsed definition)] ascending, for the surveys to report on."""
    statement = select(m.Survey.id, m.Survey.key, m.Survey.version, m.Survey.definition).order_by(
        m.Survey.key, m.Survey.version
    )
    if key is not None:
        statement = statement.where(m.Survey.key == key)
    found: dict[str, list[tuple[int, int, Survey]]] = defaultdict(list)
    for row in session.execute(statement):
        found[row.key].append((row.id, row.version, Survey.model_validate(row.definition)))
    if key is not None and not found:
        raise ReportFilterError(f"Unknown survey {key!r}")
    return dict(found)


def _question_union(versions: Sequence[tuple[int, int, Survey]]) -> list[QuestionStats]:
    """Questions in order of first appearance (version ascending, then position), texts from the newest version."""
    order: list[str] = []
    newest: dict[str, Question] = {}
    options: dict[str, dict[str, LocalText]] = defaultdict(dict)
    for _, _, survey in versions:
        for question in survey.questions:
            if question.id not in newest:
                order.append(question.id)
            newest[question.id] = question
            for option in question.options:
                options[question.id].setdefault(option.id, option.text)
            for option in question.options:  # the newest wording of an option wins
                options[question.id][option.id] = option.text
    return [
        QuestionStats(qid, newest[qid].type, newest[qid].text, newest[qid], list(options[qid].items()))
        for qid in order
    ]


def _count_answer(stats: QuestionStats, value: Any, field_key: str | None) -> None:
    if value is None:
        stats.skipped += 1
        return
    stats.answered += 1
    kind = stats.type
    if kind is QuestionType.SINGLE_CHOICE:
        stats.counts[str(value)] += 1
    elif kind is QuestionType.MULTIPLE_CHOICE:
        stats.counts.update(str(option) for option in value)
    elif kind is QuestionType.YES_NO:
        stats.counts["yes" if value else "no"] += 1
    elif kind is QuestionType.SCALE:
        stats.counts[str(int(value))] += 1
        stats.numbers.append(float(value))
    elif kind is QuestionType.NUMBER:
        stats.numbers.append(float(value))
    else:  # free text: only the classifier's field is counted, never the text
        stats.counts[field_key or NO_FIELD] += 1


def _response_rows(survey_ids: list[int], flt: ReportFilter, campaigns: list[int] | None) -> Select[Any]:
    statement = (
        select(
            m.Response.id,
            m.Response.survey_id,
            m.Response.status,
            m.Response.started_at,
            m.Answer.question_id,
            m.Answer.value,
            m.Answer.field,
        )
        .outerjoin(m.Answer, m.Answer.response_id == m.Response.id)
        .where(m.Response.survey_id.in_(survey_ids))
        .order_by(m.Response.id)
    )
    if campaigns is not None:
        statement = statement.where(m.Response.campaign_id.in_(campaigns))
    if flt.since is not None:
        statement = statement.where(m.Response.started_at >= flt.since)
    if flt.until is not None:
        statement = statement.where(m.Response.started_at < flt.until)
    return statement


def _grouped(rows: Iterable[Any]) -> Iterator[tuple[Any, dict[str, tuple[Any, str | None]]]]:
    """(first row of a response, question id → (value, field)) per response, from rows ordered by response."""
    current: Any = None
    answers: dict[str, tuple[Any, str | None]] = {}
    for row in rows:
        if current is None or row.id != current.id:
            if current is not None:
                yield current, answers
            current, answers = row, {}
        if row.question_id is not None:
            answers[row.question_id] = (row.value, row.field)
    if current is not None:
        yield current, answers


def survey_stats(
    session: Session, key: str, versions: list[tuple[int, int, Survey]], flt: ReportFilter,
    campaigns: list[int] | None, tz: ZoneInfo,
) -> SurveyStats:
    """Count one survey's responses (every version) under the filter."""
    questions = _question_union(versions)
    by_id = {q.id: q for q in questions}
    definitions = {survey_id: survey for survey_id, _, survey in versions}
    stats = SurveyStats(key, versions[-1][2].title, [v for _, v, _ in versions], questions)
    statement = _response_rows(list(definitions), flt, campaigns)
    rows = session.execute(statement.execution_options(yield_per=CHUNK))
    for response, answers in _grouped(rows):
        survey = definitions[response.survey_id]
        started = _aware(response.started_at)
        stats.responses += 1
        stats.per_day[started.astimezone(tz).date()] += 1
        stats.first, stats.last = _span(stats.first, stats.last, started)
        route = path(survey, {qid: value for qid, (value, _) in answers.items()})
        for qid in route:
            if qid in answers:
                value, field_key = answers[qid]
                _count_answer(by_id[qid], value, field_key)
        if response.status == RESPONSE_COMPLETED:
            stats.completed += 1
        elif route and route[-1] not in answers:
            stats.dropped[route[-1]] += 1
    return stats


def idea_stats(session: Session, flt: ReportFilter, tz: ZoneInfo, field_keys: Sequence[str]) -> IdeaStats:
    """Ideas per field and day, how often the classifier's field was kept, and term frequencies per field."""
    stats = IdeaStats()
    statement = select(m.Idea.text, m.Idea.field, m.Idea.fields, m.Idea.proposed_field, m.Idea.created_at).order_by(
        m.Idea.id
    )
    if flt.since is not None:
        statement = statement.where(m.Idea.created_at >= flt.since)
    if flt.until is not None:
        statement = statement.where(m.Idea.created_at < flt.until)
    known = set(field_keys)
    for row in session.execute(statement.execution_options(yield_per=CHUNK)):
        created = _aware(row.created_at)
        stats.total += 1
        stats.first, stats.last = _span(stats.first, stats.last, created)
        field_key = row.field if row.field in known else NO_FIELD
        stats.per_field_day[(field_key, created.astimezone(tz).date())] += 1
        chosen = list(row.fields or [])
        if row.proposed_field is not None and chosen:
            stats.proposed[row.proposed_field] += 1
            stats.kept[row.proposed_field] += row.proposed_field in chosen
        if field_key != NO_FIELD:
            stats.texts_per_field[field_key] += 1
            stats.term_texts.setdefault(field_key, Counter()).update(tokens(row.text))
    return stats


def collect(session: Session, flt: ReportFilter, tz: ZoneInfo, field_keys: Sequence[str]) -> ReportData:
    """Everything the report shows, for the surveys (one or all with responses) and ideas under the filter."""
    campaigns = _campaign_ids(session, flt.campaign)
    surveys = []
    for key, versions in _survey_versions(session, flt.survey).items():
        stats = survey_stats(session, key, versions, flt, campaigns, tz)
        if stats.responses or flt.survey is not None:
            surveys.append(stats)
    return ReportData(surveys, idea_stats(session, flt, tz, field_keys))
