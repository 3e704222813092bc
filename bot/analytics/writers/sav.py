"""SPSS `.sav` (pyreadstat), read with labels by SPSS, R (haven) and pandas.

- Variable labels: the German label (the English one is in the codebook), cut to SPSS's 256 bytes; the file
  label is the German title (64 bytes); the codebook's notes become the file's documents (80-byte lines).
- Numbers, codes, 0/1 options and statuses are numeric (double) with display formats ``F10.0`` (integers),
  ``F12.4`` (numbers, scores) and ``F3.0`` (statuses); value labels map codes to the German label (SPSS allows
  120 bytes). STATUS variables carry their numeric code (`STATUS_CODES`) with the German status labels.
- Numeric answer variables with ``missing_codes``: an empty cell holds its question's status code (read from the
  row's status variable; skipped -91, not shown -92 …), labelled, and declared user-missing as the range
  `MISSING_RANGE` (SPSS allows one range and one value, or three values, per variable: one range covers every
  status). Other empty numeric cells are system-missing.
- Times are SPSS datetimes in the city's zone (SPSS has no zones; the hour repeated when clocks go back is
  ambiguous — the plain CSV and JSONL keep the offset).
- Texts are strings as wide as their longest value (at most 32767 bytes, longer ones are cut); empty is ``""``.
- Measurement level: nominal for codes, options, statuses and texts; ordinal for scale questions; scale for
  numbers, scores, counts and times.

The table is built column by column in compact arrays (8 bytes per numeric cell) before pyreadstat writes it.
"""

from __future__ import annotations

import textwrap
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyreadstat

from bot.analytics.model import (
    MISSING_RANGE,
    STATUS_CODES,
    STATUS_LABELS,
    CellValue,
    Codebook,
    Row,
    Status,
    Variable,
    VarKind,
    VarType,
)
from bot.analytics.writers.cells import RowError, WriterError, check_row, local_naive, local_time, positional_float
from bot.analytics.writers.codebook import EMPTY_CELL_NOTE

LABEL_BYTES = 256
VALUE_LABEL_BYTES = 120
FILE_LABEL_BYTES = 64
NOTE_LINE_BYTES = 80
STRING_BYTES = 32_767
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min
_MISSING_LABELS: dict[int | float, str] = {
    float(code): STATUS_LABELS[status][0]
    for status, code in STATUS_CODES.items()
    if MISSING_RANGE[0] <= code <= MISSING_RANGE[1]
}


@dataclass
class _Column:
    variable: Variable
    status_column: int | None = None  # the row position of the question's status (missing codes)
    numbers: array[float] = field(default_factory=lambda: array("d"))
    texts: list[str] = field(default_factory=list)
    times: array[int] = field(default_factory=lambda: array("q"))


def write_sav(codebook: Codebook, rows: Iterable[Row], target: Path, *, timezone: ZoneInfo) -> int:
    """Write `rows` as an SPSS file to `target`; return the number of rows."""
    columns = [_Column(v, _status_column(codebook, v)) for v in codebook.variables]
    count = 0
    for row in rows:
        count += 1
        check_row(codebook, row, count)
        for column, value in zip(columns, row, strict=True):
            _add(column, value, row, timezone)
    frame = pd.DataFrame({column.variable.name: _series(column) for column in columns})
    try:
        pyreadstat.write_sav(
            frame,
            str(target),
            file_label=_cut(codebook.title_de, FILE_LABEL_BYTES),
            column_labels=[_cut(v.label_de, LABEL_BYTES) for v in codebook.variables],
            note=_note_lines((*codebook.notes, EMPTY_CELL_NOTE)),
            variable_value_labels=_value_labels(codebook),
            missing_ranges={
                v.name: [{"lo": float(MISSING_RANGE[0]), "hi": float(MISSING_RANGE[1])}]
                for v in codebook.variables
                if _is_numeric(v) and v.missing_codes
            },
            variable_display_width={v.name: min(60, max(3, v.width)) for v in codebook.variables},
            variable_measure={v.name: _measure(v) for v in codebook.variables},
            variable_format={v.name: fmt for v in codebook.variables if (fmt := _format(v)) is not None},
        )
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as error:
        raise WriterError(f"the SPSS file could not be written: {error}") from error
    return count


def _status_column(codebook: Codebook, variable: Variable) -> int | None:
    if not (variable.missing_codes and _is_numeric(variable) and variable.status_variable):
        return None
    try:
        return codebook.index(variable.status_variable)
    except KeyError:
        return None


def _is_numeric(variable: Variable) -> bool:
    return variable.type in (VarType.INTEGER, VarType.NUMBER)


def _add(column: _Column, value: CellValue, row: Row, timezone: ZoneInfo) -> None:
    kind = column.variable.type
    if kind is VarType.TEXT:
        column.texts.append(_text(value, timezone))
    elif kind is VarType.DATETIME:
        if value is None:
            column.times.append(_NAT)
        elif isinstance(value, datetime):
            column.times.append((local_naive(value, timezone) - _EPOCH) // _MICROSECOND)
        else:
            raise _mismatch(column.variable, value)
    elif kind is VarType.STATUS:
        column.numbers.append(float("nan") if value is None else float(STATUS_CODES[_status(column.variable, value)]))
    elif value is None:
        column.numbers.append(_missing_code(column, row))
    elif isinstance(value, int | float) and not isinstance(value, Status):
        column.numbers.append(float(value))
    else:
        raise _mismatch(column.variable, value)


def _text(value: CellValue, timezone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, Status):
        return value.value
    if isinstance(value, str):
        return _cut(value, STRING_BYTES, mark="")
    if isinstance(value, datetime):
        return local_time(value, timezone).isoformat(timespec="seconds")
    if isinstance(value, float):
        return positional_float(value)
    return str(value)


def _status(variable: Variable, value: CellValue) -> Status:
    if isinstance(value, Status):
        return value
    if isinstance(value, str):
        try:
            return Status(value)
        except ValueError:
            pass
    raise _mismatch(variable, value)


def _missing_code(column: _Column, row: Row) -> float:
    """An empty numeric cell: its question's status code where declared, else system-missing (NaN)."""
    if column.status_column is None:
        return float("nan")
    status = row[column.status_column]
    if status is None:
        return float("nan")
    code = STATUS_CODES[_status(column.variable, status)]
    return float(code) if MISSING_RANGE[0] <= code <= MISSING_RANGE[1] else float("nan")


def _mismatch(variable: Variable, value: object) -> RowError:
    return RowError(f"variable {variable.name} ({variable.type.value}) cannot hold {type(value).__name__} {value!r}")


def _series(column: _Column) -> object:
    kind = column.variable.type
    if kind is VarType.TEXT:
        return np.array(column.texts, dtype=object)
    if kind is VarType.DATETIME:
        return np.frombuffer(column.times, dtype=np.int64).view("datetime64[us]")
    return np.frombuffer(column.numbers, dtype=np.float64)


def _value_labels(codebook: Codebook) -> dict[str, dict[int | float, str]]:
    labels: dict[str, dict[int | float, str]] = {}
    for variable in codebook.variables:
        numeric: dict[int | float, str] = {}
        if variable.type is VarType.STATUS:
            numeric = {float(code): _cut(STATUS_LABELS[s][0], VALUE_LABEL_BYTES) for s, code in STATUS_CODES.items()}
        elif _is_numeric(variable):
            for label in variable.value_labels:
                if isinstance(label.code, int):
                    numeric[float(label.code)] = _cut(label.label_de, VALUE_LABEL_BYTES)
            if variable.missing_codes:
                numeric.update(_MISSING_LABELS)
        elif variable.type is VarType.TEXT and variable.value_labels:
            texts = {
                _cut(str(label.code), STRING_BYTES, mark=""): _cut(label.label_de, VALUE_LABEL_BYTES)
                for label in variable.value_labels
            }
            labels[variable.name] = cast(dict[int | float, str], texts)  # pyreadstat takes str codes for strings
        if numeric:
            labels[variable.name] = numeric
    return labels


def _measure(variable: Variable) -> str:
    if variable.type in (VarType.TEXT, VarType.STATUS) or variable.kind in (VarKind.OPTION, VarKind.FIELD):
        return "nominal"
    if variable.type is VarType.DATETIME or variable.kind is VarKind.SCORE or variable.type is VarType.NUMBER:
        return "scale"
    if variable.question_type == "scale":
        return "ordinal"
    return "nominal" if variable.value_labels else "scale"


def _format(variable: Variable) -> str | None:
    if variable.type is VarType.STATUS:
        return "F3.0"
    if variable.type is VarType.INTEGER:
        return "F10.0"
    if variable.type is VarType.NUMBER:
        return "F12.4"
    return None  # texts: as wide as their values; datetimes: pyreadstat's DATETIME20


def _cut(text: str, limit: int, *, mark: str = "…") -> str:
    """`text` within `limit` UTF-8 bytes, cut at a character boundary (ending in `mark` when cut)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    room = limit - len(mark.encode("utf-8"))
    return encoded[:room].decode("utf-8", errors="ignore") + mark


def _note_lines(notes: Iterable[str]) -> list[str]:
    lines: list[str] = []
    for note in notes:
        for line in textwrap.wrap(note, NOTE_LINE_BYTES) or [""]:
            while len(line.encode("utf-8")) > NOTE_LINE_BYTES:  # umlauts take two bytes
                head = _cut(line, NOTE_LINE_BYTES, mark="")
                lines.append(head)
                line = line[len(head) :]
            lines.append(line)
    return lines
