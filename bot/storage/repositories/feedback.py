"""The analysts' view: every idea and every classified free-text answer, with its strategy field(s).

Rows carry the pseudonymous citizen id only (never a channel id) and the classifier's scores and model version,
so analysts can weigh citizen-confirmed fields against the classifier's proposals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from bot.storage import models as m
from bot.storage.repositories._base import Repository


@dataclass(frozen=True)
class FeedbackRow:
    """One piece of categorised feedback: an idea, or a free-text answer to a survey question."""

    kind: str  # "idea" or "answer"
    id: str  # the idea's id, or "<response id>/<question id>"
    citizen: str | None  # pseudonymous id (None: a kept public idea whose author deleted their data)
    created_at: datetime
    text: str
    fields: tuple[str, ...]  # ideas: what the citizen chose; answers: the classifier's best field
    field_source: str  # "citizen", "classifier" or "none"
    proposed_field: str | None  # ideas: what the classifier proposed
    confident: bool | None
    scores: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    status: str | None = None  # ideas
    survey: str | None = None  # answers: "<key> v<version>"
    question: str | None = None  # answers: the question's id
    question_text: str | None = None  # answers: the question as citizens read it (German)
    theme: str | None = None  # the theme id of the last refresh (bot/themes), None: in no theme (yet)


class FeedbackRepository(Repository):
    """Read-only queries for analysts' exports and reports."""

    def rows(self, *, since: datetime | None = None, field_key: str | None = None) -> Iterator[FeedbackRow]:
        """Ideas, then classified free-text answers, each oldest first; `field_key` keeps rows in that field."""
        for row in self._ideas(since):
            if field_key is None or field_key in row.fields:
                yield row
        for row in self._answers(since):
            if field_key is None or field_key in row.fields:
                yield row

    def _ideas(self, since: datetime | None) -> Iterator[FeedbackRow]:
        query = select(m.Idea).order_by(m.Idea.created_at, m.Idea.id)
        if since is not None:
            query = query.where(m.Idea.created_at >= since)
        for idea in self.session.execute(query).scalars():
            chosen = tuple(idea.fields or ([idea.field] if idea.field else []))
            yield FeedbackRow(
                kind="idea",
                id=idea.id,
                citizen=idea.citizen_id,
                created_at=idea.created_at,
                text=idea.text,
                fields=chosen,
                field_source="citizen" if chosen else "none",
                proposed_field=idea.proposed_field,
                confident=idea.confident,
                scores=_scores(idea.scores),
                model_version=idea.model_version,
                status=idea.status,
                theme=idea.theme,
            )

    def _answers(self, since: datetime | None) -> Iterator[FeedbackRow]:
        query = (
            select(m.Answer, m.Response.citizen_id, m.Survey.key, m.Survey.version, m.Survey.definition,
                   m.AnswerEmbedding.theme)
            .join(m.Response, m.Response.id == m.Answer.response_id)
            .join(m.Survey, m.Survey.id == m.Response.survey_id)
            .outerjoin(m.AnswerEmbedding, m.AnswerEmbedding.answer_id == m.Answer.id)
            .where(or_(m.Answer.scores.is_not(None), m.Answer.field.is_not(None)))
            .order_by(m.Answer.answered_at, m.Answer.id)
        )
        if since is not None:
            query = query.where(m.Answer.answered_at >= since)
        for answer, citizen, key, version, definition, theme in self.session.execute(query):
            yield FeedbackRow(
                kind="answer",
                id=f"{answer.response_id}/{answer.question_id}",
                citizen=citizen,
                created_at=answer.answered_at,
                text=answer.value if isinstance(answer.value, str) else str(answer.value),
                fields=(answer.field,) if answer.field else (),
                field_source="classifier" if answer.field else "none",
                proposed_field=answer.field,
                confident=None,
                scores=_scores(answer.scores),
                model_version=answer.model_version,
                survey=f"{key} v{version}",
                question=answer.question_id,
                question_text=_question_text(definition, answer.question_id),
                theme=theme,
            )


def _scores(stored: Any) -> dict[str, float]:
    if not isinstance(stored, dict):
        return {}
    return {str(key): float(value) for key, value in stored.items() if isinstance(value, int | float)}


def _question_text(definition: Any, question_id: str) -> str | None:
    questions = definition.get("questions", []) if isinstance(definition, dict) else []
    for question in questions:
        if isinstance(question, dict) and question.get("id") == question_id:
            text = question.get("text")
            if isinstance(text, dict):
                return str(text.get("de") or "") or None
            return str(text) if text else None
    return None
