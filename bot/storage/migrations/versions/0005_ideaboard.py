"""Ideas that grow together (issue 13): stored embeddings, publication and moderation, support, merges, pending
similar-idea searches, answer embeddings and theme registries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Hand-written for SQLite and PostgreSQL. Existing ideas are unpublished ("none"), without embedding or theme.
`ideas.citizen_id` becomes nullable: a published idea whose author deleted their data after agreeing that its
public text may stay keeps no author.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ideas") as batch:
        batch.alter_column("citizen_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("embedding", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("embedding_model", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("publish_consent", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("publication", sa.String(length=12), nullable=False, server_default="none"))
        batch.add_column(sa.Column("public_text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("publication_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("publication_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("merged_into", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("theme", sa.String(length=40), nullable=True))
        batch.create_foreign_key(
            op.f("fk_ideas_merged_into_ideas"), "ideas", ["merged_into"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_ideas_publication"), ["publication"])
        batch.create_index(op.f("ix_ideas_publication_at"), ["publication_at"])
    with op.batch_alter_table("ideas") as batch:  # the default was only for existing rows
        batch.alter_column("publication", existing_type=sa.String(length=12), server_default=None)
    op.create_table(
        "idea_supports",
        sa.Column("idea_id", sa.String(length=64), nullable=False),
        sa.Column("citizen_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("news", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["idea_id"], ["ideas.id"], name=op.f("fk_idea_supports_idea_id_ideas"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_idea_supports_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("idea_id", "citizen_id", name=op.f("pk_idea_supports")),
    )
    op.create_index(op.f("ix_idea_supports_citizen_id"), "idea_supports", ["citizen_id"])
    op.create_table(
        "idea_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("draft_id", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_idea_searches_citizen_id_citizens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idea_searches")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_idea_searches_citizen_id"), "idea_searches", ["citizen_id"])
    op.create_table(
        "answer_embeddings",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("source_hash", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answers.id"], name=op.f("fk_answer_embeddings_answer_id_answers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("answer_id", name=op.f("pk_answer_embeddings")),
    )
    op.create_table(
        "theme_registry",
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("field", name=op.f("pk_theme_registry")),
    )


def downgrade() -> None:
    op.drop_table("theme_registry")
    op.drop_table("answer_embeddings")
    op.drop_index(op.f("ix_idea_searches_citizen_id"), table_name="idea_searches")
    op.drop_table("idea_searches")
    op.drop_index(op.f("ix_idea_supports_citizen_id"), table_name="idea_supports")
    op.drop_table("idea_supports")
    op.execute("DELETE FROM ideas WHERE citizen_id IS NULL")
    with op.batch_alter_table("ideas") as batch:
        batch.drop_index(op.f("ix_ideas_publication_at"))
        batch.drop_index(op.f("ix_ideas_publication"))
        batch.drop_constraint(op.f("fk_ideas_merged_into_ideas"), type_="foreignkey")
        for column in (
            "theme", "merged_at", "merged_into", "publication_at", "publication_note", "public_text", "publication",
            "publish_consent", "embedding_model", "embedding",
        ):  # fmt: skip
            batch.drop_column(column)
        batch.alter_column("citizen_id", existing_type=sa.String(length=64), nullable=False)
