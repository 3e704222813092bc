"""The one CSV convention of every export (responses, ideas, follow-ups, codebooks and `export feedback`).

Two dialects:

- ``excel`` (default) opens right in German Excel: UTF-8 with BOM, ``;`` between cells, decimal comma, times in
  the city's zone as ``YYYY-MM-DD HH:MM:SS``.
- ``plain`` is for tools (pandas, R, csvkit): UTF-8 without BOM, ``,``, decimal point, times as ISO 8601 with
  their offset (``2026-03-29T03:30:00+02:00``).

Both end lines with CRLF (RFC 4180): Python's csv module quotes a cell only for the characters of the line end, so
with a bare LF a text holding a lone CR would split its row when read back.

In both, cells are quoted only where needed; seconds are the finest time unit (microseconds are cut); an empty
cell is None; a status cell shows its key (``not_shown``); floats print as the shortest text that reads back as the
same number, never with an exponent (scores come rounded to 4 decimals); NaN and infinities print empty. A text
cell that a spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a carriage return) gets a
leading apostrophe; numbers never do. Rows stream: memory does not grow with their number.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.analytics.model import CellValue, Status
from bot.analytics.writers.cells import (
    FORMULA_STARTS,
    STATUS_KEYS,
    RowError,
    WriterError,
    finite,
    inert_text,
    local_time,
    positional_float,
)

DIALECTS = ("excel", "plain")
_KNOWN_FLOATS = 50_000


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    bom: bool
    decimal_comma: bool
    iso_times: bool


_DIALECTS = {
    "excel": _Dialect(delimiter=";", bom=True, decimal_comma=True, iso_times=False),
    "plain": _Dialect(delimiter=",", bom=False, decimal_comma=False, iso_times=True),
}


def check_dialect(dialect: str) -> None:
    """Refuse an unknown dialect name before any file is opened."""
    if dialect not in _DIALECTS:
        raise WriterError(f"unknown CSV dialect {dialect!r}; known: {', '.join(DIALECTS)}")


def write_csv_rows(
    header: Sequence[str],
    rows: Iterable[Sequence[CellValue]],
    out: TextIO,
    *,
    dialect: str,
    timezone: ZoneInfo,
) -> int:
    """Write `header` and `rows` to `out` (opened with ``newline=""``, UTF-8) in `dialect`; return the row count.

    The excel dialect writes the BOM itself, so `out` must not add one."""
    check_dialect(dialect)
    spec = _DIALECTS[dialect]
    if spec.bom:
        out.write("\ufeff")
    writer = csv.writer(out, delimiter=spec.delimiter, lineterminator="\r\n")
    writer.writerow([inert_text(name) for name in header])
    text = cell_formatter(dialect, timezone)
    width = len(header)
    count = 0
    status_keys, starts, write = STATUS_KEYS, FORMULA_STARTS, writer.writerow
    for row in rows:
        count += 1
        if len(row) != width:
            raise RowError(f"row {count} has {len(row)} cells, the header {width} columns")
        # `text` inlined for the commonest cells (empty, plain text, status): a call per cell cost the most here
        write([
            "" if value is None
            else (("'" + value) if value.startswith(starts) else value) if type(value) is str
            else status_keys[value] if type(value) is Status
            else text(value)
            for value in row
        ])
    return count


def cell_formatter(dialect: str, timezone: ZoneInfo) -> Callable[[CellValue], str]:
    """The function that turns one cell into its CSV text in `dialect`."""
    check_dialect(dialect)
    spec = _DIALECTS[dialect]

    known: dict[float, str] = {}  # scores come rounded: a few thousand distinct values, formatted once each

    def number(value: float) -> str:
        found = known.get(value) if type(value) is float and value else None  # 0.0 and -0.0 compare equal
        if found is not None:
            return found
        if not finite(value):
            return ""
        text = positional_float(value)
        text = text.replace(".", ",") if spec.decimal_comma else text
        if type(value) is float and value and len(known) < _KNOWN_FLOATS:
            known[value] = text
        return text

    def moment(value: datetime) -> str:
        local = local_time(value, timezone)
        return local.isoformat(timespec="seconds") if spec.iso_times else local.strftime("%Y-%m-%d %H:%M:%S")

    def cell(value: CellValue) -> str:
        if type(value) is str:  # the common cases first, by exact type (isinstance and Enum.value cost)
            return inert_text(value)
        if value is None:
            return ""
        if type(value) is Status:
            return STATUS_KEYS[value]
        if type(value) is int:
            return str(value)
        if type(value) is float:
            return number(value)
        if isinstance(value, Status):
            return value.value
        if isinstance(value, str):
            return inert_text(str(value))
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, float):
            return number(value)
        if isinstance(value, datetime):
            return moment(value)
        raise RowError(f"a cell of type {type(value).__name__} cannot be exported: {value!r}")

    return cell
