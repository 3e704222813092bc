"""Staff in the chat and the idea status loop: idea status notes and history, the staff audit log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

Hand-written for SQLite and PostgreSQL. Existing ideas keep their status ("new" = eingegangen) with no note.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ideas") as batch:
        batch.add_column(sa.Column("status_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_note_en", sa.Text(), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "idea_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idea_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_en", sa.Text(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_status_changes_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_status_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_idea_status_changes_idea_id"), "idea_status_changes", ["idea_id"])
    op.create_table(
        "staff_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=276), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_audit")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_staff_audit_at"), "staff_audit", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_audit_at"), table_name="staff_audit")
    op.drop_table("staff_audit")
    op.drop_index(op.f("ix_idea_status_changes_idea_id"), table_name="idea_status_changes")
    op.drop_table("idea_status_changes")
    with op.batch_alter_table("ideas") as batch:
        batch.drop_column("status_at")
        batch.drop_column("status_note_en")
        batch.drop_column("status_note")
