"""The inbound inbox, the outbox and the channels' cursors: what makes delivery durable and ordered per chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, null, or_, select, update

from bot.storage import models as m
from bot.storage.items import (
    INBOX_DONE,
    INBOX_FAILED,
    INBOX_PENDING,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    InboxItem,
    OutboxItem,
    chat_key,
)
from bot.storage.repositories._base import (
    Repository,
    columns_for,
    plain_json,
    short_error,
    table_of,
    to_item,
    to_items,
    upsert,
    utc_now,
)

_INBOX_COLUMNS = columns_for(m.InboundEvent, InboxItem)
_OUTBOX_COLUMNS = columns_for(m.OutboxMessage, OutboxItem)
_PROCESSED_CHAT_KEY = ""
"""A processed event keeps no chat key: it is only needed to order pending events, and it names the chat."""
_INBOX_ADD = upsert(
    m.InboundEvent,
    ("channel", "event_id", "chat_key", "payload", "status", "attempts", "received_at"),
    ("channel", "event_id"),
    returning="id",
)
_OUTBOX = table_of(m.OutboxMessage)
_INBOX = table_of(m.InboundEvent)
# Hot-path statements are built once with bound parameters: SQLAlchemy then reuses their cache key and compiled
# form, and Core tables skip the ORM's per-statement set-up.
_INBOX_ROW = select(*(_INBOX.c[column.key] for column in _INBOX_COLUMNS))
_INBOX_NEXT = (
    _INBOX_ROW.where(_INBOX.c.chat_key == bindparam("chat_key"), _INBOX.c.status == INBOX_PENDING)
    .order_by(_INBOX.c.id)
    .limit(1)
)
_INBOX_BY_ID = _INBOX_ROW.where(_INBOX.c.id == bindparam("item_id"), _INBOX.c.status == INBOX_PENDING)
_INBOX_LOCK = _INBOX_BY_ID.with_for_update(skip_locked=True)
_INBOX_OLDER = (
    select(_INBOX.c.id)
    .where(
        _INBOX.c.chat_key == bindparam("chat_key"),
        _INBOX.c.status == INBOX_PENDING,
        _INBOX.c.id < bindparam("item_id"),
    )
    .limit(1)
)
_INBOX_DONE = (
    update(_INBOX)
    .where(_INBOX.c.id == bindparam("item_id"))
    .values(
        status=INBOX_DONE,
        payload=null(),
        chat_key=_PROCESSED_CHAT_KEY,
        error=None,
        processed_at=bindparam("done_at", type_=_INBOX.c.processed_at.type),
    )
)
_OUTBOX_QUEUE = (
    select(*(_OUTBOX.c[column.key] for column in _OUTBOX_COLUMNS))
    .where(_OUTBOX.c.chat_key == bindparam("chat_key"), _OUTBOX.c.status == OUTBOX_PENDING)
    .order_by(_OUTBOX.c.id)
    .limit(bindparam("limit"))
)
_OUTBOX_DELETE = delete(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("item_ids", expanding=True)))
_CHANNEL_STATE = table_of(m.ChannelState)
_CHANNEL_STATE_GET = select(_CHANNEL_STATE.c.value).where(_CHANNEL_STATE.c.key == bindparam("key"))
_OUTBOX_ENQUEUE = insert(_OUTBOX).returning(_OUTBOX.c.id)
_CHANNEL_STATE_SET = upsert(m.ChannelState, ("key", "value", "updated_at"), ("key",), ("value", "updated_at"))


class InboxRepository(Repository):
    """Inbound events: the duplicate filter, and the queue of events stored before they were processed."""

    def add(
        self, inbound_dict: dict[str, Any], *, channel: str, event_id: str, chat_key: str, received_at: datetime
    ) -> bool:
        """Store a raw event as pending. False (and nothing changes) if the channel delivered it before."""
        params = {
            "channel": channel,
            "event_id": event_id,
            "chat_key": chat_key,
            "payload": plain_json(inbound_dict),
            "status": INBOX_PENDING,
            "attempts": 0,
            "received_at": received_at,
        }
        # RETURNING rather than rowcount: drivers need not report a rowcount for INSERT.
        return self.session.execute(_INBOX_ADD, params).first() is not None

    def record_processed(
        self, channel: str, event_id: str, chat_key: str, received_at: datetime, *, now: datetime | None = None
    ) -> bool:
        """Record an event handled in this transaction without passing the inbox. False if it is a duplicate.

        `chat_key` is accepted for symmetry with `add`; a processed row does not keep it.
        """
        del chat_key
        statement = (
            self._insert(m.InboundEvent)
            .values(
                channel=channel,
                event_id=event_id,
                chat_key=_PROCESSED_CHAT_KEY,
                payload=null(),
                status=INBOX_DONE,
                attempts=0,
                received_at=received_at,
                processed_at=now or utc_now(),
            )
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(m.InboundEvent.id)
        )
        return self.session.execute(statement).first() is not None

    def pending(self, limit: int = 100) -> list[InboxItem]:
        """Pending events, oldest first."""
        rows = self.session.execute(
            select(*_INBOX_COLUMNS)
            .where(m.InboundEvent.status == INBOX_PENDING)
            .order_by(m.InboundEvent.id)
            .limit(limit)
        ).all()
        return to_items(InboxItem, rows)

    def pending_chat_keys(self) -> list[str]:
        """Chats with pending events, the chat waiting longest first."""
        rows = self.session.execute(
            select(m.InboundEvent.chat_key)
            .where(m.InboundEvent.status == INBOX_PENDING)
            .group_by(m.InboundEvent.chat_key)
            .order_by(func.min(m.InboundEvent.id))
        ).all()
        return [row.chat_key for row in rows]

    def next_for_chat(self, chat_key: str) -> InboxItem | None:
        """The oldest pending event of one chat: the only one of that chat that may be processed now."""
        row = self.session.execute(_INBOX_NEXT, {"chat_key": chat_key}).first()
        return None if row is None else to_item(InboxItem, row)

    def lock(self, item_id: int) -> InboxItem | None:
        """Claim a pending event for this transaction.

        None when it is no longer pending, when another worker holds it (PostgreSQL: SKIP LOCKED, so a worker
        never waits for another), or when an older event of the same chat is still pending (per-chat order).
        """
        query = _INBOX_LOCK if self.is_postgres else _INBOX_BY_ID
        row = self.session.execute(query, {"item_id": item_id}).first()
        if row is None:
            return None
        item = to_item(InboxItem, row)
        older = self.session.execute(_INBOX_OLDER, {"chat_key": item.chat_key, "item_id": item.id}).first()
        return None if older is not None else item

    def claim(self, item: InboxItem) -> InboxItem | None:
        """Claim an event that `next_for_chat` returned in this same transaction; None if another worker holds it.

        On SQLite the transaction already holds the database's write lock, so the row cannot have changed since
        it was read; on PostgreSQL the row is locked (SKIP LOCKED) and re-checked as in `lock`.
        """
        return self.lock(item.id) if self.is_postgres else item

    def mark_done(self, item_id: int, *, now: datetime | None = None) -> None:
        """The event was processed in this transaction: drop its payload and chat key."""
        self.session.execute(_INBOX_DONE, {"item_id": item_id, "done_at": now or utc_now()})

    def retry(self, item_id: int, error: str) -> None:
        """Count a failed attempt; the event stays pending and blocks its chat until retried or given up.

        Call it in a fresh unit of work: the one that failed has been rolled back.
        """
        self.session.execute(
            update(m.InboundEvent)
            .where(m.InboundEvent.id == item_id)
            .values(attempts=m.InboundEvent.attempts + 1, error=short_error(error))
        )

    def mark_failed(self, item_id: int, error: str, *, now: datetime | None = None) -> None:
        """Give up on an event: payload and chat key are dropped, and the chat's later events go ahead.

        The runtime decides after how many attempts (see `retry`).
        """
        self.session.execute(
            update(m.InboundEvent)
            .where(m.InboundEvent.id == item_id)
            .values(
                status=INBOX_FAILED,
                attempts=m.InboundEvent.attempts + 1,
                error=short_error(error),
                payload=null(),
                chat_key=_PROCESSED_CHAT_KEY,
                processed_at=now or utc_now(),
            )
        )

    def pending_count(self) -> int:
        """Events stored but not processed yet."""
        count = self.session.execute(
            select(func.count()).select_from(m.InboundEvent).where(m.InboundEvent.status == INBOX_PENDING)
        ).scalar_one()
        return int(count)

    def purge_done(self, older_than: datetime) -> int:
        """Forget processed (done or given-up) events older than `older_than`; returns how many."""
        return self._rowcount(
            delete(m.InboundEvent).where(
                m.InboundEvent.status.in_([INBOX_DONE, INBOX_FAILED]), m.InboundEvent.processed_at < older_than
            )
        )


class OutboxRepository(Repository):
    """Messages to send, strictly in order per chat; a row is deleted once its message was sent."""

    def enqueue(
        self,
        channel: str,
        chat_id: str,
        message: dict[str, Any],
        *,
        not_before: datetime | None = None,
        now: datetime | None = None,
        priority: int = 0,
        follow_up_id: int | None = None,
    ) -> int:
        """Queue a message (`Outbound.to_dict()`); returns the row id.

        `priority` 0 is an interactive reply, 1 bulk (invitations, reminders, follow-ups: paced behind replies);
        `follow_up_id` names the follow_ups row this message delivers (marked sent when it was sent).
        """
        params = {
            "channel": channel,
            "chat_id": chat_id,
            "chat_key": chat_key(channel, chat_id),
            "payload": plain_json(message),
            "status": OUTBOX_PENDING,
            "attempts": 0,
            "not_before": not_before,
            "created_at": now or utc_now(),
            "priority": priority,
            "follow_up_id": follow_up_id,
        }
        return int(self.session.execute(_OUTBOX_ENQUEUE, params).scalar_one())

    def due(self, now: datetime, limit: int = 100) -> list[OutboxItem]:
        """The oldest pending message of each chat, if it may be sent at `now`; oldest first.

        A chat whose head waits (retry back-off) sends nothing else meanwhile, so its messages never overtake.
        """
        heads = (
            select(m.OutboxMessage.chat_key, func.min(m.OutboxMessage.id).label("head_id"))
            .where(m.OutboxMessage.status == OUTBOX_PENDING)
            .group_by(m.OutboxMessage.chat_key)
            .subquery()
        )
        rows = self.session.execute(
            select(*_OUTBOX_COLUMNS)
            .join(heads, m.OutboxMessage.id == heads.c.head_id)
            .where(or_(m.OutboxMessage.not_before.is_(None), m.OutboxMessage.not_before <= now))
            .order_by(m.OutboxMessage.id)
            .limit(limit)
        ).all()
        return to_items(OutboxItem, rows)

    def next_for_chat(self, chat_key: str, now: datetime) -> OutboxItem | None:
        """The oldest pending message of one chat, if it may be sent at `now`."""
        item = self.head(chat_key)
        return item if item is not None and (item.not_before is None or item.not_before <= now) else None

    def head(self, chat_key: str) -> OutboxItem | None:
        """The oldest pending message of one chat, due or not (a waiting head holds back the rest)."""
        row = self.session.execute(
            select(*_OUTBOX_COLUMNS)
            .where(m.OutboxMessage.chat_key == chat_key, m.OutboxMessage.status == OUTBOX_PENDING)
            .order_by(m.OutboxMessage.id)
            .limit(1)
        ).first()
        return None if row is None else to_item(OutboxItem, row)

    def queue(self, chat_key: str, limit: int = 50) -> list[OutboxItem]:
        """The chat's pending messages in sending order (the first is the head; a waiting head holds back the rest).

        One read for several sends: the sender walks the list and deletes each message once it was sent.
        """
        rows = self.session.execute(_OUTBOX_QUEUE, {"chat_key": chat_key, "limit": limit}).all()
        return to_items(OutboxItem, rows)

    def pending_chat_keys(self) -> list[str]:
        """Chats with at least one message still to send (due now or later)."""
        rows = self.session.execute(
            select(m.OutboxMessage.chat_key).where(m.OutboxMessage.status == OUTBOX_PENDING).distinct()
        ).scalars()
        return sorted(rows)

    def mark_sent(self, item_id: int) -> None:
        """The message was delivered: forget it."""
        self.session.execute(delete(m.OutboxMessage).where(m.OutboxMessage.id == item_id))

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        """Several messages (of any chats) were delivered: forget them in one statement."""
        if item_ids:
            self.session.execute(_OUTBOX_DELETE, {"item_ids": list(item_ids)})

    def drop_chat(self, chat_key: str) -> list[tuple[int, int | None]]:
        """Forget every pending message of one chat (its recipient can receive nothing any more); returns the
        (outbox id, follow_up id) of each dropped message, so their follow_ups rows can be finished."""
        rows = self.session.execute(
            select(m.OutboxMessage.id, m.OutboxMessage.follow_up_id)
            .where(m.OutboxMessage.chat_key == chat_key, m.OutboxMessage.status == OUTBOX_PENDING)
            .order_by(m.OutboxMessage.id)
        ).all()
        if rows:
            self.session.execute(_OUTBOX_DELETE, {"item_ids": [row.id for row in rows]})
        return [(int(row.id), row.follow_up_id) for row in rows]

    def retry_later(self, item_id: int, error: str, not_before: datetime, count: bool = True) -> None:
        """Sending failed temporarily (e.g. HTTP 429): try again at `not_before`. `count=False` for a rate-limit
        answer: waiting for the server's budget is no failed attempt and never leads to giving the message up."""
        attempts = m.OutboxMessage.attempts + 1 if count else m.OutboxMessage.attempts
        self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == item_id)
            .values(attempts=attempts, last_error=short_error(error), not_before=not_before)
        )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Give up on a message; the chat's later messages go ahead."""
        self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == item_id)
            .values(status=OUTBOX_FAILED, attempts=m.OutboxMessage.attempts + 1, last_error=short_error(error))
        )

    def pending_count(self) -> int:
        """Messages still to send (due now or later)."""
        return self._count(OUTBOX_PENDING)

    def failed_count(self) -> int:
        """Dead letters: messages given up on, kept until the housekeeping purges them."""
        return self._count(OUTBOX_FAILED)

    def _count(self, status: str) -> int:
        count = self.session.execute(
            select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.status == status)
        ).scalar_one()
        return int(count)

    def purge_failed(self, older_than: datetime) -> int:
        """Forget given-up messages (they hold message text) created before `older_than`."""
        return self._rowcount(
            delete(m.OutboxMessage).where(
                m.OutboxMessage.status == OUTBOX_FAILED, m.OutboxMessage.created_at < older_than
            )
        )


class ChannelStateRepository(Repository):
    """Channel cursors such as "telegram:offset" or "matrix:since"."""

    def get(self, key: str) -> str | None:
        return self.session.execute(_CHANNEL_STATE_GET, {"key": key}).scalar_one_or_none()

    def set(self, key: str, value: str, now: datetime) -> None:
        self.session.execute(_CHANNEL_STATE_SET, {"key": key, "value": value, "updated_at": now})
