"""Outreach: opt-ins with proof, campaigns, follow-up outcomes, pacing columns, survey closing, reachability.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Hand-written for SQLite and PostgreSQL. New NOT NULL columns get a server default so existing rows are valid
(`citizens.outreach_count` 0, `outbox.priority` 0 = interactive, `follow_ups.unsolicited` true). On SQLite,
constraints on existing tables are added in batch mode (a table rebuild), with foreign keys off as
`Database.migrate` runs it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CITIZEN_ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("survey_key", sa.String(length=40), nullable=False),
        sa.Column("survey_version", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminder_after_days", sa.Integer(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "opt_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", CITIZEN_ID, nullable=False),
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("notice_version", sa.String(length=20), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_opt_ins_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_ins")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_opt_ins_citizen_id"), "opt_ins", ["citizen_id"])

    with op.batch_alter_table("citizens") as batch:
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("outreach_day", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("outreach_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("unreachable_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("follow_up_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("surveys") as batch:
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_responses_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"])
        batch.create_index(op.f("ix_responses_campaign_id"), ["campaign_id"])
    with op.batch_alter_table("follow_ups") as batch:
        batch.add_column(sa.Column("response_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("unsolicited", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f("fk_follow_ups_campaign_id_campaigns"), "campaigns", ["campaign_id"], ["id"])
        batch.create_index(op.f("ix_follow_ups_campaign_id"), ["campaign_id"])
        batch.create_unique_constraint(
            op.f("uq_follow_ups_campaign_id_citizen_id_kind"), ["campaign_id", "citizen_id", "kind"]
        )


def downgrade() -> None:
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_constraint(op.f("uq_follow_ups_campaign_id_citizen_id_kind"), type_="unique")
        batch.drop_index(op.f("ix_follow_ups_campaign_id"))
        batch.drop_constraint(op.f("fk_follow_ups_campaign_id_campaigns"), type_="foreignkey")
        for column in ("updated_at", "sent_at", "outcome", "unsolicited", "campaign_id", "response_id"):
            batch.drop_column(column)
    with op.batch_alter_table("responses") as batch:
        batch.drop_index(op.f("ix_responses_campaign_id"))
        batch.drop_constraint(op.f("fk_responses_campaign_id_campaigns"), type_="foreignkey")
        batch.drop_column("campaign_id")
    with op.batch_alter_table("surveys") as batch:
        batch.drop_column("closed_at")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("follow_up_id")
        batch.drop_column("priority")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("unreachable_at")
    with op.batch_alter_table("citizens") as batch:
        batch.drop_column("outreach_count")
        batch.drop_column("outreach_day")
        batch.drop_column("paused_until")
    op.drop_index(op.f("ix_opt_ins_citizen_id"), table_name="opt_ins")
    op.drop_table("opt_ins")
    op.drop_table("campaigns")
