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

FOLLOW_UP_PENDING = "pending"  # waiting for due_at
FOLLOW_UP_RUNNING = "running"  # claimed: its inbox event was written
FOLLOW_UP_HELD = "held"  # the citizen was busy; back to pending (due now) when that flow ends
FOLLOW_UP_QUEUED = "queued"  # the core queued its message; done/sent once the outbox delivered it
FOLLOW_UP_DONE = "done"
FOLLOW_UP_SKIPPED = "skipped"  # ended unsent; `outcome` says why
FOLLOW_UP_FAILED = "failed"
FOLLOW_UP_CANCELLED = "cancelled"
FOLLOW_UP_OPEN = (FOLLOW_UP_PENDING, FOLLOW_UP_RUNNING, FOLLOW_UP_HELD, FOLLOW_UP_QUEUED)
"""Statuses of rows that may still lead to a message."""

OUTCOME_SENT = "sent"
OUTCOME_MISSED = "missed"  # due while the bot was down, past the grace period
OUTCOME_NO_OPT_IN = "no_opt_in"
OUTCOME_UNREACHABLE = "unreachable"
OUTCOME_NO_CONTACT = "no_contact"
OUTCOME_STOPPED = "stopped"  # the citizen said /stop
OUTCOME_CLOSED = "closed"  # the campaign or survey closed
OUTCOME_CANCELLED = "cancelled"  # staff cancelled it
OUTCOME_NOT_NEEDED = "not_needed"  # the core found nothing to send (e.g. already answered)
OUTCOME_SUPERSEDED = "superseded"  # a newer status of the same idea replaced this idea-news row before it went out

OPT_IN_SURVEYS = "surveys"
OPT_IN_FOLLOWUPS = "followups"
OPT_IN_IDEA_NEWS = "idea_news"
OPT_IN_TOPICS = (OPT_IN_SURVEYS, OPT_IN_FOLLOWUPS, OPT_IN_IDEA_NEWS)

PRIORITY_INTERACTIVE = 0
PRIORITY_BULK = 1


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
    priority: int = PRIORITY_INTERACTIVE
    follow_up_id: int | None = None


@dataclass(frozen=True)
class Contact:
    """How to reach a citizen on one channel."""

    citizen_id: str
    channel: str
    channel_user_id: str
    chat_id: str
    unreachable_at: datetime | None = None


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
    closed_at: datetime | None = None


@dataclass(frozen=True)
class FollowUpItem:
    """A claimed follow-up, to be fed back to the core as an Inbound of kind FOLLOW_UP."""

    id: int
    citizen_id: str
    due_at: datetime
    kind: str
    payload: dict[str, Any]
    attempts: int
    status: str = FOLLOW_UP_PENDING
    response_id: str | None = None
    campaign_id: int | None = None
    unsolicited: bool = True
    outcome: str | None = None
    sent_at: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class OptInItem:
    """One opt-in with its proof; `withdrawn_at` None means it is current."""

    id: int
    citizen_id: str
    topic: str
    fields: list[str]
    source: str
    notice_version: str
    granted_at: datetime
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class StoredIdea:
    """An idea as stored, with its current status and the city's public note on it."""

    id: str
    citizen_id: str | None  # None: a kept public idea whose author deleted their data (issue 13)
    text: str
    field: str | None
    fields: list[str]
    created_at: datetime
    status: str
    status_note: str | None
    status_note_en: str | None
    status_at: datetime | None


@dataclass(frozen=True)
class IdeaStatusChangeItem:
    """One entry of an idea's status history (`source`: "chat" or "cli")."""

    id: int
    idea_id: str
    status: str
    note: str | None
    note_en: str | None
    changed_at: datetime
    source: str


@dataclass(frozen=True)
class AuditEntry:
    """One staff action from the audit log (employees' data; never citizens' texts)."""

    id: int
    at: datetime
    actor: str
    role: str
    channel: str
    action: str
    target: str | None
    details: dict[str, Any] | None
    outcome: str


class UnknownSurveyError(LookupError):
    """A response was started for a survey version that was never imported."""

    def __init__(self, key: str, version: int) -> None:
        super().__init__(f"survey {key!r} version {version} is not in the surveys table")
        self.key = key
        self.version = version


def chat_key(channel: str, chat_id: str) -> str:
    """The key that orders inbound events and outbound messages of one chat."""
    return f"{channel}:{chat_id}"
