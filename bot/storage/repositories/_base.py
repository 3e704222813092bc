"""What every repository shares: the unit of work's session and dialect-aware upserts."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, Row, Table, TextClause, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.storage.models import Base

T = TypeVar("T")

ERROR_MAX = 200


class Repository:
    """Base class: all repositories of one unit of work share its session and transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def is_postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that supports ON CONFLICT on both dialects (their APIs are the same)."""
        if self.is_postgres:
            return postgresql.insert(model)
        return sqlite.insert(model)

    def _rowcount(self, statement: Executable) -> int:
        result = cast(CursorResult[Any], self.session.execute(statement))
        return result.rowcount


def table_of(model: type[Base]) -> Table:
    """The model's Core table, for statements that skip the ORM's per-statement set-up."""
    return cast(Table, model.__table__)


@functools.cache
def upsert(
    model: type[Base],
    columns: tuple[str, ...],
    conflict: tuple[str, ...],
    update: tuple[str, ...] = (),
    returning: str | None = None,
) -> TextClause:
    """`INSERT … ON CONFLICT (conflict) DO NOTHING | DO UPDATE SET update…`, built once and run with parameters.

    The dialect INSERT constructs that offer ON CONFLICT are not cacheable in SQLAlchemy (`inherit_cache = False`),
    so they were compiled on every call; a typed text statement is compiled once. SQLite and PostgreSQL share the
    ON CONFLICT syntax, so one text serves both.
    """
    table = table_of(model)
    names = ", ".join(f'"{name}"' for name in columns)
    values = ", ".join(f":{name}" for name in columns)
    target = ", ".join(f'"{name}"' for name in conflict)
    if update:
        action = "DO UPDATE SET " + ", ".join(f'"{name}" = excluded."{name}"' for name in update)
    else:
        action = "DO NOTHING"
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({values}) ON CONFLICT ({target}) {action}'
    if returning is not None:
        sql += f' RETURNING "{returning}"'
    return text(sql).bindparams(*(bindparam(name, type_=table.c[name].type) for name in columns))


def columns_for(model: type[Base], item_type: type[Any]) -> list[InstrumentedAttribute[Any]]:
    """The model columns named like the fields of `item_type`, to select rows straight into it."""
    return [getattr(model, f.name) for f in fields(item_type)]


def to_item(item_type: type[T], row: Row[Any]) -> T:
    return item_type(**row._mapping)


def to_items(item_type: type[T], rows: Sequence[Row[Any]]) -> list[T]:
    return [item_type(**row._mapping) for row in rows]


def short_error(error: str) -> str:
    """Errors are stored shortened (and must never contain message text)."""
    return error if len(error) <= ERROR_MAX else error[: ERROR_MAX - 1] + "…"


def utc_now() -> datetime:
    return datetime.now(UTC)


def plain_json(value: Any) -> Any:
    """Mappings and sequences turned into dicts and lists, so frozen containers from the core serialise."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    return value


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
