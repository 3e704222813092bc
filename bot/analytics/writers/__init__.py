"""Table writers: a `Codebook` and its rows into CSV, XLSX, JSONL or SPSS files, each with its codebook.

Writers know nothing about surveys or the database: a row is a `Sequence[CellValue]` aligned with
`Codebook.variables`. Every file is owner-only (0600) and appears complete or not at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.analytics.model import Codebook, Row
from bot.analytics.writers.cells import RowError, WriterError
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows
from bot.analytics.writers.csvout import DIALECTS, check_dialect, write_csv_rows
from bot.analytics.writers.jsonl import write_jsonl
from bot.analytics.writers.output import OutputError, companion_path, owner_only_target, private_folder

__all__ = [
    "DIALECTS",
    "FORMATS",
    "OutputError",
    "RowError",
    "WriterError",
    "codebook_path",
    "owner_only_target",
    "private_folder",
    "write_codebook_csv",
    "write_table",
]

FORMATS = ("csv", "xlsx", "jsonl", "sav")
CODEBOOK_SUFFIX = ".codebook.csv"


def codebook_path(target: Path) -> Path:
    """Where the codebook of a csv, jsonl or sav export goes: ``<target>.codebook.csv`` (xlsx has it inside)."""
    return companion_path(target, CODEBOOK_SUFFIX)


def write_table(
    codebook: Codebook,
    rows: Iterable[Row],
    fmt: str,
    target: Path,
    *,
    dialect: str = "excel",
    timezone: ZoneInfo,
) -> int:
    """Write `rows` to `target` in `fmt` (one of `FORMATS`), with its codebook; return the number of rows.

    `dialect` is the CSV convention of csv files and of the codebook CSV beside csv, jsonl and sav files."""
    if fmt not in FORMATS:
        raise WriterError(f"unknown export format {fmt!r}; known: {', '.join(FORMATS)}")
    check_dialect(dialect)
    with contextlib.ExitStack() as stack:
        if fmt != "xlsx":  # the codebook is renamed into place after the data file, both or neither
            book = stack.enter_context(owner_only_target(codebook_path(target)))
            with open(book, "w", encoding="utf-8", newline="") as out:
                write_codebook_csv(codebook, out, dialect=dialect, timezone=timezone)
        temporary = stack.enter_context(owner_only_target(target))
        if fmt == "csv":
            with open(temporary, "w", encoding="utf-8", newline="") as out:
                return write_csv_rows(
                    [v.name for v in codebook.variables], rows, out, dialect=dialect, timezone=timezone
                )
        if fmt == "jsonl":
            with open(temporary, "w", encoding="utf-8", newline="") as out:
                return write_jsonl(codebook, rows, out, timezone=timezone)
        # XlsxWriter, pandas and pyreadstat load only for their format: not for csv/jsonl, nor for every
        # `stadtdialog` command that merely registers the export commands (`run` included).
        if fmt == "xlsx":
            from bot.analytics.writers.xlsx import write_xlsx

            return write_xlsx(codebook, rows, temporary, timezone=timezone)
        from bot.analytics.writers.sav import write_sav

        return write_sav(codebook, rows, temporary, timezone=timezone)
    raise AssertionError("unreachable")  # pragma: no cover


def write_codebook_csv(codebook: Codebook, out: TextIO, *, dialect: str, timezone: ZoneInfo) -> int:
    """The long codebook (`CODEBOOK_COLUMNS`) as CSV in `dialect`; return its number of rows."""
    return write_csv_rows(CODEBOOK_COLUMNS, codebook_rows(codebook), out, dialect=dialect, timezone=timezone)
