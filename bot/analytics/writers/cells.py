"""Cell conversions every writer shares: local time, positional floats, inert text, and the writers' errors."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.analytics.model import Codebook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a text starting with one of these as a formula (CSV injection): such texts get a `'`."""


class WriterError(Exception):
    """An export cannot be written as asked (the message says which variable, row or path)."""


class RowError(WriterError, ValueError):
    """A row does not fit its codebook: wrong length, a naive datetime, a value the column's type cannot hold."""


def inert_text(text: str) -> str:
    """`text`, with a leading apostrophe if a spreadsheet would otherwise run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def local_time(value: datetime, timezone: ZoneInfo) -> datetime:
    """`value` (timezone-aware) in the city's zone, to the second; naive datetimes are refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RowError(f"naive datetime {value.isoformat()} in an export: every time must be timezone-aware")
    return value.astimezone(timezone).replace(microsecond=0)


def local_naive(value: datetime, timezone: ZoneInfo) -> datetime:
    """Wall-clock time in the city's zone without tzinfo (Excel and SPSS have no zones)."""
    return local_time(value, timezone).replace(tzinfo=None)


def positional_float(value: float) -> str:
    """The shortest text that reads back as `value`, never in exponent notation (1e-05 → "0.00001").

    Scores arrive rounded to 4 decimals from the table builder, so they print with at most 4 decimals."""
    text = repr(value)
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def finite(value: float) -> bool:
    """NaN and infinities have no meaning in an export: writers show them as empty cells."""
    return math.isfinite(value)


def check_row(codebook: Codebook, row: Sequence[object], number: int) -> None:
    """Refuse a row whose length differs from the codebook's (`number` counts data rows from 1)."""
    if len(row) != len(codebook.variables):
        raise RowError(f"row {number} has {len(row)} cells, the codebook {len(codebook.variables)} variables")
