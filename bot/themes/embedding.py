"""Embeddings made in the background for themes: free-text answers and ideas stored without one.

Citizen traffic keeps priority: one run embeds at most `limit` texts (default `BATCH`), reads and writes in two
short transactions and embeds in between, outside any transaction. The caller runs it off the event loop
(`bot.themes.jobs.ThemeJobs.embed_tick`, `Runtime.themes`, uses its own single thread, niced to the lowest CPU
priority). The embedder is
the classifier's (same model, prefix and text preparation as `nlp.similar.embedding_text`), so themes, the similar
search and the classifier share one e5 in memory and one vector space.

Which answers: those to free-text questions (of a survey or of its follow-ups) with a text value, without an
`answer_embeddings` row or whose row is older than the answer or from another model. Before a vector is written the
answer's text is hashed again: an answer changed meanwhile is left for the next run. An unchanged text whose row was
only older keeps its vector (no second e5 pass). Deleting a citizen deletes their answers and so (FK cascade) their
embeddings.

Which ideas: every idea with `embedding IS NULL` and some text, approved ones first — older ideas, ideas filed while
the classifier was off, and a kept public idea whose author deleted their data (its text is then the public text
and its old vector was dropped), an idea staff approved with a wording other than the author's (its vector was
dropped on approval). An approved idea is embedded from its public text, any other from its own text. An approved
idea that gets a vector also gets `publication_at = now`, so the
similar-idea index of every worker (which follows that column) adds it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from sqlalchemy import case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage import models as m
from bot.storage.db import Database
from nlp.embed import FloatArray

log = logging.getLogger(__name__)

BATCH = 16
"""Texts embedded per run at most (about 0.3 s of one core with e5-small)."""
PUBLICATION_APPROVED = "approved"


class TextEmbedder(Protocol):
    """What `nlp.embed.Embedder` offers and the job needs."""

    @property
    def key(self) -> str: ...

    def embed_one(self, text: str) -> FloatArray: ...


@dataclass(frozen=True)
class EmbedReport:
    """What one run did: texts embedded, answers whose unchanged text only needed a fresh row date, skipped."""

    answers: int = 0
    ideas: int = 0
    refreshed: int = 0
    skipped: int = 0

    @property
    def done(self) -> int:
        return self.answers + self.ideas + self.refreshed


def source_hash(text: str) -> str:
    """What `answer_embeddings.source_hash` holds: tells whether the answer changed since it was embedded."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def to_bytes(vector: FloatArray) -> bytes:
    """384 float32 little-endian, as `ideas.embedding` stores them."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(data: bytes) -> FloatArray:
    """The inverse of `to_bytes`."""
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


def free_text_questions(session: Session) -> set[tuple[int, str]]:
    """(survey row id, question id) of every free-text question and free-text follow-up question."""
    found: set[tuple[int, str]] = set()
    for survey_id, definition in session.execute(select(m.Survey.id, m.Survey.definition)):
        if not isinstance(definition, dict):
            continue
        questions = list(definition.get("questions") or [])
        for follow_up in definition.get("follow_ups") or []:
            if isinstance(follow_up, dict) and isinstance(follow_up.get("question"), dict):
                questions.append({**follow_up["question"], "id": follow_up.get("id")})
        for question in questions:
            if isinstance(question, dict) and question.get("type") == "free_text" and question.get("id"):
                found.add((int(survey_id), str(question["id"])))
    return found


@dataclass(frozen=True)
class _Pending:
    kind: str  # "answer" or "idea"
    key: str  # answer id (as text) or idea id
    text: str
    vector: bytes | None = None  # an answer's stored vector whose text did not change


def _pending_answers(session: Session, model: str, limit: int) -> list[_Pending]:
    wanted = free_text_questions(session)
    if not wanted or limit <= 0:
        return []
    survey_ids = sorted({survey for survey, _ in wanted})
    query = (
        select(m.Answer.id, m.Answer.value, m.Response.survey_id, m.Answer.question_id, m.AnswerEmbedding.source_hash,
               m.AnswerEmbedding.vector)
        .join(m.Response, m.Response.id == m.Answer.response_id)
        .outerjoin(m.AnswerEmbedding, m.AnswerEmbedding.answer_id == m.Answer.id)
        .where(m.Response.survey_id.in_(survey_ids), m.Answer.value.is_not(None))
        .where(or_(m.AnswerEmbedding.answer_id.is_(None), m.AnswerEmbedding.model != model,
                   m.AnswerEmbedding.created_at < m.Answer.answered_at))
        .order_by(m.Answer.id)
    )
    result: list[_Pending] = []
    for answer_id, value, survey_id, question_id, stored_hash, stored_vector in session.execute(query):
        if (survey_id, question_id) not in wanted or not isinstance(value, str) or not value.strip():
            continue
        same = stored_hash == source_hash(value) and stored_vector is not None
        result.append(_Pending("answer", str(answer_id), value, stored_vector if same else None))
        if len(result) >= limit:
            break
    return result


def _idea_source(text: str | None, public_text: str | None, publication: str | None) -> str | None:
    """The text an idea's vector is made of: an approved idea's public text (the similar-idea index matches other
    citizens' words against it; staff may have edited the author's wording), otherwise the idea's own text."""
    if publication == PUBLICATION_APPROVED and public_text is not None:
        return public_text
    return text


def _pending_ideas(session: Session, limit: int) -> list[_Pending]:
    if limit <= 0:
        return []
    # Approved ideas first: without a vector the similar-idea search cannot offer them.
    approved_first = case((m.Idea.publication == PUBLICATION_APPROVED, 0), else_=1)
    rows = session.execute(
        select(m.Idea.id, m.Idea.text, m.Idea.public_text, m.Idea.publication).where(m.Idea.embedding.is_(None))
        .order_by(approved_first, m.Idea.created_at, m.Idea.id)
    )
    result: list[_Pending] = []
    for idea_id, private, public, publication in rows:
        text = _idea_source(private, public, publication)
        if text and text.strip():  # a text without words has nothing to embed (and must not block the queue)
            result.append(_Pending("idea", idea_id, text))
            if len(result) >= limit:
                break
    return result


def _write(session: Session, pending: Sequence[_Pending], vectors: dict[str, bytes], model: str,
           now: datetime) -> EmbedReport:
    counts = {"answers": 0, "ideas": 0, "refreshed": 0, "skipped": 0}
    for item in pending:
        if item.kind == "idea":
            vector = vectors.get(f"{item.kind}:{item.key}")
            idea = session.get(m.Idea, item.key)
            if (vector is None or idea is None or idea.embedding is not None
                    or _idea_source(idea.text, idea.public_text, idea.publication) != item.text):
                counts["skipped"] += 1
                continue
            values: dict[str, Any] = {"embedding": vector, "embedding_model": model}
            if idea.publication == PUBLICATION_APPROVED:
                values["publication_at"] = now  # the similar-idea index of every worker picks the vector up
            session.execute(update(m.Idea).where(m.Idea.id == item.key).values(**values))
            counts["ideas"] += 1
            continue
        answer = session.get(m.Answer, int(item.key))
        vector = item.vector or vectors.get(f"{item.kind}:{item.key}")
        if answer is None or vector is None or answer.value != item.text:
            counts["skipped"] += 1  # deleted or changed meanwhile: the next run takes it
            continue
        row = session.get(m.AnswerEmbedding, answer.id)
        if row is None:
            session.add(m.AnswerEmbedding(answer_id=answer.id, vector=vector, model=model,
                                          source_hash=source_hash(item.text), created_at=now))
        else:
            row.vector, row.model, row.source_hash, row.created_at = vector, model, source_hash(item.text), now
        counts["refreshed" if item.vector is not None else "answers"] += 1
    return EmbedReport(**counts)


def embed_backlog(
    database: Database, embedder: TextEmbedder, prepare: Callable[[str], str], now: datetime, *, limit: int = BATCH
) -> EmbedReport:
    """Embed up to `limit` waiting texts (ideas first — approved ones first —, then answers); blocking: call it off
    the event loop.

    `prepare`: the text e5 sees (`nlp.similar.embedding_text` with the classifier's umlaut lexicon)."""
    model = embedder.key
    with database.unit_of_work(read_only=True) as uow:
        pending = _pending_ideas(uow.session, limit)
        pending += _pending_answers(uow.session, model, limit - len(pending))
    if not pending:
        return EmbedReport()
    vectors = {f"{item.kind}:{item.key}": to_bytes(embedder.embed_one(prepare(item.text)))
               for item in pending if item.vector is None}
    try:
        with database.unit_of_work() as uow:
            report = _write(uow.session, pending, vectors, model, now)
    except IntegrityError:  # another worker stored the same answer's vector first: its row stands
        log.info("event=embed_backlog_conflict texts=%d", len(pending))
        return EmbedReport(skipped=len(pending))
    log.info("event=embed_backlog answers=%d ideas=%d refreshed=%d skipped=%d", report.answers, report.ideas,
             report.refreshed, report.skipped)
    return report
