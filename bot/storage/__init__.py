"""Storage: SQLAlchemy models, Alembic migrations and repositories sharing one unit of work per event."""

from bot.storage.db import Database, UnitOfWork
from bot.storage.items import (
    Contact,
    FollowUpItem,
    InboxItem,
    OutboxItem,
    StoredSurvey,
    UnknownSurveyError,
    chat_key,
)

__all__ = [
    "Contact",
    "Database",
    "FollowUpItem",
    "InboxItem",
    "OutboxItem",
    "StoredSurvey",
    "UnitOfWork",
    "UnknownSurveyError",
    "chat_key",
]
