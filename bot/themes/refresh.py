"""The theme refresh: per strategy field, themes over the stored embeddings of ideas and free-text answers.

One read (embeddings, texts, each field's registry), `nlp.themes.find_themes` per field outside any transaction,
one write: the field's registry back into `theme_registry` (so ids stay stable across runs, restarts and workers),
each idea's and answer's theme id into `ideas.theme` / `answer_embeddings.theme` (None: in no theme); only changed
rows are written. An idea's field is its first chosen field, an answer's the classifier's; texts without a field or
without an embedding get no theme. Only approved, unmerged ideas with a public text count as quotable (the registry
never holds a text; the report picks its quotes itself, from approved public texts only).

Several workers: the scheduler asks every hour and a worker refreshes only when the last refresh of any field is
older than `REFRESH_AGE` (`theme_registry.updated_at`); two workers racing produce the same result from the same
data (the computation is deterministic), so the second write changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.storage import models as m
from bot.storage.db import Database
from nlp.embed import DIMENSIONS
from nlp.themes import ThemeError, ThemeInput, ThemeRegistry, ThemeSettings, find_themes

from .embedding import PUBLICATION_APPROVED, from_bytes

log = logging.getLogger(__name__)

REFRESH_AGE = timedelta(hours=20)
"""The scheduler's hourly check refreshes when the newest registry is older than this: about once a day."""
_CHUNK = 500


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh did: fields, themes found, texts in a theme, texts in none, rows whose theme changed."""

    fields: int = 0
    themes: int = 0
    themed: int = 0
    unthemed: int = 0
    changed: int = 0
    skipped: bool = False  # refreshed recently (by this or another worker): nothing done


@dataclass(frozen=True)
class _Text:
    kind: str  # "idea" or "answer"
    key: str  # idea id, or answer id as text
    item: ThemeInput
    theme: str | None  # stored now


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def last_refresh(session: Session) -> datetime | None:
    """When a theme registry was last written (any field), or None before the first refresh."""
    newest = session.execute(select(func.max(m.ThemeRegistryRow.updated_at))).scalar_one_or_none()
    return _aware(newest) if newest is not None else None


def _texts(session: Session) -> list[_Text]:
    found: list[_Text] = []
    ideas = select(m.Idea.id, m.Idea.text, m.Idea.field, m.Idea.created_at, m.Idea.publication, m.Idea.public_text,
                   m.Idea.merged_into, m.Idea.embedding, m.Idea.theme).where(m.Idea.embedding.is_not(None))
    for idea_id, text, field, created, publication, public_text, merged, embedding, theme in session.execute(ideas):
        if not field or len(embedding) != DIMENSIONS * 4:
            continue
        quotable = publication == PUBLICATION_APPROVED and bool(public_text) and merged is None
        item = ThemeInput(text, from_bytes(embedding), field, _aware(created), quotable)
        found.append(_Text("idea", idea_id, item, theme))
    answers = (
        select(m.AnswerEmbedding.answer_id, m.AnswerEmbedding.vector, m.AnswerEmbedding.theme, m.Answer.value,
               m.Answer.field, m.Answer.answered_at)
        .join(m.Answer, m.Answer.id == m.AnswerEmbedding.answer_id)
    )
    for answer_id, vector, theme, value, field, answered in session.execute(answers):
        if not field or not isinstance(value, str) or len(vector) != DIMENSIONS * 4:
            continue
        found.append(_Text("answer", str(answer_id), ThemeInput(value, from_bytes(vector), field, _aware(answered)),
                           theme))
    return found


def _registries(session: Session) -> dict[str, ThemeRegistry]:
    found: dict[str, ThemeRegistry] = {}
    for row in session.scalars(select(m.ThemeRegistryRow)):
        try:
            found[row.field] = ThemeRegistry.from_json(row.content)
        except ThemeError:  # damaged: the field's ids start afresh rather than the refresh failing every day
            log.warning("event=theme_registry_unreadable field=%s", row.field)
    return found


def _changes(texts: Sequence[_Text], assignments: Sequence[str | None]) -> dict[tuple[str, str | None], list[str]]:
    """(kind, new theme) → keys whose stored theme differs."""
    changes: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for text, theme in zip(texts, assignments, strict=True):
        if text.theme != theme:
            changes[(text.kind, theme)].append(text.key)
    return changes


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


def _write(session: Session, changes: dict[tuple[str, str | None], list[str]],
           registries: dict[str, ThemeRegistry], now: datetime) -> None:
    for (kind, theme), keys in changes.items():
        for chunk in _chunks(keys):
            if kind == "idea":
                session.execute(update(m.Idea).where(m.Idea.id.in_(chunk)).values(theme=theme))
            else:
                numbers = [int(key) for key in chunk]
                session.execute(update(m.AnswerEmbedding).where(m.AnswerEmbedding.answer_id.in_(numbers))
                                .values(theme=theme))
    for field, registry in registries.items():
        row = session.get(m.ThemeRegistryRow, field)
        if row is None:
            session.add(m.ThemeRegistryRow(field=field, content=registry.to_json(), updated_at=now))
        else:
            row.content, row.updated_at = registry.to_json(), now


def refresh_themes(
    database: Database, now: datetime, *, settings: ThemeSettings | None = None, min_age: timedelta | None = None
) -> RefreshReport:
    """Find the themes of every field and store registries and assignments; blocking (run it off the event loop).

    `min_age`: skip when the last refresh is younger (the scheduler passes `REFRESH_AGE`; the CLI refreshes always).
    """
    with database.unit_of_work(read_only=True) as uow:
        if min_age is not None:
            last = last_refresh(uow.session)
            if last is not None and now - last < min_age:
                return RefreshReport(skipped=True)
        texts = _texts(uow.session)
        registries = _registries(uow.session)
        considered = {text.key for text in texts if text.kind == "idea"}
        stale_ideas = [key for key in uow.session.scalars(select(m.Idea.id).where(m.Idea.theme.is_not(None)))
                       if key not in considered]
        answered = {text.key for text in texts if text.kind == "answer"}
        themed_answers = select(m.AnswerEmbedding.answer_id).where(m.AnswerEmbedding.theme.is_not(None))
        stale_answers = [str(key) for key in uow.session.scalars(themed_answers) if str(key) not in answered]
    by_field: dict[str, list[_Text]] = defaultdict(list)
    for text in texts:
        by_field[text.item.field].append(text)
    changes: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    themes = themed = 0
    new_registries: dict[str, ThemeRegistry] = {}
    for field in sorted(by_field):
        members = by_field[field]
        items = [text.item for text in members]
        try:
            result = find_themes(items, registry=registries.get(field), settings=settings)
        except ThemeError:  # a registry of other vectors (another model's dimension): ids start afresh
            log.warning("event=theme_registry_mismatch field=%s", field)
            result = find_themes(items, settings=settings)
        new_registries[field] = result.registry
        themes += len(result.themes)
        themed += sum(1 for theme in result.assignments if theme is not None)
        for key, keys in _changes(members, result.assignments).items():
            changes[key] += keys
    # Rows that lost their embedding or field since the last refresh: no theme any more.
    changes[("idea", None)] += stale_ideas
    changes[("answer", None)] += stale_answers
    with database.unit_of_work() as uow:
        _write(uow.session, changes, new_registries, now)
    changed = sum(len(keys) for keys in changes.values())
    report = RefreshReport(len(by_field), themes, themed, len(texts) - themed, changed)
    log.info("event=themes_refreshed fields=%d themes=%d themed=%d unthemed=%d changed=%d", report.fields,
             report.themes, report.themed, report.unthemed, report.changed)
    return report


def report_json(report: RefreshReport) -> dict[str, Any]:
    """The CLI's JSON line."""
    return {"fields": report.fields, "themes": report.themes, "themed": report.themed, "unthemed": report.unthemed,
            "changed": report.changed, "skipped": report.skipped}
