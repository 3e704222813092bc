"""The ideaboard's queries: pending searches, the index feed, published ideas as citizens see them, supports.

Every function takes the caller's unit of work; nothing here commits. "Published" always means approved, not
merged and with a public text: only that text is ever shown to another citizen.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, Select, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from bot.storage import models as m
from bot.storage.db import UnitOfWork
from bot.storage.repositories._base import table_of
from handlers.board_render import BoardIdea
from handlers.events import PUBLICATION_APPROVED, PUBLICATION_PENDING

_SEARCH_INSERT = insert(table_of(m.IdeaSearch))
_SUPPORT_INSERT = insert(table_of(m.IdeaSupport))


def _rowcount(uow: UnitOfWork, statement: Executable) -> int:
    return cast(CursorResult[Any], uow.session.execute(statement)).rowcount


@dataclass(frozen=True)
class PendingSearch:
    """An `idea_searches` row waiting for the worker."""

    id: int
    citizen_id: str
    channel: str
    draft_id: str
    text: str
    attempts: int


@dataclass(frozen=True)
class IndexRow:
    """What the match index needs of one idea, and whether it belongs in the index now."""

    id: str
    publication_at: datetime | None
    listed: bool  # approved, unmerged, with a public text and an embedding
    public_text: str | None
    embedding: bytes | None


def published() -> ColumnElement[bool]:
    """The SQL condition of an idea other citizens may see."""
    return (
        (m.Idea.publication == PUBLICATION_APPROVED) & m.Idea.merged_into.is_(None) & m.Idea.public_text.is_not(None)
    )


def listed() -> ColumnElement[bool]:
    """Published and with a stored embedding: what the similar-idea index holds."""
    return published() & m.Idea.embedding.is_not(None)


# --- searches ----------------------------------------------------------------------------------------------------


def add_search(uow: UnitOfWork, citizen_id: str, channel: str, draft_id: str, text: str, now: datetime) -> None:
    uow.session.execute(
        _SEARCH_INSERT,
        {"citizen_id": citizen_id, "channel": channel, "draft_id": draft_id, "text": text, "created_at": now,
         "attempts": 0},
    )  # fmt: skip


CLAIM_TIMEOUT = timedelta(minutes=1)
"""A search claimed `attempts` times is offered to the workers again once it is `attempts` × this old: its worker
is taken to have died (embedding one text takes well under a second)."""


def pending_searches(uow: UnitOfWork, limit: int, now: datetime) -> list[PendingSearch]:
    """Searches no worker holds: never claimed, or claimed so long ago that the claimer is taken to have died.

    The schema has no claim time: a claimed row counts as abandoned when it is older than `attempts` ×
    `CLAIM_TIMEOUT` (measured from `created_at`). A row left by a crash long ago may therefore be claimed by two
    workers in turn while the first still works on it; the second answer is a duplicate event the inbox drops."""
    rows = uow.session.execute(
        select(m.IdeaSearch.id, m.IdeaSearch.citizen_id, m.IdeaSearch.channel, m.IdeaSearch.draft_id,
               m.IdeaSearch.text, m.IdeaSearch.attempts, m.IdeaSearch.created_at)
        .where(or_(m.IdeaSearch.attempts == 0, m.IdeaSearch.created_at <= now - CLAIM_TIMEOUT))
        .order_by(m.IdeaSearch.id).limit(limit)
    ).all()  # fmt: skip
    return [
        PendingSearch(row.id, row.citizen_id, row.channel, row.draft_id, row.text, row.attempts)
        for row in rows
        if row.attempts == 0 or _aware(row.created_at) <= now - row.attempts * CLAIM_TIMEOUT
    ]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def claim_search(uow: UnitOfWork, search: PendingSearch) -> int | None:
    """Claim the search for this worker by counting one more attempt (before embedding, so a text that crashes the
    process is given up), only if nobody counted one since `search` was read; the new count, None when another
    worker claimed it or the row is gone (answered)."""
    claimed = _rowcount(
        uow,
        update(m.IdeaSearch)
        .where(m.IdeaSearch.id == search.id, m.IdeaSearch.attempts == search.attempts)
        .values(attempts=m.IdeaSearch.attempts + 1),
    )
    return search.attempts + 1 if claimed else None


def delete_search(uow: UnitOfWork, search_id: int) -> bool:
    return _rowcount(uow, delete(m.IdeaSearch).where(m.IdeaSearch.id == search_id)) > 0


# --- the index feed ----------------------------------------------------------------------------------------------


def index_rows(uow: UnitOfWork, changed_since: datetime) -> list[IndexRow]:
    """Every idea whose publication changed since then (listed or not), WITHOUT embeddings (`with_embeddings`
    fetches those the index needs)."""
    changed = select(m.Idea.id, m.Idea.publication_at, listed().label("listed"), m.Idea.public_text).where(
        m.Idea.publication_at >= changed_since
    )
    return [IndexRow(row.id, row.publication_at, bool(row.listed), row.public_text, None)
            for row in uow.session.execute(changed)]  # fmt: skip


def listed_page(uow: UnitOfWork, after: str, limit: int) -> list[IndexRow]:
    """Listed ideas with their embeddings, `limit` at a time in id order after the id `after` (the index's build)."""
    query = (
        select(m.Idea.id, m.Idea.publication_at, m.Idea.public_text, m.Idea.embedding)
        .where(listed(), m.Idea.id > after).order_by(m.Idea.id).limit(limit)
    )  # fmt: skip
    return [IndexRow(row.id, row.publication_at, True, row.public_text, row.embedding)
            for row in uow.session.execute(query)]  # fmt: skip


def with_embeddings(uow: UnitOfWork, rows: Sequence[IndexRow]) -> list[IndexRow]:
    """`rows` with their stored embeddings filled in."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    vectors = dict(uow.session.execute(select(m.Idea.id, m.Idea.embedding).where(m.Idea.id.in_(ids))).tuples().all())
    return [replace(row, embedding=vectors.get(row.id)) for row in rows]


# --- published ideas ---------------------------------------------------------------------------------------------


def _supporters() -> ColumnElement[int]:
    return (
        select(func.count()).select_from(m.IdeaSupport).where(m.IdeaSupport.idea_id == m.Idea.id)
        .correlate(m.Idea).scalar_subquery()
    )  # fmt: skip


def _supported_by(citizen_id: str) -> ColumnElement[bool]:
    return (
        select(m.IdeaSupport.idea_id)
        .where(m.IdeaSupport.idea_id == m.Idea.id, m.IdeaSupport.citizen_id == citizen_id)
        .correlate(m.Idea).exists()
    )  # fmt: skip


def _public_query(citizen_id: str) -> Select[Any]:
    return select(
        m.Idea.id, m.Idea.public_text, m.Idea.field, _supporters().label("supporters"), m.Idea.status,
        _supported_by(citizen_id).label("supported"), m.Idea.citizen_id, m.Idea.created_at,
    ).where(published())  # fmt: skip


def _public(row: Row[Any], citizen_id: str) -> BoardIdea:
    data = row._mapping
    return BoardIdea(
        id=data["id"], text=data["public_text"], field=data["field"], supporters=int(data["supporters"] or 0),
        status=data["status"], supported=bool(data["supported"]), own=data["citizen_id"] == citizen_id,
        created_at=data["created_at"],
    )  # fmt: skip


def public_ideas(uow: UnitOfWork, ids: Sequence[str], citizen_id: str) -> dict[str, BoardIdea]:
    """The published ones among `ids`, as `citizen_id` sees them (ideas gone or unpublished are missing)."""
    if not ids:
        return {}
    rows = uow.session.execute(_public_query(citizen_id).where(m.Idea.id.in_(list(ids)))).all()
    return {row.id: _public(row, citizen_id) for row in rows}


def published_text(uow: UnitOfWork, idea_id: str) -> str | None:
    """The idea's public text while it is published, else None."""
    value = uow.session.execute(select(m.Idea.public_text).where(m.Idea.id == idea_id, published())).scalar()
    return None if value is None else str(value)


def _others(citizen_id: str) -> ColumnElement[bool]:
    """Ideas not written by `citizen_id` (kept ideas without author included): /ideen lists only those."""
    return or_(m.Idea.citizen_id.is_(None), m.Idea.citizen_id != citizen_id)


def _in_field(field: str | None, known: Collection[str]) -> ColumnElement[bool]:
    """`field` a key, or None: filed without a field or under a field the city has removed since."""
    if field is not None:
        return m.Idea.field == field
    return or_(m.Idea.field.is_(None), m.Idea.field.not_in(list(known)))


def withdrawable_text(uow: UnitOfWork, idea_id: str, citizen_id: str) -> str | None:
    """The text the author sees of their own pending or published idea (the public text once approved); None when
    it is not theirs or not proposed for publication."""
    row = uow.session.execute(
        select(m.Idea.text, m.Idea.public_text).where(
            m.Idea.id == idea_id, m.Idea.citizen_id == citizen_id, m.Idea.merged_into.is_(None),
            m.Idea.publication.in_((PUBLICATION_PENDING, PUBLICATION_APPROVED)),
        )
    ).first()  # fmt: skip
    return None if row is None else str(row.public_text or row.text)


def field_counts(uow: UnitOfWork, citizen_id: str) -> dict[str | None, int]:
    """Published ideas of other citizens per first field."""
    query = select(m.Idea.field, func.count()).where(published(), _others(citizen_id)).group_by(m.Idea.field)
    return {row[0]: int(row[1]) for row in uow.session.execute(query).all()}


def field_page(
    uow: UnitOfWork, field: str | None, known: Collection[str], citizen_id: str, offset: int, limit: int
) -> list[BoardIdea]:
    """Published ideas of other citizens in one field (None: without a known field), most supported first (then
    newest)."""
    supporters = _supporters()
    query = (
        _public_query(citizen_id).where(_in_field(field, known), _others(citizen_id))
        .order_by(supporters.desc(), m.Idea.created_at.desc(), m.Idea.id).offset(offset).limit(limit)
    )  # fmt: skip
    return [_public(row, citizen_id) for row in uow.session.execute(query).all()]


@dataclass(frozen=True)
class IdeaFacts:
    """What the board checks before a support: who wrote it, whether it is published, where it was merged."""

    id: str
    citizen_id: str | None
    published: bool
    merged_into: str | None


def idea_facts(uow: UnitOfWork, idea_id: str) -> IdeaFacts | None:
    row = uow.session.execute(
        select(m.Idea.id, m.Idea.citizen_id, published().label("published"), m.Idea.merged_into)
        .where(m.Idea.id == idea_id)
    ).first()  # fmt: skip
    return None if row is None else IdeaFacts(row.id, row.citizen_id, bool(row.published), row.merged_into)


# --- supports ----------------------------------------------------------------------------------------------------


def support(uow: UnitOfWork, idea_id: str, citizen_id: str, now: datetime) -> bool:
    """Record a support; False when the citizen already supports the idea."""
    if support_of(uow, idea_id, citizen_id) is not None:
        return False
    try:
        with uow.session.begin_nested():  # a double tap racing in another worker hits the primary key
            uow.session.execute(
                _SUPPORT_INSERT, {"idea_id": idea_id, "citizen_id": citizen_id, "created_at": now, "news": False}
            )
    except IntegrityError:
        return False
    return True


def support_of(uow: UnitOfWork, idea_id: str, citizen_id: str) -> bool | None:
    """None when the citizen does not support the idea, else whether they want its news."""
    value = uow.session.execute(
        select(m.IdeaSupport.news).where(m.IdeaSupport.idea_id == idea_id, m.IdeaSupport.citizen_id == citizen_id)
    ).first()
    return None if value is None else bool(value[0])


def unsupport(uow: UnitOfWork, idea_id: str, citizen_id: str) -> bool:
    statement = delete(m.IdeaSupport).where(m.IdeaSupport.idea_id == idea_id, m.IdeaSupport.citizen_id == citizen_id)
    return _rowcount(uow, statement) > 0


def set_news(uow: UnitOfWork, idea_id: str, citizen_id: str, on: bool) -> bool:
    statement = (
        update(m.IdeaSupport)
        .where(m.IdeaSupport.idea_id == idea_id, m.IdeaSupport.citizen_id == citizen_id)
        .values(news=on)
    )
    return _rowcount(uow, statement) > 0


def supporters_count(uow: UnitOfWork, idea_id: str) -> int:
    return int(
        uow.session.execute(
            select(func.count()).select_from(m.IdeaSupport).where(m.IdeaSupport.idea_id == idea_id)
        ).scalar_one()
    )


def news_supporters(uow: UnitOfWork, idea_id: str) -> list[str]:
    """Supporters who asked for the idea's status news."""
    return list(
        uow.session.execute(
            select(m.IdeaSupport.citizen_id)
            .where(m.IdeaSupport.idea_id == idea_id, m.IdeaSupport.news.is_(True))
            .order_by(m.IdeaSupport.citizen_id)
        ).scalars()
    )
