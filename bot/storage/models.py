"""The database tables as SQLAlchemy 2.0 typed models.

The schema is created and changed only by the Alembic migrations in `migrations/versions`; a test checks that
they match these models. Channel user ids live only in `contacts`; every other table refers to the citizen's
pseudonymous id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column

from bot.storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Explicit constraint names, so migrations can address constraints identically on every dialect."""

CITIZEN_ID_LENGTH = 64
CHANNEL_LENGTH = 20
CHANNEL_ID_LENGTH = 255  # Matrix user and room ids may be up to 255 bytes
CHAT_KEY_LENGTH = CHANNEL_LENGTH + 1 + CHANNEL_ID_LENGTH
ERROR_LENGTH = 200
SURVEY_KEY_LENGTH = 40
MODEL_VERSION_LENGTH = 64


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def _citizen_fk() -> MappedColumn[str]:
    return mapped_column(String(CITIZEN_ID_LENGTH), ForeignKey("citizens.id", ondelete="CASCADE"), index=True)


class Citizen(Base):
    """A person talking to the bot, known only by a keyed hash of their first contact."""

    __tablename__ = "citizens"

    id: Mapped[str] = mapped_column(String(CITIZEN_ID_LENGTH), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    language_chosen: Mapped[bool] = mapped_column(Boolean)
    consent_version: Mapped[str | None] = mapped_column(String(20))
    consent_at: Mapped[datetime | None]
    training_consent: Mapped[bool | None] = mapped_column(Boolean)  # None: never asked
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(index=True)
    paused_until: Mapped[datetime | None]  # /pause: unsolicited messages wait until then
    outreach_day: Mapped[str | None] = mapped_column(String(10))  # city-local date of the last unsolicited message
    outreach_count: Mapped[int] = mapped_column(Integer, default=0)  # unsolicited messages on `outreach_day`


class Contact(Base):
    """How to reach a citizen on one channel. The only table holding channel user ids."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[str] = _citizen_fk()
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))
    channel_user_id: Mapped[str] = mapped_column(String(CHANNEL_ID_LENGTH))
    chat_id: Mapped[str] = mapped_column(String(CHANNEL_ID_LENGTH))
    unreachable_at: Mapped[datetime | None]  # blocked the bot / left the room; cleared when they write again


class Conversation(Base):
    """Where the citizen is in the dialogue (`flow`) and the flow's own data."""

    __tablename__ = "conversations"

    citizen_id: Mapped[str] = mapped_column(
        String(CITIZEN_ID_LENGTH), ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class InboundEvent(Base):
    """The inbox: raw events durably stored before the channel acknowledges them; also the duplicate filter.

    Once processed a row keeps only what deduplication needs (channel, event id, status, times).
    """

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index(None, "status", "id"),
        Index(None, "chat_key", "status", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))
    event_id: Mapped[str] = mapped_column(String(CHANNEL_ID_LENGTH))
    chat_key: Mapped[str] = mapped_column(String(CHAT_KEY_LENGTH))
    payload: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message waiting to be sent. Deleted once sent, so sent messages are not kept."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "chat_key", "status", "id"),
        Index(None, "status", "not_before"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))
    chat_id: Mapped[str] = mapped_column(String(CHANNEL_ID_LENGTH))
    chat_key: Mapped[str] = mapped_column(String(CHAT_KEY_LENGTH))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    not_before: Mapped[datetime | None]  # NULL: as soon as possible (whatever the sending worker's clock says)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_LENGTH))
    created_at: Mapped[datetime]
    priority: Mapped[int] = mapped_column(Integer, default=0)  # 0 interactive reply, 1 bulk (unsolicited)
    follow_up_id: Mapped[int | None] = mapped_column(Integer)  # the follow_ups row this message delivers


class Survey(Base):
    """One imported version of a survey file."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("key", "version"), UniqueConstraint("key", "content_hash"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(SURVEY_KEY_LENGTH))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]]
    title: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean)
    source_file: Mapped[str] = mapped_column(String(500))
    imported_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]  # staff closed the survey (all versions of the key carry it)


class Response(Base):
    """A citizen taking one survey version."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[str] = _citizen_fk()
    survey_id: Mapped[int] = mapped_column(Integer, ForeignKey("surveys.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    campaign_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("campaigns.id"), index=True)


class Answer(Base):
    """The current answer to one question of a response."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[str] = mapped_column(String(64), ForeignKey("responses.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(SURVEY_KEY_LENGTH))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    answered_at: Mapped[datetime]
    # The classifier's view of a free-text answer (None when not classified).
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # SQL NULL, not 'null'
    model_version: Mapped[str | None] = mapped_column(String(MODEL_VERSION_LENGTH))
    field: Mapped[str | None] = mapped_column(String(SURVEY_KEY_LENGTH))


EMBEDDING_MODEL_LENGTH = 80
PUBLICATION_LENGTH = 12
THEME_LENGTH = 40


class Idea(Base):
    """An idea a citizen submitted, with the strategy fields they chose and what the classifier proposed.

    Publication (issue 13): `publish_consent` is what the author allowed when asked after filing ("yes", "keep":
    yes and the public text may stay when they delete their data, "no"; None: not asked); `publication` is where
    the idea stands (bot.ideaboard.PUBLICATIONS: none → pending → approved | rejected; withdrawn by the author);
    `public_text` the wording other citizens see (set when staff approve, maybe edited). Every change of
    `publication`, `public_text` or `merged_into` sets `publication_at`, which the similar-idea index of every
    worker follows. `citizen_id` is None only for a published idea whose author deleted their data after agreeing
    that the public text may stay ("keep").
    """

    __tablename__ = "ideas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    citizen_id: Mapped[str | None] = mapped_column(
        String(CITIZEN_ID_LENGTH), ForeignKey("citizens.id", ondelete="CASCADE"), index=True, nullable=True
    )
    text: Mapped[str] = mapped_column(Text)
    field: Mapped[str | None] = mapped_column(String(SURVEY_KEY_LENGTH))  # the first chosen field
    fields: Mapped[list[str]] = mapped_column(JSON)  # every field the citizen chose
    scores: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # SQL NULL, not 'null'
    model_version: Mapped[str | None] = mapped_column(String(MODEL_VERSION_LENGTH))
    proposed_field: Mapped[str | None] = mapped_column(String(SURVEY_KEY_LENGTH))  # the classifier's best
    confident: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))  # handlers.events.IDEA_STATUSES
    status_note: Mapped[str | None] = mapped_column(Text)  # the city's public note on the status (German)
    status_note_en: Mapped[str | None] = mapped_column(Text)  # the same in English (optional)
    status_at: Mapped[datetime | None]  # when staff last set the status (None: still as filed)
    # The e5 embedding of the idea's text (float32 little-endian, 384 values), written with the idea (one write).
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(EMBEDDING_MODEL_LENGTH))
    publish_consent: Mapped[str | None] = mapped_column(String(8))  # "yes" / "keep" / "no"; None: not asked
    publication: Mapped[str] = mapped_column(String(PUBLICATION_LENGTH), default="none", index=True)
    public_text: Mapped[str | None] = mapped_column(Text)  # what other citizens see (approved wording)
    publication_note: Mapped[str | None] = mapped_column(Text)  # staff's reason told to the author on rejection
    publication_at: Mapped[datetime | None] = mapped_column(index=True)  # last change of publication/text/merge
    merged_into: Mapped[str | None] = mapped_column(String(64), ForeignKey("ideas.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime | None]
    theme: Mapped[str | None] = mapped_column(String(THEME_LENGTH))  # nlp.themes id, set by the theme refresh


class IdeaSupport(Base):
    """A citizen supports a published idea (once per citizen and idea; withdrawn by deleting the row)."""

    __tablename__ = "idea_supports"

    idea_id: Mapped[str] = mapped_column(String(64), ForeignKey("ideas.id", ondelete="CASCADE"), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(
        String(CITIZEN_ID_LENGTH), ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]
    news: Mapped[bool] = mapped_column(Boolean, default=False)  # the supporter asked for this idea's status news


class IdeaSearch(Base):
    """A similar-idea search the core asked for (`FindSimilar`), waiting for the runtime's search worker.

    Deleted once its result event is in the inbox; survives a restart, so no citizen waits for ever.
    """

    __tablename__ = "idea_searches"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[str] = _citizen_fk()
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))
    draft_id: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class AnswerEmbedding(Base):
    """The e5 embedding of a free-text answer (for themes), computed in the background; `source_hash` tells
    whether the answer changed since."""

    __tablename__ = "answer_embeddings"

    answer_id: Mapped[int] = mapped_column(Integer, ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    model: Mapped[str] = mapped_column(String(EMBEDDING_MODEL_LENGTH))
    source_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    theme: Mapped[str | None] = mapped_column(String(THEME_LENGTH))


class ThemeRegistryRow(Base):
    """The theme registry of one strategy field (`nlp.themes.ThemeRegistry` as JSON): keeps theme ids stable."""

    __tablename__ = "theme_registry"

    field: Mapped[str] = mapped_column(String(SURVEY_KEY_LENGTH), primary_key=True)
    content: Mapped[str] = mapped_column(Text)  # the registry as JSON
    updated_at: Mapped[datetime]


class IdeaStatusChange(Base):
    """The history of an idea's status: every change staff made, with its public note (deleted with the idea)."""

    __tablename__ = "idea_status_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idea_id: Mapped[str] = mapped_column(String(64), ForeignKey("ideas.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    note_en: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))  # "chat" or "cli" (who did it is in the staff audit log)


class StaffAudit(Base):
    """Every staff action (views of citizens' data included): who, in which role, what, when, from where.

    Holds employees' data: purged after `STADTDIALOG_AUDIT_RETENTION_DAYS`. Never holds citizens' texts.
    """

    __tablename__ = "staff_audit"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(CHAT_KEY_LENGTH))  # "telegram:12345", "matrix:@ana:…", "cli:alice"
    role: Mapped[str] = mapped_column(String(20))  # staff / analyst / cli
    channel: Mapped[str] = mapped_column(String(CHANNEL_LENGTH))  # telegram / matrix / terminal / cli
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100))  # campaign id, idea reference (i_…), field key
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    outcome: Mapped[str] = mapped_column(String(20))  # bot.staffdesk.audit.OUTCOMES


class Campaign(Base):
    """Staff announce a survey to an audience of opted-in citizens between a start and an end time."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    survey_key: Mapped[str] = mapped_column(String(SURVEY_KEY_LENGTH))
    survey_version: Mapped[int | None] = mapped_column(Integer)  # pinned at launch
    status: Mapped[str] = mapped_column(String(12))
    audience: Mapped[dict[str, Any]]  # {"channels": [...], "languages": [...], "fields": [...]}; [] = any
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reminder_after_days: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]  # the audience was materialised as invitation rows
    closed_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(100))


class OptIn(Base):
    """Proof of a citizen's opt-in to unsolicited messages of one topic (GDPR Art. 7(1)); history kept.

    The current opt-in of a topic is the row without `withdrawn_at`.
    """

    __tablename__ = "opt_ins"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[str] = _citizen_fk()
    topic: Mapped[str] = mapped_column(String(20))
    fields: Mapped[list[str]] = mapped_column(JSON)  # strategy fields (surveys only); [] = all
    source: Mapped[str] = mapped_column(String(30))
    notice_version: Mapped[str] = mapped_column(String(20))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class FollowUp(Base):
    """Something that must happen at a time: fed back to the core as an Inbound when due."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        Index(None, "status", "due_at"),
        UniqueConstraint("campaign_id", "citizen_id", "kind"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[str] = _citizen_fk()
    due_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    response_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("campaigns.id"), index=True)
    unsolicited: Mapped[bool] = mapped_column(Boolean, default=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class ChannelState(Base):
    """Small per-channel cursors (Telegram offset, Matrix since-token) that must survive a restart."""

    __tablename__ = "channel_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
