"""Time buckets for the charts over time: days for a short span, weeks (from Monday) for a longer one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

MAX_DAYS = 42
"""Spans up to six weeks are shown per day; longer ones per week."""


def unit_for(days: Iterable[date]) -> str:
    """'day' or 'week' for the span the days cover."""
    known = list(days)
    if not known:
        return "day"
    return "day" if (max(known) - min(known)).days < MAX_DAYS else "week"


def bucket(day: date, unit: str) -> date:
    return day if unit == "day" else day - timedelta(days=day.weekday())


def buckets(days: Iterable[date], unit: str) -> list[date]:
    """Every bucket from the first to the last day (empty ones included, so the axis is true to time)."""
    known = [bucket(day, unit) for day in days]
    if not known:
        return []
    step = timedelta(days=1 if unit == "day" else 7)
    current, last, result = min(known), max(known), []
    while current <= last:
        result.append(current)
        current += step
    return result


def regroup(counts: Counter[date], unit: str) -> Counter[date]:
    grouped: Counter[date] = Counter()
    for day, count in counts.items():
        grouped[bucket(day, unit)] += count
    return grouped


def label(start: date, lang: str) -> str:
    return start.strftime("%d.%m.%Y") if lang == "de" else start.isoformat()
