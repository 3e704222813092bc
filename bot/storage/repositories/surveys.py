"""Imported survey versions and the citizens' responses to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from bot.storage import models as m
from bot.storage.items import RESPONSE_COMPLETED, RESPONSE_IN_PROGRESS, StoredSurvey, UnknownSurveyError
from bot.storage.repositories._base import Repository, columns_for, plain_json, table_of, to_item, to_items, upsert
from handlers.events import FieldScores

_SURVEY_COLUMNS = columns_for(m.Survey, StoredSurvey)
_RESPONSE_INSERT = insert(table_of(m.Response))
_ANSWER_UPSERT = upsert(
    m.Answer,
    ("response_id", "question_id", "value", "answered_at", "scores", "model_version", "field"),
    ("response_id", "question_id"),
    ("value", "answered_at", "scores", "model_version", "field"),
)


class SurveyRepository(Repository):
    """Survey versions: every distinct content of a survey file is kept, so answers always refer to what was asked."""

    def import_survey(
        self, key: str, definition: dict[str, Any], content_hash: str, title: str, source_file: str, now: datetime
    ) -> tuple[int, bool]:
        """Store a survey file's content; returns (version, created).

        The same content again yields its existing version. New content becomes version max+1 and the only
        active version of the key. Content reverted to an earlier version makes that version the active one
        again, unless staff had deactivated the survey.
        """
        existing = self._by_hash(key, content_hash)
        if existing is not None:
            if not existing.active and self._any_active(key):
                self._activate_only(key, existing.id)
            return existing.version, False
        for _ in range(3):  # another worker may import the same file at the same moment
            latest = self.session.execute(select(func.max(m.Survey.version)).where(m.Survey.key == key)).scalar_one()
            version = (latest or 0) + 1
            statement = (
                self._insert(m.Survey)
                .values(
                    key=key,
                    version=version,
                    content_hash=content_hash,
                    definition=plain_json(definition),
                    title=title,
                    active=True,
                    source_file=source_file,
                    imported_at=now,
                )
                .on_conflict_do_nothing()
                .returning(m.Survey.id)
            )
            survey_id = self.session.execute(statement).scalar_one_or_none()
            if survey_id is not None:
                self._activate_only(key, survey_id)
                return version, True
            existing = self._by_hash(key, content_hash)
            if existing is not None:
                return existing.version, False
        raise RuntimeError(f"could not import survey {key!r}: its versions keep changing concurrently")

    def versions(self) -> list[StoredSurvey]:
        """Every stored version, by key and version."""
        rows = self.session.execute(select(*_SURVEY_COLUMNS).order_by(m.Survey.key, m.Survey.version)).all()
        return to_items(StoredSurvey, rows)

    def get(self, key: str, version: int) -> StoredSurvey | None:
        row = self.session.execute(
            select(*_SURVEY_COLUMNS).where(m.Survey.key == key, m.Survey.version == version)
        ).first()
        return None if row is None else to_item(StoredSurvey, row)

    def id_for(self, key: str, version: int) -> int | None:
        return self.session.execute(
            select(m.Survey.id).where(m.Survey.key == key, m.Survey.version == version)
        ).scalar_one_or_none()

    def set_active(self, key: str, active: bool) -> None:
        """Offer the newest version of survey `key` to citizens, or stop offering it."""
        if not active:
            self.session.execute(update(m.Survey).where(m.Survey.key == key).values(active=False))
            return
        newest = self.session.execute(
            select(m.Survey.id).where(m.Survey.key == key).order_by(m.Survey.version.desc()).limit(1)
        ).scalar_one_or_none()
        if newest is not None:
            self._activate_only(key, newest)

    def offered(self) -> set[tuple[str, int]]:
        """The active (key, version) pairs."""
        rows = self.session.execute(select(m.Survey.key, m.Survey.version).where(m.Survey.active.is_(True))).all()
        return {(row.key, row.version) for row in rows}

    def activate(self, key: str, version: int) -> None:
        """Make `version` the only active version of survey `key`."""
        survey_id = self.id_for(key, version)
        if survey_id is not None:
            self._activate_only(key, survey_id)

    def set_closed(self, key: str, closed_at: datetime | None) -> int:
        """Close survey `key` (every version) at `closed_at`, or reopen it with None; returns the rows changed."""
        return self._rowcount(update(m.Survey).where(m.Survey.key == key).values(closed_at=closed_at))

    def closed(self) -> dict[str, datetime]:
        """Survey key → when staff closed it, for every closed survey."""
        rows = self.session.execute(
            select(m.Survey.key, func.min(m.Survey.closed_at))
            .where(m.Survey.closed_at.is_not(None))
            .group_by(m.Survey.key)
        ).all()
        return {row[0]: row[1] for row in rows}

    def active_sources(self) -> dict[str, str]:
        """Survey key → file name of its active version (to notice files that disappeared from the folder)."""
        rows = self.session.execute(select(m.Survey.key, m.Survey.source_file).where(m.Survey.active.is_(True))).all()
        return {row.key: row.source_file for row in rows}

    def _by_hash(self, key: str, content_hash: str) -> StoredSurvey | None:
        row = self.session.execute(
            select(*_SURVEY_COLUMNS).where(m.Survey.key == key, m.Survey.content_hash == content_hash)
        ).first()
        return None if row is None else to_item(StoredSurvey, row)

    def _any_active(self, key: str) -> bool:
        query = select(m.Survey.id).where(m.Survey.key == key, m.Survey.active.is_(True)).limit(1)
        return self.session.execute(query).first() is not None

    def _activate_only(self, key: str, survey_id: int) -> None:
        self.session.execute(update(m.Survey).where(m.Survey.key == key).values(active=m.Survey.id == survey_id))


class ResponseRepository(Repository):
    """A citizen's responses and their answers (one current answer per question)."""

    def start(
        self,
        response_id: str,
        citizen_id: str,
        survey_key: str,
        survey_version: int,
        now: datetime,
        *,
        campaign_id: int | None = None,
    ) -> None:
        """Start a response; `campaign_id` names the campaign whose invitation the citizen followed."""
        survey_id = SurveyRepository(self.session).id_for(survey_key, survey_version)
        if survey_id is None:
            raise UnknownSurveyError(survey_key, survey_version)
        self.session.execute(
            _RESPONSE_INSERT,
            {
                "id": response_id,
                "citizen_id": citizen_id,
                "survey_id": survey_id,
                "status": RESPONSE_IN_PROGRESS,
                "started_at": now,
                "campaign_id": campaign_id,
            },
        )

    def save_answer(
        self,
        response_id: str,
        question_id: str,
        value: Any,
        now: datetime,
        classification: FieldScores | None = None,
    ) -> None:
        """Insert or replace the answer to `question_id`, with the classifier's view of a free-text answer."""
        self.session.execute(
            _ANSWER_UPSERT,
            {
                "response_id": response_id,
                "question_id": question_id,
                "value": plain_json(value),
                "answered_at": now,
                "scores": None if classification is None else dict(classification.scores),
                "model_version": None if classification is None else classification.model_version,
                "field": None if classification is None else classification.best,
            },
        )

    def delete_answer(self, response_id: str, question_id: str) -> None:
        self.session.execute(
            delete(m.Answer).where(m.Answer.response_id == response_id, m.Answer.question_id == question_id)
        )

    def complete(self, response_id: str, now: datetime) -> None:
        self.session.execute(
            update(m.Response).where(m.Response.id == response_id).values(status=RESPONSE_COMPLETED, completed_at=now)
        )

    def answers(self, response_id: str) -> dict[str, Any]:
        """Question id → answer value, in the order they were (last) answered."""
        rows = self.session.execute(
            select(m.Answer.question_id, m.Answer.value)
            .where(m.Answer.response_id == response_id)
            .order_by(m.Answer.answered_at, m.Answer.id)
        ).all()
        return {row.question_id: row.value for row in rows}

    def status(self, response_id: str) -> str | None:
        """The response's status ("in_progress" or "completed"); None if there is no such response."""
        return self.session.execute(select(m.Response.status).where(m.Response.id == response_id)).scalar_one_or_none()
