"""Ideas and follow-ups: what citizens contribute and what must happen later."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from bot.storage import models as m
from bot.storage.items import (
    FOLLOW_UP_CANCELLED,
    FOLLOW_UP_DONE,
    FOLLOW_UP_FAILED,
    FOLLOW_UP_HELD,
    FOLLOW_UP_OPEN,
    FOLLOW_UP_PENDING,
    FOLLOW_UP_QUEUED,
    FOLLOW_UP_RUNNING,
    IDEA_NEW,
    OUTCOME_NOT_NEEDED,
    OUTCOME_SENT,
    OUTCOME_SUPERSEDED,
    FollowUpItem,
    IdeaStatusChangeItem,
    StoredIdea,
)
from bot.storage.repositories._base import Repository, columns_for, plain_json, table_of, to_items, utc_now
from handlers.events import IDEA_STATUS_KIND, FieldScores

_FOLLOW_UP_COLUMNS = columns_for(m.FollowUp, FollowUpItem)
_IDEA_COLUMNS = columns_for(m.Idea, StoredIdea)
_CHANGE_COLUMNS = columns_for(m.IdeaStatusChange, IdeaStatusChangeItem)
_IDEA_INSERT = insert(table_of(m.Idea))
_CHANGE_INSERT = insert(table_of(m.IdeaStatusChange)).returning(table_of(m.IdeaStatusChange).c.id)
_FOLLOW_UP_INSERT = insert(table_of(m.FollowUp)).returning(table_of(m.FollowUp).c.id)


class IdeaRepository(Repository):
    def add(
        self,
        idea_id: str,
        citizen_id: str,
        text: str,
        field: str | None,
        now: datetime,
        *,
        fields: Sequence[str] = (),
        classification: FieldScores | None = None,
        embedding: bytes | None = None,
        embedding_model: str | None = None,
    ) -> None:
        """Store an idea; `fields` are all fields the citizen chose (defaults to `field` alone); `embedding` the
        text's e5 vector from the similar-idea search (384 float32, little-endian) and the embedder it came from."""
        chosen = list(fields) if fields else ([field] if field else [])
        self.session.execute(
            _IDEA_INSERT,
            {
                "id": idea_id,
                "citizen_id": citizen_id,
                "text": text,
                "field": field if field is not None or not chosen else chosen[0],
                "fields": chosen,
                "scores": None if classification is None else dict(classification.scores),
                "model_version": None if classification is None else classification.model_version,
                "proposed_field": None if classification is None else classification.best,
                "confident": None if classification is None else classification.confident,
                "created_at": now,
                "status": IDEA_NEW,
                "embedding": embedding,
                "embedding_model": None if embedding is None else embedding_model,
            },
        )

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(m.Idea)).scalar_one())

    def get(self, idea_id: str) -> StoredIdea | None:
        row = self.session.execute(select(*_IDEA_COLUMNS).where(m.Idea.id == idea_id)).first()
        return None if row is None else StoredIdea(**row._mapping)

    def ids(self) -> list[str]:
        """Every idea's internal id (to match a pseudonymous reference, which cannot be looked up in SQL)."""
        return list(self.session.execute(select(m.Idea.id)).scalars())

    def support_counts(self, idea_ids: Sequence[str]) -> dict[str, int]:
        """Supporters per idea of `idea_ids` (ideas without supporters are missing)."""
        if not idea_ids:
            return {}
        query = (
            select(m.IdeaSupport.idea_id, func.count())
            .where(m.IdeaSupport.idea_id.in_(list(idea_ids)))
            .group_by(m.IdeaSupport.idea_id)
        )
        return {idea_id: int(count) for idea_id, count in self.session.execute(query).tuples()}

    def latest(self, *, field: str | None = None, status: str | None = None, limit: int | None = None
               ) -> list[StoredIdea]:
        """Ideas newest first, optionally of one first-chosen `field` ("" = filed without a field) or `status`."""
        query = select(*_IDEA_COLUMNS).order_by(m.Idea.created_at.desc(), m.Idea.id.desc())
        if field is not None:
            query = query.where(m.Idea.field.is_(None) if field == "" else m.Idea.field == field)
        if status is not None:
            query = query.where(m.Idea.status == status)
        if limit is not None:
            query = query.limit(limit)
        return to_items(StoredIdea, self.session.execute(query).all())

    def set_status(
        self, idea_id: str, status: str, note: str | None, note_en: str | None, now: datetime, source: str
    ) -> int:
        """Set the idea's current status and public note and append the change to its history; returns the
        history row's id. Validation (allowed statuses, mandatory notes) is the caller's."""
        self.session.execute(
            update(m.Idea)
            .where(m.Idea.id == idea_id)
            .values(status=status, status_note=note, status_note_en=note_en, status_at=now)
        )
        return int(
            self.session.execute(
                _CHANGE_INSERT,
                {"idea_id": idea_id, "status": status, "note": note, "note_en": note_en, "changed_at": now,
                 "source": source},
            ).scalar_one()
        )

    def history(self, idea_id: str) -> list[IdeaStatusChangeItem]:
        """The idea's status changes, oldest first."""
        rows = self.session.execute(
            select(*_CHANGE_COLUMNS)
            .where(m.IdeaStatusChange.idea_id == idea_id)
            .order_by(m.IdeaStatusChange.changed_at, m.IdeaStatusChange.id)
        ).all()
        return to_items(IdeaStatusChangeItem, rows)


class FollowUpRepository(Repository):
    """Time-based work as rows: claimed when due, fed back to the core, then marked done."""

    def add(
        self,
        citizen_id: str,
        due_at: datetime,
        kind: str,
        payload: Mapping[str, Any],
        *,
        now: datetime | None = None,
        response_id: str | None = None,
        campaign_id: int | None = None,
        unsolicited: bool = True,
    ) -> int:
        """Write a pending row; returns its id. Rows of a campaign are unique per (campaign, citizen, kind)."""
        params = {
            "citizen_id": citizen_id,
            "due_at": due_at,
            "kind": kind,
            "payload": plain_json(payload),
            "status": FOLLOW_UP_PENDING,
            "attempts": 0,
            "created_at": now or utc_now(),
            "response_id": response_id,
            "campaign_id": campaign_id,
            "unsolicited": unsolicited,
            "outcome": None,
            "sent_at": None,
            "updated_at": None,
        }
        return int(self.session.execute(_FOLLOW_UP_INSERT, params).scalar_one())

    def get(self, follow_up_id: int) -> FollowUpItem | None:
        row = self.session.execute(select(*_FOLLOW_UP_COLUMNS).where(m.FollowUp.id == follow_up_id)).first()
        return None if row is None else FollowUpItem(**row._mapping)

    def mark_queued(self, follow_up_id: int, now: datetime) -> None:
        """The core queued the message that delivers this row; `mark_sent` follows when it was sent."""
        self._finish(follow_up_id, FOLLOW_UP_QUEUED, None, now)

    def mark_sent(self, follow_up_id: int, now: datetime) -> None:
        """The outbox delivered the row's message (called in the transaction that deletes the outbox row)."""
        self.session.execute(
            update(m.FollowUp)
            .where(m.FollowUp.id == follow_up_id)
            .values(status=FOLLOW_UP_DONE, outcome=OUTCOME_SENT, sent_at=now, updated_at=now)
        )

    def finish(self, follow_up_id: int, status: str, outcome: str | None, now: datetime) -> None:
        """End (or park) a row with a status and the reason, e.g. ("skipped", "unreachable")."""
        self._finish(follow_up_id, status, outcome, now)

    def hold(self, follow_up_id: int, now: datetime) -> None:
        """The citizen is busy: the row waits until `release_held`."""
        self._finish(follow_up_id, FOLLOW_UP_HELD, None, now)

    def release_held(self, citizen_id: str, now: datetime) -> int:
        """The citizen is idle again: their held rows are due now; returns how many."""
        return self._rowcount(
            update(m.FollowUp)
            .where(m.FollowUp.citizen_id == citizen_id, m.FollowUp.status == FOLLOW_UP_HELD)
            .values(status=FOLLOW_UP_PENDING, due_at=now, updated_at=now)
        )

    def move_paused(self, citizen_id: str, paused_until: datetime, due_at: datetime, now: datetime) -> int:
        """The citizen changed or ended a pause: rows the claimer had moved to its end (`paused_until`) are due at
        `due_at` instead; returns how many."""
        return self._rowcount(
            update(m.FollowUp)
            .where(
                m.FollowUp.citizen_id == citizen_id,
                m.FollowUp.status == FOLLOW_UP_PENDING,
                m.FollowUp.unsolicited.is_(True),
                m.FollowUp.due_at == paused_until,
            )
            .values(due_at=due_at, updated_at=now)
        )

    def cancel_unsolicited(self, citizen_id: str, outcome: str, now: datetime) -> int:
        """End every open unsolicited row of the citizen (e.g. /stop); returns how many."""
        return self._rowcount(
            update(m.FollowUp)
            .where(
                m.FollowUp.citizen_id == citizen_id,
                m.FollowUp.unsolicited.is_(True),
                m.FollowUp.status.in_([FOLLOW_UP_PENDING, FOLLOW_UP_HELD]),
            )
            .values(status=FOLLOW_UP_CANCELLED, outcome=outcome, updated_at=now)
        )

    def supersede(self, citizen_id: str, kind: str, payload_key: str, value: str, now: datetime) -> int:
        """End the citizen's not yet claimed rows of `kind` whose payload has `payload_key` == `value` (e.g. the
        earlier news of an idea whose status changed again): cancelled, outcome "superseded"; returns how many.

        The payload is compared here rather than in SQL: JSON access differs by dialect, and one citizen has few
        open rows of a kind."""
        rows = self.session.execute(
            select(m.FollowUp.id, m.FollowUp.payload).where(
                m.FollowUp.citizen_id == citizen_id,
                m.FollowUp.kind == kind,
                m.FollowUp.status.in_([FOLLOW_UP_PENDING, FOLLOW_UP_HELD]),
            )
        ).all()
        ids = [row.id for row in rows if isinstance(row.payload, dict) and row.payload.get(payload_key) == value]
        return self._cancel_unclaimed(ids, OUTCOME_SUPERSEDED, now)

    def cancel_supporters_news(self, idea_ids: Collection[str], now: datetime) -> int:
        """End the unsent status news (`idea_news` rows, not yet claimed) of the ideas' supporters about those ideas:
        the idea left the board (withdrawn, rejected, deleted) and the news would quote its public text. Cancelled,
        outcome "not_needed"; returns how many."""
        wanted = set(idea_ids)
        if not wanted:
            return 0
        supporters = select(m.IdeaSupport.citizen_id).where(m.IdeaSupport.idea_id.in_(sorted(wanted)))
        rows = self.session.execute(
            select(m.FollowUp.id, m.FollowUp.payload).where(
                m.FollowUp.kind == IDEA_STATUS_KIND,
                m.FollowUp.status.in_([FOLLOW_UP_PENDING, FOLLOW_UP_HELD]),
                m.FollowUp.citizen_id.in_(supporters),
            )
        ).all()  # the payload is compared here: JSON access differs by dialect
        ids = [row.id for row in rows if isinstance(row.payload, dict) and row.payload.get("idea_id") in wanted]
        return self._cancel_unclaimed(ids, OUTCOME_NOT_NEEDED, now)

    def _cancel_unclaimed(self, ids: Sequence[int], outcome: str, now: datetime) -> int:
        """Cancel those of the rows `ids` that are still pending or held (a row claimed meanwhile goes on)."""
        if not ids:
            return 0
        return self._rowcount(
            update(m.FollowUp)
            .where(m.FollowUp.id.in_(ids), m.FollowUp.status.in_([FOLLOW_UP_PENDING, FOLLOW_UP_HELD]))
            .values(status=FOLLOW_UP_CANCELLED, outcome=outcome, updated_at=now)
        )

    def open_for(self, citizen_id: str) -> list[FollowUpItem]:
        """The citizen's rows that may still lead to a message, soonest first."""
        rows = self.session.execute(
            select(*_FOLLOW_UP_COLUMNS)
            .where(m.FollowUp.citizen_id == citizen_id, m.FollowUp.status.in_(FOLLOW_UP_OPEN))
            .order_by(m.FollowUp.due_at, m.FollowUp.id)
        ).all()
        return to_items(FollowUpItem, rows)

    def _finish(self, follow_up_id: int, status: str, outcome: str | None, now: datetime) -> None:
        self.session.execute(
            update(m.FollowUp)
            .where(m.FollowUp.id == follow_up_id)
            .values(status=status, outcome=outcome, updated_at=now)
        )

    def claim_due(self, now: datetime, limit: int = 100) -> list[FollowUpItem]:
        """Mark up to `limit` due rows "running" (attempts + 1) in the caller's transaction and return them.

        On PostgreSQL rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED), so no row is handed
        out twice; on SQLite the unit of work's write lock serialises claims.
        """
        query = (
            select(*_FOLLOW_UP_COLUMNS)
            .where(m.FollowUp.status == FOLLOW_UP_PENDING, m.FollowUp.due_at <= now)
            .order_by(m.FollowUp.due_at, m.FollowUp.id)
            .limit(limit)
        )
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        items = to_items(FollowUpItem, self.session.execute(query).all())
        if items:
            self.session.execute(
                update(m.FollowUp)
                .where(m.FollowUp.id.in_([item.id for item in items]))
                .values(status=FOLLOW_UP_RUNNING, attempts=m.FollowUp.attempts + 1)
            )
        return [replace(item, attempts=item.attempts + 1) for item in items]

    def mark_done(self, follow_up_id: int) -> None:
        self._set_status(follow_up_id, FOLLOW_UP_DONE)

    def mark_failed(self, follow_up_id: int) -> None:
        """Give up on a follow-up."""
        self._set_status(follow_up_id, FOLLOW_UP_FAILED)

    def retry_at(self, follow_up_id: int, due_at: datetime) -> None:
        """Put a claimed follow-up back, due again at `due_at` (e.g. moved out of quiet hours)."""
        self.session.execute(
            update(m.FollowUp).where(m.FollowUp.id == follow_up_id).values(status=FOLLOW_UP_PENDING, due_at=due_at)
        )

    def cancel_for(self, citizen_id: str, kind: str) -> int:
        """Cancel the citizen's pending follow-ups of `kind`; returns how many."""
        return self._rowcount(
            update(m.FollowUp)
            .where(m.FollowUp.citizen_id == citizen_id, m.FollowUp.kind == kind, m.FollowUp.status == FOLLOW_UP_PENDING)
            .values(status=FOLLOW_UP_CANCELLED)
        )

    def requeue_running(self) -> int:
        """Return rows left "running" by a crashed process to "pending". Only safe when no other worker runs."""
        return self._rowcount(
            update(m.FollowUp).where(m.FollowUp.status == FOLLOW_UP_RUNNING).values(status=FOLLOW_UP_PENDING)
        )

    def pending_for(self, citizen_id: str) -> list[FollowUpItem]:
        rows = self.session.execute(
            select(*_FOLLOW_UP_COLUMNS)
            .where(m.FollowUp.citizen_id == citizen_id, m.FollowUp.status == FOLLOW_UP_PENDING)
            .order_by(m.FollowUp.due_at, m.FollowUp.id)
        ).all()
        return to_items(FollowUpItem, rows)

    def _set_status(self, follow_up_id: int, status: str) -> None:
        self.session.execute(update(m.FollowUp).where(m.FollowUp.id == follow_up_id).values(status=status))
