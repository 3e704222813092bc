"""Excel workbook (XlsxWriter, constant-memory mode: rows stream to disk in order).

Sheet "Daten": a bold, frozen header row of variable names with an autofilter; column widths from
`Variable.width` (at least the name, bounded to 6…60 characters); numbers as numbers, statuses as their key, texts
always as text cells (never formulas, links or numbers, whatever they look like), times as real Excel datetimes in
the city's zone (Excel has no zones) shown as ``yyyy-mm-dd hh:mm:ss``; NaN and infinities empty. Sheet "Codebook":
the rows of the `.codebook.csv` (see `bot.analytics.writers.codebook`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter

from bot.analytics.model import CellValue, Codebook, Row, Status, Variable, VarType
from bot.analytics.writers.cells import RowError, WriterError, check_row, finite, local_naive
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows

DATA_SHEET = "Daten"
CODEBOOK_SHEET = "Codebook"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_ROWS = 1_048_576 - 1  # Excel's sheet limit, less the header
MIN_WIDTH, MAX_WIDTH = 6, 60
_CODEBOOK_WIDTHS = {"label_de": 40, "label_en": 40, "code_label_de": 30, "code_label_en": 30}


def write_xlsx(codebook: Codebook, rows: Iterable[Row], target: Path, *, timezone: ZoneInfo) -> int:
    """Write the workbook to `target` (an existing, owner-only file is fine); return the number of data rows."""
    workbook = xlsxwriter.Workbook(
        str(target),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        bold = workbook.add_format({"bold": True})
        when = workbook.add_format({"num_format": DATETIME_FORMAT})
        data = workbook.add_worksheet(DATA_SHEET)
        book = workbook.add_worksheet(CODEBOOK_SHEET)
        widths = [_width(variable) for variable in codebook.variables]
        count = _write_sheet(data, [v.name for v in codebook.variables], widths, rows, bold, when, timezone, codebook)
        book_widths = [_CODEBOOK_WIDTHS.get(name, max(len(name) + 3, 12)) for name in CODEBOOK_COLUMNS]
        _write_sheet(book, list(CODEBOOK_COLUMNS), book_widths, codebook_rows(codebook), bold, when, timezone, None)
    except BaseException:
        with contextlib.suppress(Exception):  # the temporary file is removed by the caller; keep the first error
            workbook.close()
        raise
    workbook.close()
    return count


def _width(variable: Variable) -> int:
    wanted = max(variable.width, len(variable.name) + 3)  # room for the name and the filter button
    if variable.type is VarType.DATETIME:
        wanted = max(wanted, len("2026-03-29 03:30:00") + 1)
    return min(MAX_WIDTH, max(MIN_WIDTH, wanted))


def _write_sheet(
    sheet: Any,
    header: Sequence[str],
    widths: Sequence[int],
    rows: Iterable[Sequence[CellValue]],
    bold: Any,
    when: Any,
    timezone: ZoneInfo,
    codebook: Codebook | None,
) -> int:
    if len(header) > 16_384:
        raise WriterError(f"{len(header)} columns do not fit an Excel sheet (at most 16384)")
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width)
    sheet.freeze_panes(1, 0)
    for column, name in enumerate(header):
        sheet.write_string(0, column, name, bold)
    write_string, write_number, write_datetime = sheet.write_string, sheet.write_number, sheet.write_datetime
    count = 0
    for row in rows:
        count += 1
        if codebook is not None:
            check_row(codebook, row, count)
        if count > MAX_ROWS:
            raise WriterError(f"more than {MAX_ROWS} rows do not fit an Excel sheet; use csv, jsonl or sav")
        for column, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                write_string(count, column, value)
            elif kind is int or kind is float:
                if finite(value):  # type: ignore[arg-type]  # int or float by the exact type check
                    write_number(count, column, value)
            elif isinstance(value, Status):
                write_string(count, column, value.value)
            elif isinstance(value, str):
                write_string(count, column, str(value))
            elif isinstance(value, int | float):
                if finite(value):
                    write_number(count, column, float(value))
            elif isinstance(value, datetime):
                write_datetime(count, column, local_naive(value, timezone), when)
            else:
                raise RowError(f"a cell of type {type(value).__name__} cannot be exported: {value!r}")
    sheet.autofilter(0, 0, max(count, 1), len(header) - 1)
    return count
