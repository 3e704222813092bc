"""What the report counts, read with the exports' streaming queries (memory flat in the number of responses).

Counts only — no text of a survey answer is kept. Idea texts are read for the top terms, redacted on the way.
The themes section (`themes.py`) reads member texts only to count which keywords they mention; none is kept.
Each response's cell statuses (`bot.analytics.status`, the same as in the exports) decide which answers count
(answered or skipped; a stale answer off the route does not) and where an unfinished response stopped (the first
question it has not reached: the completion funnel).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics.model import Status
from bot.analytics.query import (
    RESPONSE_COMPLETED,
    SURVEY_FOLLOWUP_KIND,
    ExportFilter,
    StoredAnswer,
    check_filter,
    filtered_responses,
    follow_up_id_of,
    iter_ideas,
    survey_versions,
    surveys_with_responses,
)
from bot.analytics.status import question_statuses
from bot.storage import models as m
from surveys.schema import FollowUp, LocalText, Question, QuestionType, Survey

from .terms import tokens
from .themes import ThemeStats, theme_stats

CHUNK = 5000
NO_FIELD = ""
"""The field key under which ideas without a chosen field are counted."""


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
class FollowUpStats:
    """A follow-up question (asked `after_days` days after the survey): its answers among the citizens asked.

    `asked` counts the follow-ups sent (the base); `unanswered` those asked who have not answered (yet)."""

    stats: QuestionStats
    after_days: int
    asked: int = 0
    unanswered: int = 0


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
    follow_ups: list[FollowUpStats] = field(default_factory=list)


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


@dataclass
class ReportData:
    surveys: list[SurveyStats]
    ideas: IdeaStats
    themes: ThemeStats = field(default_factory=ThemeStats)


def _aware(moment: datetime) -> datetime:
    """Timestamps come back naive from SQLite; storage keeps UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _span(first: datetime | None, last: datetime | None, moment: datetime) -> tuple[datetime, datetime]:
    return (moment if first is None or moment < first else first, moment if last is None or moment > last else last)


def _survey_versions(session: Session, flt: ExportFilter) -> dict[str, list[tuple[int, Survey]]]:
    """Survey key → [(version, parsed definition)] ascending, for the surveys to report on."""
    keys = [flt.survey] if flt.survey is not None else surveys_with_responses(session, flt)
    return {key: survey_versions(session, key) for key in keys}


def _question_union(versions: Sequence[tuple[int, Survey]]) -> list[QuestionStats]:
    """Questions in order of first appearance (version ascending, then position), texts from the newest version."""
    order: list[str] = []
    newest: dict[str, Question] = {}
    options: dict[str, dict[str, LocalText]] = defaultdict(dict)
    for _, survey in versions:
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


def _follow_up_union(versions: Sequence[tuple[int, Survey]]) -> list[FollowUpStats]:
    """Follow-ups in order of first appearance, each with the newest version's definition."""
    newest: dict[str, FollowUp] = {}
    for _, survey in versions:
        for follow_up in survey.follow_ups:
            newest[follow_up.id] = follow_up  # insertion order: first appearance; the value: the newest version
    result = []
    for follow_up in newest.values():
        question = follow_up.question
        options = [(option.id, option.text) for option in question.options]
        result.append(FollowUpStats(QuestionStats(follow_up.id, question.type, question.text, question, options),
                                    follow_up.after_days))
    return result


def _asked_follow_ups(session: Session, key: str, flt: ExportFilter) -> set[tuple[str, str]]:
    """(response id, follow-up id) of every follow-up question sent for survey `key`'s responses under `flt`.

    Only the follow_ups rows (no answers: those come with the responses) — one light query."""
    query = filtered_responses(
        select(m.FollowUp.response_id, m.FollowUp.payload), session,
        flt.for_survey(key),
    )
    query = query.join(m.FollowUp, m.FollowUp.response_id == m.Response.id).where(
        m.FollowUp.kind == SURVEY_FOLLOWUP_KIND, m.FollowUp.sent_at.is_not(None))
    asked: set[tuple[str, str]] = set()
    for response_id, payload in session.execute(query):
        follow_up_id = follow_up_id_of(payload)
        if follow_up_id is not None:
            asked.add((response_id, follow_up_id))
    return asked


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


@dataclass
class _LeanResponse:
    """What the report needs of a response (no citizen, channel, scores or timestamps of answers)."""

    id: str
    version: int
    completed: bool
    started_at: datetime
    answers: dict[str, StoredAnswer]

    def values(self) -> dict[str, Any]:
        return {qid: answer.value for qid, answer in self.answers.items()}


def _lean_responses(session: Session, key: str, flt: ExportFilter) -> Iterator[_LeanResponse]:
    """The responses `iter_responses` yields (same filter), read in one streamed join with only the columns the
    report counts — about twice as fast on 50,000 responses as the exports' full records."""
    query = filtered_responses(
        select(m.Response.id, m.Survey.version, m.Response.status, m.Response.started_at, m.Answer.question_id,
               m.Answer.value, m.Answer.field),
        session,
        flt.for_survey(key),
    )
    query = query.outerjoin(m.Answer, m.Answer.response_id == m.Response.id).order_by(m.Response.id)
    current: _LeanResponse | None = None
    current_id: str | None = None
    # Core execution: plain rows, without the ORM session's per-row result machinery.
    for row in session.connection().execute(query.execution_options(yield_per=CHUNK)):
        if row.id != current_id:
            if current is not None:
                yield current
            current_id = row.id
            current = _LeanResponse(row.id, row.version, row.status == RESPONSE_COMPLETED, row.started_at, {})
        if row.question_id is not None and current is not None:
            current.answers[row.question_id] = StoredAnswer(row.value, row.field)
    if current is not None:
        yield current


def survey_stats(
    session: Session, key: str, versions: list[tuple[int, Survey]], flt: ExportFilter, tz: ZoneInfo
) -> SurveyStats:
    """Count one survey's responses (every version) under the filter."""
    questions = _question_union(versions)
    by_id = {q.id: q for q in questions}
    definitions = dict(versions)
    stats = SurveyStats(key, versions[-1][1].title, [v for v, _ in versions], questions)
    stats.follow_ups = _follow_up_union(versions)
    asked = _asked_follow_ups(session, key, flt) if stats.follow_ups else set()
    for record in _lean_responses(session, key, flt):
        for follow_up in stats.follow_ups:  # answers to follow-ups come with the response, under their id
            if (record.id, follow_up.stats.id) in asked:
                follow_up.asked += 1
                answer = record.answers.get(follow_up.stats.id)
                if answer is None:
                    follow_up.unanswered += 1
                else:
                    _count_answer(follow_up.stats, answer.value, answer.field)
        survey = definitions[record.version]
        started = _aware(record.started_at)
        stats.responses += 1
        stats.per_day[started.astimezone(tz).date()] += 1
        stats.first, stats.last = _span(stats.first, stats.last, started)
        statuses = question_statuses(survey, record.completed, record.values())
        stopped: str | None = None
        for question in survey.questions:
            status = statuses[question.id]
            if status in (Status.ANSWERED, Status.SKIPPED):
                answer = record.answers[question.id]
                _count_answer(by_id[question.id], answer.value, answer.field)
            elif status is Status.NOT_REACHED and stopped is None:
                stopped = question.id  # the first question not reached is where an unfinished response stands
        if record.completed:
            stats.completed += 1
        elif stopped is not None:
            stats.dropped[stopped] += 1
    return stats


def idea_stats(session: Session, flt: ExportFilter, tz: ZoneInfo, field_keys: Sequence[str]) -> IdeaStats:
    """Ideas per field and day, how often the classifier's field was kept, and term frequencies per field."""
    stats = IdeaStats()
    known = set(field_keys)
    for idea in iter_ideas(session, flt):
        created = _aware(idea.created_at)
        stats.total += 1
        stats.first, stats.last = _span(stats.first, stats.last, created)
        first = idea.fields[0] if idea.fields else None
        field_key = first if first in known else NO_FIELD
        stats.per_field_day[(field_key, created.astimezone(tz).date())] += 1
        if idea.proposed_field is not None and idea.fields:
            stats.proposed[idea.proposed_field] += 1
            stats.kept[idea.proposed_field] += idea.proposed_field in idea.fields
        if field_key != NO_FIELD:
            stats.texts_per_field[field_key] += 1
            stats.term_texts.setdefault(field_key, Counter()).update(tokens(idea.text))
    return stats


def collect(session: Session, flt: ExportFilter, tz: ZoneInfo, field_keys: Sequence[str]) -> ReportData:
    """Everything the report shows, for the surveys (one, or all with responses) and ideas under the filter.

    Raises `FilterError` for an unknown survey, campaign or channel, or an empty period.
    """
    check_filter(session, flt)
    surveys = [survey_stats(session, key, versions, flt, tz)
               for key, versions in _survey_versions(session, flt).items() if versions]
    return ReportData(surveys, idea_stats(session, flt, tz, field_keys), theme_stats(session, flt))
