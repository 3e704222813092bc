"""Classification: training consent, the fields a citizen chose, and the classifier's scores with their version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Hand-written for SQLite and PostgreSQL. `ideas.fields` is NOT NULL: existing ideas get their single `field` as a
one-element list (or an empty list), so the column is added nullable, filled, then tightened (a table rebuild on
SQLite via batch mode). On SQLite run it with foreign keys off, as `Database.migrate` does: the downgrade
rebuilds `citizens`, and with foreign keys on dropping the old table would cascade into every child row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIELD_KEY = sa.String(length=40)
MODEL_VERSION = sa.String(length=64)


def upgrade() -> None:
    op.add_column("citizens", sa.Column("training_consent", sa.Boolean(), nullable=True))

    op.add_column("ideas", sa.Column("fields", sa.JSON(), nullable=True))
    op.add_column("ideas", sa.Column("scores", sa.JSON(), nullable=True))
    op.add_column("ideas", sa.Column("model_version", MODEL_VERSION, nullable=True))
    op.add_column("ideas", sa.Column("proposed_field", FIELD_KEY, nullable=True))
    op.add_column("ideas", sa.Column("confident", sa.Boolean(), nullable=True))
    ideas = sa.table(
        "ideas", sa.column("id", sa.String()), sa.column("field", sa.String()), sa.column("fields", sa.JSON())
    )
    connection = op.get_bind()
    # Row by row through the JSON type, so both dialects store the same JSON text; old databases are small.
    for row in connection.execute(sa.select(ideas.c.id, ideas.c.field)).all():
        connection.execute(ideas.update().where(ideas.c.id == row.id).values(fields=[row.field] if row.field else []))
    with op.batch_alter_table("ideas") as batch:
        batch.alter_column("fields", existing_type=sa.JSON(), nullable=False)

    op.add_column("answers", sa.Column("scores", sa.JSON(), nullable=True))
    op.add_column("answers", sa.Column("model_version", MODEL_VERSION, nullable=True))
    op.add_column("answers", sa.Column("field", FIELD_KEY, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("field")
        batch.drop_column("model_version")
        batch.drop_column("scores")
    with op.batch_alter_table("ideas") as batch:
        batch.drop_column("confident")
        batch.drop_column("proposed_field")
        batch.drop_column("model_version")
        batch.drop_column("scores")
        batch.drop_column("fields")
    with op.batch_alter_table("citizens") as batch:
        batch.drop_column("training_consent")
