"""Export and erasure of everything stored about citizens (/meinedaten, /loeschen, the consent purge)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Row, Select, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.storage import models as m
from bot.storage.items import (
    OUTBOX_FAILED,
    chat_key,
)
from bot.storage.repositories._base import iso
from bot.storage.repositories.activity import FollowUpRepository, IdeaRepository
from handlers.events import PUBLICATION_APPROVED, PUBLISH_KEEP

_CHUNK = 500
"""Citizens deleted per statement batch (keeps IN lists well below SQLite's parameter limit)."""


def export(session: Session, citizen_id: str) -> dict[str, Any]:
    """Everything stored about one citizen, JSON-serialisable with ISO 8601 dates.

    Each idea carries its current status with the city's public note (`status`, `status_note`, `status_note_en`,
    `status_at`) and its history as `idea_status_changes` (oldest first: status, note, note_en, changed_at,
    source). Who on the staff made a change is not the citizen's data and stays in the staff audit log.
    """
    citizen = session.execute(
        select(
            m.Citizen.id,
            m.Citizen.language,
            m.Citizen.language_chosen,
            m.Citizen.consent_version,
            m.Citizen.consent_at,
            m.Citizen.training_consent,
            m.Citizen.created_at,
            m.Citizen.last_seen_at,
            m.Citizen.paused_until,
        ).where(m.Citizen.id == citizen_id)
    ).first()
    result: dict[str, Any] = {
        "citizen": None,
        "contacts": [],
        "conversation": None,
        "responses": [],
        "ideas": [],
        "follow_ups": [],
        "opt_ins": [],
        "paused_until": None,
        "undelivered": [],
        "supports": [],
        "similar_searches": [],
    }
    if citizen is None:
        return result
    result["citizen"] = _plain(citizen)
    result["paused_until"] = iso(citizen.paused_until)
    result["contacts"] = _plain_rows(
        session,
        select(m.Contact.channel, m.Contact.channel_user_id, m.Contact.chat_id, m.Contact.unreachable_at)
        .where(m.Contact.citizen_id == citizen_id)
        .order_by(m.Contact.id),
    )
    conversation = session.execute(
        select(m.Conversation.flow, m.Conversation.data, m.Conversation.updated_at).where(
            m.Conversation.citizen_id == citizen_id
        )
    ).first()
    if conversation is not None:
        result["conversation"] = {
            "flow": conversation.flow,
            "data": conversation.data,
            "updated_at": iso(conversation.updated_at),
        }
    result["responses"] = _export_responses(session, citizen_id)
    result["ideas"] = _plain_rows(
        session,
        select(
            m.Idea.id,
            m.Idea.text,
            m.Idea.field,
            m.Idea.fields,
            m.Idea.proposed_field,
            m.Idea.confident,
            m.Idea.scores,
            m.Idea.model_version,
            m.Idea.status,
            m.Idea.status_note,
            m.Idea.status_note_en,
            m.Idea.status_at,
            m.Idea.created_at,
            m.Idea.publish_consent,
            m.Idea.publication,
            m.Idea.public_text,
            m.Idea.publication_note,
            m.Idea.publication_at,
            m.Idea.merged_at,
            m.Idea.theme,
            m.Idea.embedding_model,
            m.Idea.embedding.is_not(None).label("embedding_stored"),
        )
        .where(m.Idea.citizen_id == citizen_id)
        .order_by(m.Idea.created_at, m.Idea.id),
    )
    changes = _idea_status_changes(session, citizen_id)
    supporters = IdeaRepository(session).support_counts([idea["id"] for idea in result["ideas"]])
    for idea in result["ideas"]:
        idea["idea_status_changes"] = changes.get(idea["id"], [])
        idea["supporters"] = supporters.get(idea["id"], 0)
        # the embedding is a list of 384 numbers computed from the text: said to be stored, not dumped
        idea["embedding_stored"] = bool(idea["embedding_stored"])
    result["supports"] = _export_supports(session, citizen_id)
    result["similar_searches"] = _plain_rows(
        session,
        select(m.IdeaSearch.channel, m.IdeaSearch.text, m.IdeaSearch.created_at)
        .where(m.IdeaSearch.citizen_id == citizen_id)
        .order_by(m.IdeaSearch.created_at, m.IdeaSearch.id),
    )
    result["follow_ups"] = _plain_rows(
        session,
        select(
            m.FollowUp.id,
            m.FollowUp.kind,
            m.FollowUp.due_at,
            m.FollowUp.status,
            m.FollowUp.outcome,
            m.FollowUp.unsolicited,
            m.FollowUp.campaign_id,
            m.FollowUp.response_id,
            m.FollowUp.sent_at,
            m.FollowUp.payload,
            m.FollowUp.created_at,
        )
        .where(m.FollowUp.citizen_id == citizen_id)
        .order_by(m.FollowUp.due_at, m.FollowUp.id),
    )
    result["opt_ins"] = _plain_rows(
        session,
        select(
            m.OptIn.topic,
            m.OptIn.fields,
            m.OptIn.source,
            m.OptIn.notice_version,
            m.OptIn.granted_at,
            m.OptIn.withdrawn_at,
        )
        .where(m.OptIn.citizen_id == citizen_id)
        .order_by(m.OptIn.granted_at, m.OptIn.id),
    )
    result["undelivered"] = _export_undelivered(session, result["contacts"])
    return result


def _idea_status_changes(session: Session, citizen_id: str) -> dict[str, list[dict[str, Any]]]:
    """The status history of the citizen's ideas: idea id → changes, oldest first."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for row in session.execute(
        select(
            m.IdeaStatusChange.idea_id,
            m.IdeaStatusChange.status,
            m.IdeaStatusChange.note,
            m.IdeaStatusChange.note_en,
            m.IdeaStatusChange.changed_at,
            m.IdeaStatusChange.source,
        )
        .join(m.Idea, m.Idea.id == m.IdeaStatusChange.idea_id)
        .where(m.Idea.citizen_id == citizen_id)
        .order_by(m.IdeaStatusChange.changed_at, m.IdeaStatusChange.id)
    ):
        change = _plain(row)
        changes.setdefault(change.pop("idea_id"), []).append(change)
    return changes


def _export_supports(session: Session, citizen_id: str) -> list[dict[str, Any]]:
    """The ideas the citizen supports: when, whether they want its news, and its public text while it is published
    (another citizen's idea: never its author's own words)."""
    rows = session.execute(
        select(m.IdeaSupport.created_at, m.IdeaSupport.news, m.Idea.publication, m.Idea.public_text)
        .join(m.Idea, m.Idea.id == m.IdeaSupport.idea_id)
        .where(m.IdeaSupport.citizen_id == citizen_id)
        .order_by(m.IdeaSupport.created_at, m.IdeaSupport.idea_id)
    )
    return [
        {
            "created_at": iso(row.created_at),
            "news": bool(row.news),
            "public_text": row.public_text if row.publication == PUBLICATION_APPROVED else None,
        }
        for row in rows
    ]


def _plain(row: Row[Any]) -> dict[str, Any]:
    """A row as a JSON-ready dict named by its columns, dates as ISO 8601."""
    return {key: iso(value) if isinstance(value, datetime) else value for key, value in row._mapping.items()}


def _plain_rows(session: Session, query: Select[Any]) -> list[dict[str, Any]]:
    return [_plain(row) for row in session.execute(query)]


def _export_undelivered(session: Session, contacts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages to the citizen's chats that could never be sent (dead letters), until the housekeeping purges them."""
    keys = [chat_key(contact["channel"], contact["chat_id"]) for contact in contacts]
    if not keys:
        return []
    rows = session.execute(
        select(m.OutboxMessage.payload, m.OutboxMessage.created_at)
        .where(m.OutboxMessage.chat_key.in_(keys), m.OutboxMessage.status == OUTBOX_FAILED)
        .order_by(m.OutboxMessage.id)
    )
    return [
        {
            "text": (row.payload or {}).get("text", ""),
            "document": ((row.payload or {}).get("document") or {}).get("filename"),
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]


def _export_responses(session: Session, citizen_id: str) -> list[dict[str, Any]]:
    responses = session.execute(
        select(
            m.Response.id,
            m.Response.status,
            m.Response.started_at,
            m.Response.completed_at,
            m.Survey.key,
            m.Survey.version,
            m.Survey.title,
        )
        .join(m.Survey, m.Survey.id == m.Response.survey_id)
        .where(m.Response.citizen_id == citizen_id)
        .order_by(m.Response.started_at, m.Response.id)
    ).all()
    answers: dict[str, list[dict[str, Any]]] = {row.id: [] for row in responses}
    for row in session.execute(
        select(
            m.Answer.response_id,
            m.Answer.question_id,
            m.Answer.value,
            m.Answer.field,
            m.Answer.scores,
            m.Answer.model_version,
            m.Answer.answered_at,
            m.AnswerEmbedding.model.label("embedding_model"),
        )
        .join(m.Response, m.Response.id == m.Answer.response_id)
        .outerjoin(m.AnswerEmbedding, m.AnswerEmbedding.answer_id == m.Answer.id)
        .where(m.Response.citizen_id == citizen_id)
        .order_by(m.Answer.answered_at, m.Answer.id)
    ):
        answer: dict[str, Any] = {"question_id": row.question_id, "value": row.value}
        if row.scores is not None:  # only free-text answers are classified; others stay as short as before
            answer.update(field=row.field, scores=row.scores, model_version=row.model_version)
        if row.embedding_model is not None:  # a free-text answer's vector for the themes: said, never dumped
            answer.update(embedding_stored=True, embedding_model=row.embedding_model)
        answer["answered_at"] = iso(row.answered_at)
        answers[row.response_id].append(answer)
    return [
        {
            "id": row.id,
            "survey": {"key": row.key, "version": row.version, "title": row.title},
            "status": row.status,
            "started_at": iso(row.started_at),
            "completed_at": iso(row.completed_at),
            "answers": answers[row.id],
        }
        for row in responses
    ]


def _keep_public_ideas(session: Session, citizen_ids: Sequence[str]) -> int:
    """The ideas that outlive their author's /loeschen: published (approved, not merged), with supporters, and the
    author agreed when publishing that the public text may stay ("keep"). They lose every link to the author: no
    citizen id, the private text replaced by the public text, no embedding (it was computed from the private text;
    the similar-idea index drops the idea unless it is embedded again); status and history stay. Returns how many."""
    supported = select(m.IdeaSupport.idea_id).where(m.IdeaSupport.citizen_id.not_in(list(citizen_ids)))
    kept = session.execute(
        select(m.Idea.id, m.Idea.public_text).where(
            m.Idea.citizen_id.in_(list(citizen_ids)),
            m.Idea.publish_consent == PUBLISH_KEEP,
            m.Idea.publication == PUBLICATION_APPROVED,
            m.Idea.merged_into.is_(None),
            m.Idea.public_text.is_not(None),
            m.Idea.id.in_(supported),
        )
    ).all()
    now = datetime.now(UTC)
    for row in kept:
        session.execute(
            update(m.Idea).where(m.Idea.id == row.id).values(
                citizen_id=None, text=row.public_text, embedding=None, embedding_model=None, scores=None,
                publication_at=now,
            ),
            execution_options={"synchronize_session": False},
        )  # fmt: skip
    return len(kept)


def _release_merged_into(session: Session, citizen_ids: Sequence[str]) -> None:
    """Ideas merged into an idea that is deleted now stand on their own again (the foreign key's SET NULL, done
    explicitly so SQLite without enforced foreign keys agrees), and the index sees the change."""
    doomed = select(m.Idea.id).where(m.Idea.citizen_id.in_(list(citizen_ids))).scalar_subquery()
    session.execute(
        update(m.Idea).where(m.Idea.merged_into.in_(doomed)).values(
            merged_into=None, merged_at=None, publication_at=datetime.now(UTC)
        ),
        execution_options={"synchronize_session": False},
    )


def _cancel_supporters_news(session: Session, citizen_ids: Sequence[str]) -> None:
    """Other citizens' unsent news about an idea deleted now is not sent (it would quote a deleted idea)."""
    doomed = set(session.execute(select(m.Idea.id).where(m.Idea.citizen_id.in_(list(citizen_ids)))).scalars())
    FollowUpRepository(session).cancel_supporters_news(doomed, datetime.now(UTC))


def delete_citizens(session: Session, citizen_ids: Sequence[str]) -> dict[str, int]:
    """Delete the citizens and every row referring to them, children first; returns rows deleted per table.

    Explicit deletes rather than ON DELETE CASCADE alone: the counts are reported, and a database whose
    foreign keys are not enforced (SQLite without the pragma) is still cleaned completely.
    """
    counts = dict.fromkeys(
        (
            "ideas_kept",
            "idea_supports",
            "idea_searches",
            "answer_embeddings",
            "answers",
            "responses",
            "idea_status_changes",
            "ideas",
            "follow_ups",
            "opt_ins",
            "conversations",
            "outbox",
            "contacts",
            "citizens",
        ),
        0,
    )
    ids = list(dict.fromkeys(citizen_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        chat_keys = [
            chat_key(row.channel, row.chat_id)
            for row in session.execute(
                select(m.Contact.channel, m.Contact.chat_id).where(m.Contact.citizen_id.in_(chunk))
            )
        ]
        counts["ideas_kept"] += _keep_public_ideas(session, chunk)
        responses = select(m.Response.id).where(m.Response.citizen_id.in_(chunk)).scalar_subquery()
        ideas = select(m.Idea.id).where(m.Idea.citizen_id.in_(chunk)).scalar_subquery()
        answers = select(m.Answer.id).where(m.Answer.response_id.in_(responses)).scalar_subquery()
        _release_merged_into(session, chunk)
        _cancel_supporters_news(session, chunk)
        statements: list[tuple[str, Delete]] = [
            ("idea_supports", delete(m.IdeaSupport).where(
                or_(m.IdeaSupport.citizen_id.in_(chunk), m.IdeaSupport.idea_id.in_(ideas)))),
            ("idea_searches", delete(m.IdeaSearch).where(m.IdeaSearch.citizen_id.in_(chunk))),
            ("answer_embeddings", delete(m.AnswerEmbedding).where(m.AnswerEmbedding.answer_id.in_(answers))),
            ("answers", delete(m.Answer).where(m.Answer.response_id.in_(responses))),
            ("responses", delete(m.Response).where(m.Response.citizen_id.in_(chunk))),
            (
                "idea_status_changes",
                delete(m.IdeaStatusChange).where(m.IdeaStatusChange.idea_id.in_(ideas)),
            ),
            ("ideas", delete(m.Idea).where(m.Idea.citizen_id.in_(chunk))),
            ("follow_ups", delete(m.FollowUp).where(m.FollowUp.citizen_id.in_(chunk))),
            ("opt_ins", delete(m.OptIn).where(m.OptIn.citizen_id.in_(chunk))),
            ("conversations", delete(m.Conversation).where(m.Conversation.citizen_id.in_(chunk))),
            # Messages that will never be sent; pending ones (e.g. the goodbye) still go out and are then deleted.
            (
                "outbox",
                delete(m.OutboxMessage).where(
                    m.OutboxMessage.chat_key.in_(chat_keys), m.OutboxMessage.status == OUTBOX_FAILED
                ),
            ),
            ("contacts", delete(m.Contact).where(m.Contact.citizen_id.in_(chunk))),
            ("citizens", delete(m.Citizen).where(m.Citizen.id.in_(chunk))),
        ]
        for table, statement in statements:
            result = cast(
                CursorResult[Any], session.execute(statement, execution_options={"synchronize_session": False})
            )
            counts[table] += result.rowcount
    return counts
