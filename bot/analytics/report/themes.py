"""The "Themen" section: per strategy field the themes the daily refresh found (bot/themes, nlp/themes.py).

What is read: each theme's keywords and centroid from `theme_registry`; its members under the report's filter —
ideas by submission (`ideas.theme`; survey and campaign do not apply to ideas, as in the other idea sections) and
free-text answers by the start of their response (`answer_embeddings.theme`). What is shown, per theme with at
least k members: its size, the members of the last 30 days and of the 30 days before (a partition of the size with
the older ones, suppressed as such), the registry's keywords that at least k member texts mention, and up to three
quotes — only `public_text` of APPROVED, unmerged ideas, the ones closest to the theme's centroid. A theme of fewer
than k texts is not listed (its size would point at a few people); no answer text and no idea's private text is
ever shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.analytics.query import ExportFilter, _in_period_and_channel, filtered_responses
from bot.storage import models as m
from nlp.themes import RegisteredTheme, ThemeError, ThemeRegistry, mention_set, mentioned_by

from .markup import Look, row, table
from .suppress import suppress_partition

PERIOD_DAYS = 30
QUOTES = 3
APPROVED = "approved"


@dataclass
class ThemeMembers:
    """One theme under the filter: its registry entry, member times, what each member text mentions (for keyword
    counts only; the texts themselves are not kept), quotable public texts with their embeddings."""

    registered: RegisteredTheme
    times: list[datetime] = field(default_factory=list)
    mentioned: list[frozenset[str]] = field(default_factory=list)
    public: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class ThemeStats:
    """Field key → themes (largest first)."""

    fields: dict[str, list[ThemeMembers]] = field(default_factory=dict)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _registered(session: Session) -> dict[str, RegisteredTheme]:
    known: dict[str, RegisteredTheme] = {}
    for content in session.scalars(select(m.ThemeRegistryRow.content)):
        try:
            registry = ThemeRegistry.from_json(content)
        except ThemeError:
            continue  # a damaged registry costs the section, not the report
        known.update((theme.id, theme) for theme in registry.themes)
    return known


def theme_stats(session: Session, flt: ExportFilter) -> ThemeStats:
    """The members of every registered theme under `flt`."""
    known = _registered(session)
    members: dict[str, ThemeMembers] = {}

    def member(theme_id: str) -> ThemeMembers | None:
        if theme_id not in known:
            return None
        return members.setdefault(theme_id, ThemeMembers(known[theme_id]))

    ideas = select(m.Idea.theme, m.Idea.created_at, m.Idea.text, m.Idea.publication, m.Idea.public_text,
                   m.Idea.merged_into, m.Idea.embedding).where(m.Idea.theme.is_not(None))
    for theme_id, created, text, publication, public_text, merged, embedding in session.execute(
            _in_period_and_channel(ideas, m.Idea.created_at, m.Idea.citizen_id, flt, authorless=True)):
        found = member(theme_id)
        if found is None:
            continue
        found.times.append(_aware(created))
        found.mentioned.append(mention_set(text))
        if publication == APPROVED and public_text and merged is None and embedding is not None:
            found.public.append((public_text, embedding))
    answers = filtered_responses(select(m.AnswerEmbedding.theme, m.Answer.answered_at, m.Answer.value), session,
                                 flt)
    answers = answers.join(m.Answer, m.Answer.response_id == m.Response.id).join(
        m.AnswerEmbedding, m.AnswerEmbedding.answer_id == m.Answer.id).where(m.AnswerEmbedding.theme.is_not(None))
    for theme_id, answered, value in session.execute(answers):
        found = member(theme_id)
        if found is None or not isinstance(value, str):
            continue
        found.times.append(_aware(answered))
        found.mentioned.append(mention_set(value))
    stats = ThemeStats()
    for theme in sorted(members.values(), key=lambda t: (-len(t.times), t.registered.id)):
        stats.fields.setdefault(theme.registered.field, []).append(theme)
    return stats


def quotes(theme: ThemeMembers, limit: int = QUOTES) -> list[str]:
    """Up to `limit` distinct approved public texts, closest to the theme's centroid first."""
    centroid = np.asarray(theme.registered.centroid, dtype=np.float32)
    scored = []
    for text, embedding in theme.public:
        vector = np.frombuffer(embedding, dtype="<f4")
        if vector.shape == centroid.shape:
            scored.append((-float(vector @ centroid), text))
    result: list[str] = []
    for _, text in sorted(scored):
        if text not in result:
            result.append(text)
        if len(result) == limit:
            break
    return result


def _trend_counts(times: Sequence[datetime], until: datetime) -> list[int]:
    period = timedelta(days=PERIOD_DAYS)
    recent = sum(1 for t in times if until - period <= t < until)
    previous = sum(1 for t in times if until - 2 * period <= t < until - period)
    return [recent, previous, len(times) - recent - previous]


def _theme_block(theme: ThemeMembers, look: Look, until: datetime, number: int) -> str:
    t = look.texts
    keywords = [word for word in theme.registered.keywords
                if sum(1 for stems in theme.mentioned if mentioned_by(word, stems)) >= look.k]
    title = ", ".join(keywords) if keywords else t("theme_n", n=number)
    group = suppress_partition(_trend_counts(theme.times, until), look.k)
    recent, previous, _ = group.cells
    rows = [
        row("size", t("theme_size"), look.cell(group.total)),
        row("recent", t("theme_recent", days=PERIOD_DAYS), look.cell(recent)),
        row("previous", t("theme_previous", days=PERIOD_DAYS), look.cell(previous)),
    ]
    theme_id = escape(theme.registered.id)
    parts = [f'<article class="theme" data-theme="{theme_id}"><h4>{escape(title)}</h4>',
             f'<p class="note">{escape(t("theme_id"))}: <code>{theme_id}</code></p>',
             table(f"table-theme-{theme_id}", t("table_of", title=title), [t("theme_figure"), t("count")], rows)]
    cited = quotes(theme)
    if cited:
        parts.append(f'<p class="note">{escape(t("theme_quotes"))}</p>')
        parts += [f'<blockquote data-quote="{i}">{escape(text)}</blockquote>' for i, text in enumerate(cited)]
    else:
        parts.append(f'<p class="note" data-note="no-quotes">{escape(t("theme_no_quotes"))}</p>')
    parts.append("</article>")
    return "".join(parts)


def themes_section(stats: ThemeStats, look: Look, field_names: dict[str, str], until: datetime) -> str:
    """The section: a part per configured field; themes below k members are not listed."""
    t = look.texts
    parts = [f'<section id="themes" data-section="themes"><h2>{escape(t("themes"))}</h2>',
             f'<p class="note">{escape(t("themes_note", k=look.k, days=PERIOD_DAYS))}</p>']
    for key, name in field_names.items():
        shown = [theme for theme in stats.fields.get(key, []) if len(theme.times) >= look.k]
        parts.append(f'<section data-themes="{escape(key)}"><h3>{escape(name)}</h3>')
        if not shown:
            parts.append(f'<p class="note">{escape(t("no_themes", k=look.k))}</p>')
        parts += [_theme_block(theme, look, until, number) for number, theme in enumerate(shown, start=1)]
        parts.append("</section>")
    parts.append("</section>")
    return "".join(parts)
