"""`stadtdialog report`: one self-contained HTML file an analyst can mail around.

Charts are inline SVG (matplotlib), styles inline, no script and no external reference, so the file opens
anywhere without a network. Every count below k people is suppressed (see `suppress`), no free-text answer is
quoted, and the header always states the base, the period and that participants chose themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.analytics.query import ExportFilter, FilterError
from bot.analytics.writers.output import owner_only_target
from bot.storage.db import Database

from .data import ReportData, collect
from .ideas import ideas_section
from .markup import Look, page
from .questions import survey_section
from .texts import Texts
from .themes import themes_section

_STAMP = {"de": "%d.%m.%Y %H:%M %Z", "en": "%Y-%m-%d %H:%M %Z"}

__all__ = ["FilterError", "build_report", "render", "write_report"]


class FieldLike(Protocol):
    """A strategy field as `bot.app.field_infos()` gives it."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> Mapping[str, str]: ...


def _date(moment: datetime, tz: ZoneInfo, lang: str) -> str:
    local = moment.astimezone(tz)
    return local.strftime("%d.%m.%Y") if lang == "de" else local.strftime("%Y-%m-%d")


def _period(data: ReportData, since: datetime | None, until: datetime | None, tz: ZoneInfo, t: Texts) -> str:
    moments = [m for s in data.surveys for m in (s.first, s.last) if m is not None]
    moments += [m for m in (data.ideas.first, data.ideas.last) if m is not None]
    start = since or (min(moments) if moments else None)
    # `until` is exclusive (the CLI passes the start of the day after the last one): show the last day included.
    end = (until - timedelta(microseconds=1)) if until is not None else (max(moments) if moments else None)
    if start is None or end is None:
        return t("period_open")
    return f"{_date(start, tz, t.lang)} – {_date(end, tz, t.lang)}"


def render(
    data: ReportData, *, flt: ExportFilter, lang: str, min_count: int, timezone: ZoneInfo,
    fields: Sequence[FieldLike], now: datetime,
) -> str:
    """The whole HTML page for already collected data."""
    t = Texts(lang)
    look = Look(t, min_count)
    field_names = {f.key: f.name.get(lang) or f.name["de"] for f in fields}
    title = t("title_survey", survey=data.surveys[0].title.get(lang)) if flt.survey and data.surveys else t("title")
    responses = sum(s.responses for s in data.surveys)
    completed = sum(s.completed for s in data.surveys)
    surveys = "; ".join(f"{s.title.get(lang)} ({s.key})" for s in data.surveys) or "–"
    meta = [
        (t("surveys"), surveys),
        (t("period"), _period(data, flt.since, flt.until, timezone, t)),
        (t("base"), t("base_value", responses=look.int(responses), completed=look.int(completed),
                      ideas=look.int(data.ideas.total))),
        (t("generated"), now.astimezone(timezone).strftime(_STAMP[lang])),
    ]
    if flt.campaign:
        meta.insert(1, (t("campaign"), flt.campaign))
    meta_html = "".join(
        f'<dt>{escape(k)}</dt><dd data-meta="{i}">{escape(v)}</dd>' for i, (k, v) in enumerate(meta)
    )
    contents = [(f"survey-{s.key}", f"{t('survey')}: {s.title.get(lang)}") for s in data.surveys]
    contents.append(("ideas", t("ideas")))
    contents.append(("themes", t("themes")))
    nav = "".join(f'<li><a href="#{escape(anchor)}">{escape(label)}</a></li>' for anchor, label in contents)
    body = [
        f"<header><h1>{escape(title)}</h1>",
        f'<dl class="meta" data-section="meta">{meta_html}</dl>',
        f'<p class="notice" data-note="self-selection">{escape(t("self_selection"))}</p>',
        f'<p class="privacy" data-note="suppression">{escape(t("suppression_note", k=min_count))}</p>',
        f'<nav aria-label="{escape(t("contents"))}"><strong>{escape(t("contents"))}</strong><ol>{nav}</ol></nav>'
        "</header>",
    ]
    body += [survey_section(s, look, field_names) for s in data.surveys]
    body.append(ideas_section(data.ideas, look, field_names))
    body.append(themes_section(data.themes, look, field_names, flt.until or now))
    body.append(f"<footer>stadtdialog · k = {min_count}</footer>")
    return page(lang, title, "".join(body))


def build_report(
    database: Database, *, survey: str | None, campaign: str | None, since: datetime | None, until: datetime | None,
    lang: str, min_count: int, timezone: ZoneInfo, fields: Sequence[FieldLike], now: datetime,
    channel: str | None = None, exclude: frozenset[str] = frozenset(),
) -> str:
    """Read the data (one read-only unit of work) and return the whole report as HTML.

    `exclude`: citizen ids counted nowhere (staff: `bot.campaigns.audience.staff_citizen_ids`).

    `since`/`until`: UTC-aware, `until` exclusive. Raises FilterError for an unknown survey, campaign or channel
    and ValueError for an unknown language or k < 1.
    """
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    Texts(lang)  # fail on an unknown language before reading anything
    flt = ExportFilter(survey, campaign, since, until, channel, exclude)
    with database.unit_of_work(read_only=True) as uow:
        data = collect(uow.session, flt, timezone, [f.key for f in fields])
    return render(data, flt=flt, lang=lang, min_count=min_count, timezone=timezone, fields=fields, now=now)


def write_report(html: str, target: Path) -> None:
    """Write the report owner-only (0600), complete or not at all — the exports' `owner_only_target`: a temp
    file in the target's folder, renamed over the target. Raises OutputError for an unusable target."""
    with owner_only_target(Path(target)) as temporary:
        temporary.write_text(html, encoding="utf-8")
