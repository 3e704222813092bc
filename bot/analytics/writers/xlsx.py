"""Excel workbook: sheet "Daten" with the rows, sheet "Codebook" with the codebook rows.

"Daten": a bold, frozen header row of variable names with an autofilter; column widths from `Variable.width` (at
least the name, bounded to 6…60 characters); numbers as numbers, statuses as their key, texts always as text
cells (never formulas, links or numbers, whatever they look like; Excel's limit of 32,767 characters applies),
times as real Excel datetimes in the city's zone (Excel has no zones) shown as ``yyyy-mm-dd hh:mm:ss``; NaN and
infinities empty. "Codebook": the rows of the `.codebook.csv` (see `bot.analytics.writers.codebook`).

How: XlsxWriter builds the whole workbook — styles, widths, frozen pane, filter, header, codebook sheet — except
the data rows. Those are streamed as SpreadsheetML ``<row>`` elements (inline strings, escaped exactly as
XlsxWriter escapes them) into a temporary file first and spliced into XlsxWriter's data sheet when the zip is
assembled: XlsxWriter's per-cell bookkeeping costs about 13 µs a cell (40 s of CPU for 50,000 × 60 cells on the
benchmark machine), the direct rows under 1 µs, and memory stays flat either way.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from bot.analytics.model import CellValue, Codebook, Row, Status, Variable, VarType
from bot.analytics.writers.cells import RowError, WriterError, check_row, finite, local_naive
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows

DATA_SHEET = "Daten"
CODEBOOK_SHEET = "Codebook"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
MAX_ROWS = 1_048_576 - 1  # Excel's sheet limit, less the header
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767  # characters (UTF-16 units) in one cell
MIN_WIDTH, MAX_WIDTH = 6, 60
_DATA_PART = "xl/worksheets/sheet1.xml"  # XlsxWriter names the first sheet's part so
_CODEBOOK_WIDTHS = {"label_de": 40, "label_en": 40, "code_label_de": 30, "code_label_en": 30}
_EXCEL_EPOCH = datetime(1899, 12, 30)
_DAY = timedelta(days=1)
_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False, "in_memory": True}
_ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f\ufffe\uffff])")
_XML_SPECIAL = re.compile("[&<>\x00-\x08\x0b-\x1f\ufffe\uffff]|_x")


def write_xlsx(codebook: Codebook, rows: Iterable[Row], target: Path, *, timezone: ZoneInfo) -> int:
    """Write the workbook to `target` (an existing, owner-only file is fine); return the number of data rows."""
    if len(codebook.variables) > MAX_COLUMNS:
        raise WriterError(f"{len(codebook.variables)} columns do not fit an Excel sheet (at most {MAX_COLUMNS})")
    date_style = _date_style(_skeleton(codebook, 1), 1) if codebook.variables else "0"
    with tempfile.TemporaryFile(dir=target.parent) as cells:  # unnamed: gone when closed, whatever happens
        count = _stream_rows(codebook, rows, cells, date_style, timezone)
        skeleton = _skeleton(codebook, count)
        if count and _date_style(skeleton, count) != date_style:
            raise WriterError("XlsxWriter numbered the datetime style differently between two identical workbooks")
        cells.seek(0)
        _splice(skeleton, cells, target)
    return count


def _width(variable: Variable) -> int:
    wanted = max(variable.width, len(variable.name) + 3)  # room for the name and the filter button
    if variable.type is VarType.DATETIME:
        wanted = max(wanted, len("2026-03-29 03:30:00") + 1)
    return min(MAX_WIDTH, max(MIN_WIDTH, wanted))


def _skeleton(codebook: Codebook, count: int) -> bytes:
    """The workbook without data rows: a placeholder datetime in the last data row registers the datetime style
    and makes XlsxWriter's sheet dimension and filter range right."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, _OPTIONS)
    bold = workbook.add_format({"bold": True})
    when = workbook.add_format({"num_format": DATETIME_FORMAT})
    data = workbook.add_worksheet(DATA_SHEET)
    book = workbook.add_worksheet(CODEBOOK_SHEET)
    names = [variable.name for variable in codebook.variables]
    _header(data, names, [_width(variable) for variable in codebook.variables], bold)
    if count and names:
        data.write_datetime(count, 0, _EXCEL_EPOCH + _DAY, when)
    if names:
        data.autofilter(0, 0, max(count, 1), len(names) - 1)
    _header(book, CODEBOOK_COLUMNS, [_CODEBOOK_WIDTHS.get(n, max(len(n) + 3, 12)) for n in CODEBOOK_COLUMNS], bold)
    number = 0
    for number, row in enumerate(codebook_rows(codebook), start=1):
        for column, value in enumerate(row):
            if isinstance(value, str):
                book.write_string(number, column, value)
            elif isinstance(value, int):
                book.write_number(number, column, value)
    book.autofilter(0, 0, max(number, 1), len(CODEBOOK_COLUMNS) - 1)
    workbook.close()
    return buffer.getvalue()


def _header(sheet: Any, names: Sequence[str], widths: Sequence[int], bold: Any) -> None:
    for column, (name, width) in enumerate(zip(names, widths, strict=True)):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, name, bold)
    sheet.freeze_panes(1, 0)


def _date_style(skeleton: bytes, count: int) -> str:
    with zipfile.ZipFile(io.BytesIO(skeleton)) as archive:
        xml = archive.read(_DATA_PART).decode("utf-8")
    found = re.search(rf'<c r="A{count + 1}" s="(\d+)"', xml)
    if found is None:
        raise WriterError("XlsxWriter wrote the datetime placeholder in an unexpected form")
    return found.group(1)


def _splice(skeleton: bytes, cells: IO[bytes], target: Path) -> None:
    """Copy the skeleton to `target`, its data sheet's placeholder row replaced by the streamed rows."""
    with (
        zipfile.ZipFile(io.BytesIO(skeleton)) as source,
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        for info in source.infolist():
            if info.filename != _DATA_PART:
                archive.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
                continue
            xml = source.read(info).decode("utf-8")
            header_end = xml.index("</row>", xml.index("<sheetData")) + len("</row>")
            part = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            part.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(part, "w") as out:
                out.write(xml[:header_end].encode("utf-8"))
                shutil.copyfileobj(cells, out, 1 << 20)
                out.write(xml[xml.index("</sheetData>") :].encode("utf-8"))


def _stream_rows(codebook: Codebook, rows: Iterable[Row], out: IO[bytes], date_style: str, timezone: ZoneInfo) -> int:
    letters = [xl_col_to_name(column) for column in range(len(codebook.variables))]
    count = 0
    for row in rows:
        count += 1
        check_row(codebook, row, count)
        if count > MAX_ROWS:
            raise WriterError(f"more than {MAX_ROWS} rows do not fit an Excel sheet; use csv, jsonl or sav")
        number = str(count + 1)
        parts = [f'<row r="{number}">']
        for column, value in enumerate(row):
            if value is not None:
                parts.append(_cell(letters[column] + number, value, date_style, timezone))
        parts.append("</row>")
        out.write("".join(parts).encode("utf-8"))
    return count


def _cell(reference: str, value: CellValue, date_style: str, timezone: ZoneInfo) -> str:
    if type(value) is str:
        return _text_cell(reference, value)
    if type(value) is int:
        return f'<c r="{reference}"><v>{value}</v></c>'
    if isinstance(value, Status):
        return _text_cell(reference, value.value)
    if isinstance(value, str):
        return _text_cell(reference, str(value))
    if isinstance(value, int | float):
        return f'<c r="{reference}"><v>{float(value)!r}</v></c>' if finite(value) else ""
    if isinstance(value, datetime):
        serial = (local_naive(value, timezone) - _EXCEL_EPOCH) / _DAY
        return f'<c r="{reference}" s="{date_style}"><v>{serial!r}</v></c>'
    raise RowError(f"a cell of type {type(value).__name__} cannot be exported: {value!r}")


def _text_cell(reference: str, text: str) -> str:
    if len(text) > MAX_TEXT // 2 and len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
        text = text.encode("utf-16-le")[: 2 * MAX_TEXT].decode("utf-16-le", errors="ignore")
    if _XML_SPECIAL.search(text):
        text = _ESCAPED_ESCAPE.sub(r"_x005F\1", text)  # a literal "_x0041_" must not read back as "A"
        text = _CONTROL.sub(lambda found: f"_x{ord(found.group(1)):04X}_", text)
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{reference}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
