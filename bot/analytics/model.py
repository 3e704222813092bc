"""The shared vocabulary of every analyst export: cell statuses, variables, the codebook and a table row.

A table is a `Codebook` (its variables, in column order) plus rows: one `Sequence[CellValue]` per row, aligned
with `Codebook.variables`. Writers (CSV, XLSX, SPSS) know nothing about surveys; they only read these types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """What happened to one question of one response. Every question cell has exactly one."""

    ANSWERED = "answered"
    SKIPPED = "skipped"  # the citizen chose "skip" (optional question)
    NOT_SHOWN = "not_shown"  # branching (show_if or a jump) passed it over on this citizen's route
    NOT_REACHED = "not_reached"  # the response is unfinished and stopped before it
    NOT_OFFERED = "not_offered"  # the survey version this response answered does not have the question
    NOT_ASKED = "not_asked"  # a follow-up question this citizen was not (yet) asked


STATUS_CODES: dict[Status, int] = {
    Status.ANSWERED: 1,
    Status.SKIPPED: -91,
    Status.NOT_SHOWN: -92,
    Status.NOT_REACHED: -93,
    Status.NOT_OFFERED: -94,
    Status.NOT_ASKED: -95,
}
"""Numeric status codes (SPSS status variables, and the user-missing codes of numeric value variables)."""

MISSING_RANGE: tuple[int, int] = (-99, -91)
"""The user-missing range declared on numeric value variables in .sav files (SPSS allows one range plus one
discrete value, or three discrete values: one range covers every status, and leaves room for more)."""

STATUS_LABELS: dict[Status, tuple[str, str]] = {
    Status.ANSWERED: ("beantwortet", "answered"),
    Status.SKIPPED: ("übersprungen", "skipped"),
    Status.NOT_SHOWN: ("nicht gezeigt (Verzweigung)", "not shown (branching)"),
    Status.NOT_REACHED: ("nicht erreicht (nicht beendet)", "not reached (unfinished)"),
    Status.NOT_OFFERED: ("in dieser Version nicht gestellt", "not offered in this version"),
    Status.NOT_ASKED: ("Nachfrage nicht gestellt", "follow-up not asked"),
}
"""(German, English) label of each status, for the codebook and SPSS value labels."""


class VarType(StrEnum):
    """How a variable's values are typed in every format."""

    TEXT = "text"  # str
    INTEGER = "integer"  # int (codes, 0/1, counts, scale points, whole numbers)
    NUMBER = "number"  # float or int
    DATETIME = "datetime"  # timezone-aware datetime (writers show it in the city's time zone)
    STATUS = "status"  # a Status (CSV/XLSX: its key; SPSS: its numeric code with value labels)


class VarKind(StrEnum):
    """What a variable holds, for the codebook."""

    META = "meta"  # respondent, response, version, campaign, channel, timestamps ...
    VALUE = "value"  # the answer to a single-choice, scale, yes/no, number or free-text question
    OPTION = "option"  # 0/1: this option of a multiple-choice question was chosen
    STATUS = "status"  # the status of a question (see Status)
    FIELD = "field"  # the strategy field the classifier gave a free-text answer
    SCORE = "score"  # the classifier's score of one strategy field for a free-text answer


@dataclass(frozen=True)
class ValueLabel:
    """One code of a variable and what it means (both languages)."""

    code: int | str
    label_de: str
    label_en: str


@dataclass(frozen=True)
class Variable:
    """One column. `name` is valid as an SPSS, R and pandas variable name and unique in its table."""

    name: str
    kind: VarKind
    type: VarType
    label_de: str
    label_en: str
    question_id: str | None = None  # the survey's own id (questions, follow-ups) — see the codebook mapping
    option_id: str | None = None  # OPTION variables
    option_code: int | None = None  # OPTION variables of a multiple-choice question: the option's stable code
    question_type: str | None = None  # surveys.schema.QuestionType value, for question variables
    value_labels: tuple[ValueLabel, ...] = ()
    versions: tuple[int, ...] = ()  # survey versions that have this question (empty: not version-bound)
    status_variable: str | None = None  # the STATUS variable of the same question
    follow_up: bool = False  # the question is a follow-up asked days after the survey
    field_key: str | None = None  # SCORE variables: which strategy field
    missing_codes: bool = False
    """In .sav: an empty cell of this (numeric) variable carries its question's status code, declared user-missing
    (MISSING_RANGE). False where a real value could fall into that range (a number question allowing it)."""
    width: int = 12  # display width hint in characters


@dataclass(frozen=True)
class FieldName:
    key: str
    name_de: str
    name_en: str


@dataclass(frozen=True)
class Codebook:
    """The variables of one table in column order, and what the table is."""

    title_de: str
    title_en: str
    variables: tuple[Variable, ...]
    survey: str | None = None  # the survey key (response and follow-up tables)
    versions: tuple[int, ...] = ()  # every stored version of the survey
    fields: tuple[FieldName, ...] = ()  # the strategy fields (keys used in FIELD and SCORE variables)
    notes: tuple[str, ...] = field(default=())  # English lines the codebook prints (pseudonym scope, redaction …)

    def index(self, name: str) -> int:
        """Column position of the variable `name`."""
        for position, variable in enumerate(self.variables):
            if variable.name == name:
                return position
        raise KeyError(name)


CellValue = str | int | float | datetime | Status | None
"""One cell: None is an empty cell (its question's STATUS variable says why)."""

Row = Sequence[CellValue]
