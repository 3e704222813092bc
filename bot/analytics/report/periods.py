"""Time buckets for the charts over time: days for a short span, weeks (from Monday) for a longer one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

MAX_DAYS = 42
"""Spans up to six weeks are shown per day; longer ones per week."""


def unit_for(per_day: Counter[date], k: int) -> str:
    """'day' for a span up to six weeks, 'week' for a longer one — or when most days would have fewer than k
    (and be suppressed) while weeks would not be that sparse."""
    known = [day for day, count in per_day.items() if count]
    if not known:
        return "day"
    if (max(known) - min(known)).days >= MAX_DAYS:
        return "week"
    sparse_days = sum(1 for day in known if per_day[day] < k)
    return "week" if len(known) > 7 and sparse_days * 2 > len(known) else "day"


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
