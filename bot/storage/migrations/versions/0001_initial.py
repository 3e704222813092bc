"""Initial schema: citizens and contacts, conversations, inbox, outbox, surveys, responses, ideas, follow-ups.

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written against bot/storage/models.py as of this revision and frozen: later model changes need a new revision.
Datetimes are stored as UTC (`bot.storage.types.UTCDateTime` wraps `DateTime(timezone=True)`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CITIZEN_ID = sa.String(length=64)
CHANNEL = sa.String(length=20)
CHANNEL_ID = sa.String(length=255)
CHAT_KEY = sa.String(length=276)


def _utc(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _citizen_fk(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("citizen_id", CITIZEN_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f(f"fk_{table}_citizen_id_citizens"), ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "citizens",
        sa.Column("id", CITIZEN_ID, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("language_chosen", sa.Boolean(), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=True),
        _utc("consent_at", nullable=True),
        _utc("created_at"),
        _utc("last_seen_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizens")),
    )
    op.create_index(op.f("ix_citizens_last_seen_at"), "citizens", ["last_seen_at"])

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        *_citizen_fk("contacts"),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column("channel_user_id", CHANNEL_ID, nullable=False),
        sa.Column("chat_id", CHANNEL_ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("channel", "channel_user_id", name=op.f("uq_contacts_channel_channel_user_id")),
    )
    op.create_index(op.f("ix_contacts_citizen_id"), "contacts", ["citizen_id"])

    op.create_table(
        "conversations",
        *_citizen_fk("conversations"),
        sa.Column("flow", sa.String(length=60), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("citizen_id", name=op.f("pk_conversations")),
    )

    op.create_table(
        "inbound_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column("event_id", CHANNEL_ID, nullable=False),
        sa.Column("chat_key", CHAT_KEY, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=200), nullable=True),
        _utc("received_at"),
        _utc("processed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("channel", "event_id", name=op.f("uq_inbound_events_channel_event_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_inbound_events_status_id"), "inbound_events", ["status", "id"])
    op.create_index(op.f("ix_inbound_events_chat_key_status_id"), "inbound_events", ["chat_key", "status", "id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", CHANNEL, nullable=False),
        sa.Column("chat_id", CHANNEL_ID, nullable=False),
        sa.Column("chat_key", CHAT_KEY, nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("not_before", nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        _utc("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_outbox_chat_key_status_id"), "outbox", ["chat_key", "status", "id"])
    op.create_index(op.f("ix_outbox_status_not_before"), "outbox", ["status", "not_before"])

    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source_file", sa.String(length=500), nullable=False),
        _utc("imported_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_surveys_key_version")),
        sa.UniqueConstraint("key", "content_hash", name=op.f("uq_surveys_key_content_hash")),
    )

    op.create_table(
        "responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        *_citizen_fk("responses"),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        _utc("started_at"),
        _utc("completed_at", nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["surveys.id"], name=op.f("fk_responses_survey_id_surveys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_citizen_id"), "responses", ["citizen_id"])
    op.create_index(op.f("ix_responses_survey_id"), "responses", ["survey_id"])

    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.String(length=64), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        _utc("answered_at"),
        sa.ForeignKeyConstraint(
            ["response_id"], ["responses.id"], name=op.f("fk_answers_response_id_responses"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("response_id", "question_id", name=op.f("uq_answers_response_id_question_id")),
    )

    op.create_table(
        "ideas",
        sa.Column("id", sa.String(length=64), nullable=False),
        *_citizen_fk("ideas"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=True),
        _utc("created_at"),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ideas")),
    )
    op.create_index(op.f("ix_ideas_citizen_id"), "ideas", ["citizen_id"])

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        *_citizen_fk("follow_ups"),
        _utc("due_at"),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _utc("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_follow_ups_citizen_id"), "follow_ups", ["citizen_id"])
    op.create_index(op.f("ix_follow_ups_status_due_at"), "follow_ups", ["status", "due_at"])

    op.create_table(
        "channel_state",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_channel_state")),
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "channel_state",
        "follow_ups",
        "ideas",
        "answers",
        "responses",
        "surveys",
        "outbox",
        "inbound_events",
        "conversations",
        "contacts",
        "citizens",
    ):
        op.drop_table(table)
