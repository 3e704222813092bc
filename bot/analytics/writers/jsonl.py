"""JSON Lines: one table row per line (UTF-8, no BOM, LF), answers nested per question.

The flat table is regrouped by the codebook. Variables without a ``question_id`` (respondent, response, version,
campaign, channel, completed, started_at, finished_at …) are top-level keys named like their column. The
variables of each question are gathered under ``"answers"`` → question id::

    {"respondent": "p_…", "response": "r_…", "version": 2, "campaign": null, "channel": "telegram",
     "completed": 1, "started_at": "2026-03-29T01:59:00+01:00", "finished_at": "2026-03-29T03:01:00+02:00",
     "answers": {
       "bus":   {"status": "answered", "value": 3},
       "modes": {"status": "answered", "value": {"bus": 1, "bike": 0, "car": 1},
                 "chosen": ["bus", "car"], "codes": [1, 3]},
       "idea":  {"status": "answered", "value": "[redacted]", "field": "mobility",
                 "scores": {"mobility": 0.8123, "environment": 0.1}},
       "later": {"status": "not_asked", "value": null, "follow_up": true}}}

- ``status``: the key of the question's STATUS cell (what the codebook's ``*status*`` rows explain).
- ``value``: the answer (number, option code or text; null when empty). Multiple choice: option id → 1/0 (null
  when the question has no answer), plus ``chosen`` (the chosen option ids, in codebook order) and ``codes``
  (their numeric codes; only when the table carries option codes).
- Free text: ``field`` (the classifier's strategy field key) and ``scores`` (field key → score).
- Follow-ups carry ``"follow_up": true``; if a follow-up shares its id with a survey question, its key is
  ``follow_up:<id>``. Any other variable of a question appears under its column name.
- Times are ISO 8601 in the city's zone with their offset, to the second; statuses as their key; NaN and
  infinities as null. Texts are written exactly (no formula apostrophe: JSON is no spreadsheet).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.analytics.model import CellValue, Codebook, Row, Status, VarKind
from bot.analytics.writers.cells import STATUS_KEYS, RowError, check_row, finite, local_time
from bot.analytics.writers.codebook import option_code

JsonValue = str | int | float | None


@dataclass
class _Question:
    key: str
    follow_up: bool
    status: int | None = None
    value: int | None = None
    options: list[tuple[int, str, int | None]] = field(default_factory=list)  # column, option id, code
    field_column: int | None = None
    scores: list[tuple[int, str]] = field(default_factory=list)  # column, field key
    others: list[tuple[int, str]] = field(default_factory=list)  # column, variable name


@dataclass(frozen=True)
class _Plan:
    top: list[tuple[int, str]]
    questions: list[_Question]


def write_jsonl(codebook: Codebook, rows: Iterable[Row], out: TextIO, *, timezone: ZoneInfo) -> int:
    """Write one JSON object per row to `out` (text, UTF-8, ``newline=""``); return the number of rows."""
    plan = _plan(codebook)
    convert = _converter(timezone)
    encode = json.JSONEncoder(ensure_ascii=False).encode  # what json.dumps(…, ensure_ascii=False) builds per call
    count = 0
    for row in rows:
        count += 1
        check_row(codebook, row, count)
        out.write(encode(_record(plan, row, convert)) + "\n")
    return count


def _plan(codebook: Codebook) -> _Plan:
    top: list[tuple[int, str]] = []
    questions: dict[tuple[str, bool], _Question] = {}
    plain_ids = {v.question_id for v in codebook.variables if v.question_id is not None and not v.follow_up}
    for column, variable in enumerate(codebook.variables):
        if variable.question_id is None:
            top.append((column, variable.name))
            continue
        group = (variable.question_id, variable.follow_up)
        if group not in questions:
            key = variable.question_id
            if variable.follow_up and key in plain_ids:
                key = f"follow_up:{key}"
            questions[group] = _Question(key=key, follow_up=variable.follow_up)
        question = questions[group]
        if variable.kind is VarKind.STATUS and question.status is None:
            question.status = column
        elif variable.kind is VarKind.VALUE and question.value is None:
            question.value = column
        elif variable.kind is VarKind.OPTION:
            question.options.append((column, variable.option_id or variable.name, option_code(variable)))
        elif variable.kind is VarKind.FIELD and question.field_column is None:
            question.field_column = column
        elif variable.kind is VarKind.SCORE:
            question.scores.append((column, variable.field_key or variable.name))
        else:
            question.others.append((column, variable.name))
    return _Plan(top=top, questions=list(questions.values()))


def _converter(timezone: ZoneInfo) -> Callable[[CellValue], JsonValue]:
    def convert(value: CellValue) -> JsonValue:
        if value is None or type(value) is str or type(value) is int or type(value) is float:
            return value if type(value) is not float or finite(value) else None
        if type(value) is Status:
            return STATUS_KEYS[value]
        if isinstance(value, Status):
            return value.value
        if isinstance(value, str):
            return str(value)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return value if finite(value) else None
        if isinstance(value, datetime):
            return local_time(value, timezone).isoformat(timespec="seconds")
        raise RowError(f"a cell of type {type(value).__name__} cannot be exported: {value!r}")

    return convert


def _record(plan: _Plan, row: Sequence[CellValue], convert: Callable[[CellValue], JsonValue]) -> dict[str, object]:
    record: dict[str, object] = {name: convert(row[column]) for column, name in plan.top}
    if not plan.questions:
        return record
    answers: dict[str, object] = {}
    for question in plan.questions:
        answers[question.key] = _answer(question, row, convert)
    record["answers"] = answers
    return record


def _answer(
    question: _Question, row: Sequence[CellValue], convert: Callable[[CellValue], JsonValue]
) -> dict[str, object]:
    answer: dict[str, object] = {"status": None if question.status is None else convert(row[question.status])}
    if question.options:
        picks = {option: convert(row[column]) for column, option, _ in question.options}
        answered = any(pick is not None for pick in picks.values())
        answer["value"] = picks if answered else None
        chosen = [(option, code) for column, option, code in question.options if _is_chosen(row[column])]
        answer["chosen"] = [option for option, _ in chosen] if answered else None
        if all(code is not None for _, _, code in question.options):
            answer["codes"] = [code for _, code in chosen] if answered else None
    else:
        answer["value"] = None if question.value is None else convert(row[question.value])
    if question.field_column is not None:
        answer["field"] = convert(row[question.field_column])
    if question.scores:
        answer["scores"] = {key: convert(row[column]) for column, key in question.scores}
    for column, name in question.others:
        answer[name] = convert(row[column])
    if question.follow_up:
        answer["follow_up"] = True
    return answer


def _is_chosen(value: CellValue) -> bool:
    return isinstance(value, int | float) and value == 1
