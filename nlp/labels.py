"""Exporting citizens' confirmed idea fields as (redacted) training examples for the classifier.

Only ideas of citizens who consented to the privacy notice AND to training use (`citizens.training_consent`) and
who chose a field are exported; the text is redacted (`nlp.redact`). The JSON lines carry no ids or dates, so the
file cannot be joined back to a citizen.

The database is read with SQLAlchemy Core on the bot's engine: `nlp/` does not import `bot/` (DESIGN.md), so the
two tables are described here by the columns this export reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

import sqlalchemy as sa

from nlp.redact import redact

_CITIZENS = sa.table(
    "citizens",
    sa.column("id", sa.String()),
    sa.column("consent_version", sa.String()),
    sa.column("training_consent", sa.Boolean()),
)
_IDEAS = sa.table(
    "ideas",
    sa.column("id", sa.String()),
    sa.column("citizen_id", sa.String()),
    sa.column("text", sa.Text()),
    sa.column("field", sa.String()),
    sa.column("fields", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_QUERY = (
    sa.select(_IDEAS.c.text, _IDEAS.c.field, _IDEAS.c.fields)
    .join(_CITIZENS, _CITIZENS.c.id == _IDEAS.c.citizen_id)
    .where(_CITIZENS.c.training_consent.is_(True), _CITIZENS.c.consent_version.is_not(None))
    .order_by(_IDEAS.c.created_at, _IDEAS.c.id)
)


class HasEngine(Protocol):
    """The bot's `Database` (or anything else with a SQLAlchemy engine on the bot's schema)."""

    @property
    def engine(self) -> sa.Engine: ...


def chosen_fields(field: str | None, fields: Any) -> list[str]:
    """The citizen's chosen fields, primary first (older rows may only have `field`)."""
    chosen = [str(key) for key in fields] if isinstance(fields, list) else []
    if field and field not in chosen:
        chosen.insert(0, field)
    return chosen


def label_records(db: HasEngine) -> Iterator[dict[str, Any]]:
    """The training examples: {"text": redacted, "field": primary, "also": [other chosen fields]}."""
    with db.engine.connect() as connection:
        for row in connection.execute(_QUERY):
            chosen = chosen_fields(row.field, row.fields)
            text = redact(row.text or "").strip()
            if not chosen or not text:
                continue
            yield {"text": text, "field": chosen[0], "also": chosen[1:]}


def export_labels(db: HasEngine, out: TextIO) -> int:
    """Write the training examples as JSON lines to `out`; returns how many."""
    count = 0
    for record in label_records(db):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count
