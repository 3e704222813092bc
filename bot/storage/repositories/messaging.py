"""The inbound inbox, the outbox and the channels' cursors: what makes delivery durable and ordered per chat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, null, or_, select, update

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
from bot.storage.repositories._base import Repository, columns_for, plain_json, short_error, to_item, to_items, utc_now

_INBOX_COLUMNS = columns_for(m.InboundEvent, InboxItem)
_OUTBOX_COLUMNS = columns_for(m.OutboxMessage, OutboxItem)
_PROCESSED_CHAT_KEY = ""
"""A processed event keeps no chat key: it is only needed to order pending events, and it names the chat."""


class InboxRepository(Repository):
    """Inbound events: the duplicate filter, and the queue of events stored before they were processed."""

    def add(
        self, inbound_dict: dict[str, Any], *, channel: str, event_id: str, chat_key: str, received_at: datetime
    ) -> bool:
        """Store a raw event as pending. False (and nothing changes) if the channel delivered it before."""
        statement = (
            self._insert(m.InboundEvent)
            .values(
                channel=channel,
                event_id=event_id,
                chat_key=chat_key,
                payload=plain_json(inbound_dict),
                status=INBOX_PENDING,
                attempts=0,
                received_at=received_at,
            )
            .on_conflict_do_nothing(index_elements=["channel", "event_id"])
            .returning(m.InboundEvent.id)
        )
        # RETURNING rather than rowcount: drivers need not report a rowcount for INSERT.
        return self.session.execute(statement).first() is not None

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
        row = self.session.execute(
            select(*_INBOX_COLUMNS)
            .where(m.InboundEvent.chat_key == chat_key, m.InboundEvent.status == INBOX_PENDING)
            .order_by(m.InboundEvent.id)
            .limit(1)
        ).first()
        return None if row is None else to_item(InboxItem, row)

    def lock(self, item_id: int) -> InboxItem | None:
        """Claim a pending event for this transaction.

        None when it is no longer pending, when another worker holds it (PostgreSQL: SKIP LOCKED, so a worker
        never waits for another), or when an older event of the same chat is still pending (per-chat order).
        """
        query = select(*_INBOX_COLUMNS).where(m.InboundEvent.id == item_id, m.InboundEvent.status == INBOX_PENDING)
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        row = self.session.execute(query).first()
        if row is None:
            return None
        item = to_item(InboxItem, row)
        older = self.session.execute(
            select(m.InboundEvent.id)
            .where(
                m.InboundEvent.chat_key == item.chat_key,
                m.InboundEvent.status == INBOX_PENDING,
                m.InboundEvent.id < item.id,
            )
            .limit(1)
        ).first()
        return None if older is not None else item

    def mark_done(self, item_id: int, *, now: datetime | None = None) -> None:
        """The event was processed in this transaction: drop its payload and chat key."""
        self.session.execute(
            update(m.InboundEvent)
            .where(m.InboundEvent.id == item_id)
            .values(
                status=INBOX_DONE,
                payload=null(),
                chat_key=_PROCESSED_CHAT_KEY,
                error=None,
                processed_at=now or utc_now(),
            )
        )

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
    ) -> int:
        """Queue a message (`Outbound.to_dict()`); returns the row id."""
        created_at = now or utc_now()
        statement = (
            self._insert(m.OutboxMessage)
            .values(
                channel=channel,
                chat_id=chat_id,
                chat_key=chat_key(channel, chat_id),
                payload=plain_json(message),
                status=OUTBOX_PENDING,
                attempts=0,
                not_before=not_before,
                created_at=created_at,
            )
            .returning(m.OutboxMessage.id)
        )
        return int(self.session.execute(statement).scalar_one())

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

    def pending_chat_keys(self) -> list[str]:
        """Chats with at least one message still to send (due now or later)."""
        rows = self.session.execute(
            select(m.OutboxMessage.chat_key).where(m.OutboxMessage.status == OUTBOX_PENDING).distinct()
        ).scalars()
        return sorted(rows)

    def mark_sent(self, item_id: int) -> None:
        """The message was delivered: forget it."""
        self.session.execute(delete(m.OutboxMessage).where(m.OutboxMessage.id == item_id))

    def retry_later(self, item_id: int, error: str, not_before: datetime) -> None:
        """Sending failed temporarily (e.g. HTTP 429): try again at `not_before`."""
        self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == item_id)
            .values(attempts=m.OutboxMessage.attempts + 1, last_error=short_error(error), not_before=not_before)
        )

    def mark_failed(self, item_id: int, error: str) -> None:
        """Give up on a message; the chat's later messages go ahead."""
        self.session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == item_id)
            .values(status=OUTBOX_FAILED, attempts=m.OutboxMessage.attempts + 1, last_error=short_error(error))
        )

    def pending_count(self) -> int:
        count = self.session.execute(
            select(func.count()).select_from(m.OutboxMessage).where(m.OutboxMessage.status == OUTBOX_PENDING)
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
        return self.session.execute(select(m.ChannelState.value).where(m.ChannelState.key == key)).scalar_one_or_none()

    def set(self, key: str, value: str, now: datetime) -> None:
        statement = self._insert(m.ChannelState).values(key=key, value=value, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
        self.session.execute(statement)
