"""What every repository shares: the unit of work's session and dialect-aware upserts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, Row
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
