"""How dates and times read in messages: the city's time zone, German or ISO order."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def local_day(moment: datetime, lang: str, tz: tzinfo) -> str:
    """`moment` as the date a reader in the city sees: 05.12.2026 (German) or 2026-12-05."""
    local = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(tz)
    return local.strftime("%d.%m.%Y") if lang == "de" else local.strftime("%Y-%m-%d")


def local_minute(moment: datetime, lang: str, tz: tzinfo) -> str:
    """`moment` to the minute in the city's time zone: 05.12.2026 14:30 (German) or 2026-12-05 14:30."""
    local = (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(tz)
    return local.strftime("%d.%m.%Y %H:%M") if lang == "de" else local.strftime("%Y-%m-%d %H:%M")
