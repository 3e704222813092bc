"""Categorised feedback for analysts: `stadtdialog export feedback` (CSV or JSON lines) and `export summary`.

Every idea (with the field(s) the citizen confirmed or chose and what the classifier proposed) and every
classified free-text survey answer, under pseudonymous citizen ids only. Texts are redacted by default (e-mail
addresses, phone numbers, street addresses with a house number, announced names: `nlp.redact`), because a free
text can hold what the citizen never meant for a spreadsheet.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.analytics.model import CellValue
from bot.storage.repositories.feedback import FeedbackRow
from nlp.redact import redact

FORMATS = ("csv", "jsonl")
_BASE_COLUMNS = (
    "kind", "id", "citizen", "created_at", "survey", "question", "question_text", "text", "fields", "field_source",
    "proposed_field", "confident", "model_version", "status", "theme",
)


def _record(row: FeedbackRow, keep_text: bool) -> dict[str, object]:
    return {
        "kind": row.kind,
        "id": row.id,
        "citizen": row.citizen,
        "created_at": row.created_at.isoformat(),
        "survey": row.survey,
        "question": row.question,
        "question_text": row.question_text,
        "text": row.text if keep_text else redact(row.text),
        "fields": list(row.fields),
        "field_source": row.field_source,
        "proposed_field": row.proposed_field,
        "confident": row.confident,
        "model_version": row.model_version,
        "status": row.status,
        "theme": row.theme,
        "scores": row.scores,
    }


def write_jsonl(rows: Iterable[FeedbackRow], out: TextIO, *, keep_text: bool = False) -> int:
    """One JSON object per line; returns the number of rows."""
    count = 0
    for row in rows:
        out.write(json.dumps(_record(row, keep_text), ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(
    rows: Iterable[FeedbackRow], out: TextIO, field_keys: Sequence[str], *, keep_text: bool = False,
    dialect: str = "excel", timezone: ZoneInfo,
) -> int:
    """A header, then one line per row: several fields joined by "|", one `score_<field>` column per field —
    in the CSV convention every analyst export shares (`bot.analytics.writers.csvout`: excel — `;`, decimal
    comma, BOM, local time — or plain; formula-looking texts kept inert)."""
    from bot.analytics.writers.csvout import write_csv_rows

    def cells(row: FeedbackRow) -> list[CellValue]:
        record = _record(row, keep_text)
        values: list[CellValue] = []
        for column in _BASE_COLUMNS:
            value = record[column]
            if column == "created_at":
                value = row.created_at
            elif column == "fields":
                value = "|".join(row.fields)
            elif isinstance(value, bool):
                value = int(value)
            values.append(value if isinstance(value, str | int | float | datetime) or value is None else str(value))
        values += [round(row.scores[key], 4) if key in row.scores else None for key in field_keys]
        return values

    header = [*_BASE_COLUMNS, *(f"score_{key}" for key in field_keys)]
    return write_csv_rows(header, (cells(row) for row in rows), out, dialect=dialect, timezone=timezone)


@dataclass
class FieldCounts:
    ideas: int = 0
    answers: int = 0


def summary(rows: Iterable[FeedbackRow], field_labels: dict[str, str]) -> str:
    """Per strategy field: ideas (as citizens filed them) and classified answers; and how often citizens took
    the classifier's proposal."""
    per_field: dict[str, FieldCounts] = {key: FieldCounts() for key in field_labels}
    without = Counter[str]()
    proposed = accepted = 0
    total = Counter[str]()
    for row in rows:
        total[row.kind] += 1
        if not row.fields:
            without[row.kind] += 1
        for key in row.fields:
            counts = per_field.setdefault(key, FieldCounts())
            if row.kind == "idea":
                counts.ideas += 1
            else:
                counts.answers += 1
        if row.kind == "idea" and row.proposed_field is not None and row.fields:
            proposed += 1
            accepted += row.proposed_field in row.fields
    width = max([len(label) for label in field_labels.values()] + [len("strategy field"), 14])
    lines = [f"{'strategy field':<{width}}  {'ideas':>6}  {'answers':>7}"]
    for key, counts in per_field.items():
        lines.append(f"{field_labels.get(key, key):<{width}}  {counts.ideas:>6}  {counts.answers:>7}")
    lines.append(f"{'(no field)':<{width}}  {without['idea']:>6}  {without['answer']:>7}")
    lines.append(f"{'total':<{width}}  {total['idea']:>6}  {total['answer']:>7}")
    lines.append("(an idea filed under several fields counts in each)")
    if proposed:
        lines.append(
            f"citizens kept the classifier's proposed field for {accepted} of {proposed} ideas "
            f"({accepted / proposed:.0%})"
        )
    return "\n".join(lines)
