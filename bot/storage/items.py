"""What repositories hand out: small frozen values, never ORM objects bound to a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

INBOX_PENDING = "pending"
INBOX_DONE = "done"
INBOX_FAILED = "failed"

OUTBOX_PENDING = "pending"
OUTBOX_FAILED = "failed"

RESPONSE_IN_PROGRESS = "in_progress"
RESPONSE_COMPLETED = "completed"

IDEA_NEW = "new"

FOLLOW_UP_PENDING = "pending"
FOLLOW_UP_RUNNING = "running"
FOLLOW_UP_DONE = "done"
FOLLOW_UP_FAILED = "failed"
FOLLOW_UP_CANCELLED = "cancelled"


@dataclass(frozen=True)
class InboxItem:
    """A stored inbound event; `payload` is the `Inbound.to_dict()` form (None once processed)."""

    id: int
    channel: str
    event_id: str
    chat_key: str
    payload: dict[str, Any] | None
    status: str
    attempts: int
    error: str | None
    received_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    """A message waiting to be sent; `payload` is the `Outbound.to_dict()` form."""

    id: int
    channel: str
    chat_id: str
    chat_key: str
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime | None  # None: send as soon as possible
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class Contact:
    """How to reach a citizen on one channel."""

    citizen_id: str
    channel: str
    channel_user_id: str
    chat_id: str


@dataclass(frozen=True)
class StoredSurvey:
    """One imported survey version; `definition` is the validated survey model dump."""

    id: int
    key: str
    version: int
    title: str
    definition: dict[str, Any]
    active: bool
    content_hash: str


@dataclass(frozen=True)
class FollowUpItem:
    """A claimed follow-up, to be fed back to the core as an Inbound of kind FOLLOW_UP."""

    id: int
    citizen_id: str
    due_at: datetime
    kind: str
    payload: dict[str, Any]
    attempts: int


class UnknownSurveyError(LookupError):
    """A response was started for a survey version that was never imported."""

    def __init__(self, key: str, version: int) -> None:
        super().__init__(f"survey {key!r} version {version} is not in the surveys table")
        self.key = key
        self.version = version


def chat_key(channel: str, chat_id: str) -> str:
    """The key that orders inbound events and outbound messages of one chat."""
    return f"{channel}:{chat_id}"
