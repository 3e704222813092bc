"""Citizens, their contacts and their conversation state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, case, select, update

from bot.storage import models as m
from bot.storage.items import Contact, OptInItem
from bot.storage.repositories import privacy
from bot.storage.repositories._base import Repository, columns_for, plain_json, table_of, to_items, upsert
from handlers.events import CitizenState

_CONTACT_COLUMNS = columns_for(m.Contact, Contact)
_OPT_IN_COLUMNS = columns_for(m.OptIn, OptInItem)
_OPT_INS = table_of(m.OptIn)
_CURRENT_OPT_INS = select(_OPT_INS.c.topic, _OPT_INS.c.fields).where(
    _OPT_INS.c.citizen_id == bindparam("citizen_id"), _OPT_INS.c.withdrawn_at.is_(None)
)
_CITIZEN_UPSERT = upsert(
    m.Citizen,
    (
        "id",
        "language",
        "language_chosen",
        "consent_version",
        "consent_at",
        "training_consent",
        "created_at",
        "last_seen_at",
    ),
    ("id",),
    ("language", "language_chosen", "consent_version", "consent_at", "training_consent", "last_seen_at"),
)
_CITIZENS = table_of(m.Citizen)
_CONVERSATIONS = table_of(m.Conversation)
_LOAD_STATE = (
    select(
        _CITIZENS.c.language,
        _CITIZENS.c.language_chosen,
        _CITIZENS.c.consent_version,
        _CITIZENS.c.consent_at,
        _CITIZENS.c.training_consent,
        _CITIZENS.c.paused_until,
        _CITIZENS.c.last_seen_at,
        _CONVERSATIONS.c.flow,
        _CONVERSATIONS.c.data,
    )
    .select_from(_CITIZENS.outerjoin(_CONVERSATIONS, _CONVERSATIONS.c.citizen_id == _CITIZENS.c.id))
    .where(_CITIZENS.c.id == bindparam("citizen_id"))
)
"""Built once (see `messaging`): the state is loaded for every event."""
_CONVERSATION_UPSERT = upsert(
    m.Conversation, ("citizen_id", "flow", "data", "updated_at"), ("citizen_id",), ("flow", "data", "updated_at")
)
_CONTACT_UPSERT = upsert(
    m.Contact,
    ("citizen_id", "channel", "channel_user_id", "chat_id", "unreachable_at"),
    ("channel", "channel_user_id"),
    ("citizen_id", "chat_id", "unreachable_at"),
)
"""A citizen who writes is reachable again: the upsert clears `unreachable_at`."""


def _count_on(day: str) -> ColumnElement[int]:
    """`outreach_count + 1` when the stored day is `day`, else 1 (a new day starts counting again)."""
    return case((m.Citizen.outreach_day == day, m.Citizen.outreach_count + 1), else_=1)


class CitizenRepository(Repository):
    """The citizen aggregate: the citizens row with its conversation, plus export and erasure of everything."""

    def load_state(self, citizen_id: str) -> CitizenState | None:
        """The state the dialogue core needs, or None for a citizen never seen (or deleted)."""
        row = self.session.execute(_LOAD_STATE, {"citizen_id": citizen_id}).first()
        if row is None:
            return None
        defaults = CitizenState()
        opt_ins = {
            topic: tuple(fields or ())
            for topic, fields in self.session.execute(_CURRENT_OPT_INS, {"citizen_id": citizen_id}).all()
        }
        return CitizenState(
            language=row.language,
            language_chosen=row.language_chosen,
            consent_version=row.consent_version,
            consent_at=row.consent_at,
            training_consent=row.training_consent,
            flow=defaults.flow if row.flow is None else row.flow,
            data={} if row.data is None else row.data,
            opt_ins=opt_ins,
            paused_until=row.paused_until,
            last_active_at=row.last_seen_at,
        )

    def save_state(self, citizen_id: str, state: CitizenState, now: datetime) -> None:
        """Insert or update the citizens and conversations rows; `now` counts as the citizen's last activity."""
        self.session.execute(
            _CITIZEN_UPSERT,
            {
                "id": citizen_id,
                "language": state.language,
                "language_chosen": state.language_chosen,
                "consent_version": state.consent_version,
                "consent_at": state.consent_at,
                "training_consent": state.training_consent,
                "created_at": now,
                "last_seen_at": now,
            },
        )
        self.session.execute(
            _CONVERSATION_UPSERT,
            {"citizen_id": citizen_id, "flow": state.flow, "data": plain_json(state.data), "updated_at": now},
        )

    def set_last_seen(self, citizen_id: str, at: datetime) -> None:
        """Put back when the citizen last wrote (`save_state` counts every event, the bot's own follow-ups too)."""
        self.session.execute(update(m.Citizen).where(m.Citizen.id == citizen_id).values(last_seen_at=at))

    def set_paused(self, citizen_id: str, until: datetime | None) -> None:
        """/pause: unsolicited messages wait until `until` (None: resume)."""
        self.session.execute(update(m.Citizen).where(m.Citizen.id == citizen_id).values(paused_until=until))

    def count_outreach(self, citizen_id: str, day: str) -> None:
        """One more unsolicited message on the city-local date `day` (YYYY-MM-DD), for the daily cap."""
        self.session.execute(
            update(m.Citizen)
            .where(m.Citizen.id == citizen_id)
            .values(
                outreach_count=_count_on(day),
                outreach_day=day,
            )
        )

    def exists(self, citizen_id: str) -> bool:
        return self.session.execute(select(m.Citizen.id).where(m.Citizen.id == citizen_id)).first() is not None

    def export(self, citizen_id: str) -> dict[str, Any]:
        """Everything stored about the citizen (JSON-serialisable, ISO dates); "citizen" is None if unknown."""
        return privacy.export(self.session, citizen_id)

    def delete_everything(self, citizen_id: str) -> dict[str, int]:
        """Delete every row of the citizen in every table; returns the rows deleted per table.

        Pending outbox messages stay (the goodbye must still go out; sent rows are deleted anyway); given-up
        ones of the citizen's chats are deleted.
        """
        return privacy.delete_citizens(self.session, [citizen_id])

    def purge_unconsented(self, older_than: datetime) -> int:
        """Delete citizens who never consented and were last seen before `older_than`; returns how many."""
        ids = (
            self.session.execute(
                select(m.Citizen.id).where(m.Citizen.consent_version.is_(None), m.Citizen.last_seen_at < older_than)
            )
            .scalars()
            .all()
        )
        if ids:
            privacy.delete_citizens(self.session, ids)
        return len(ids)


class ContactRepository(Repository):
    """Channel identities. This is the only place a channel user id is stored."""

    def citizen_for(self, channel: str, channel_user_id: str) -> str | None:
        return self.session.execute(
            select(m.Contact.citizen_id).where(
                m.Contact.channel == channel, m.Contact.channel_user_id == channel_user_id
            )
        ).scalar_one_or_none()

    def upsert(self, citizen_id: str, channel: str, channel_user_id: str, chat_id: str) -> None:
        """Remember where to reach the citizen; the citizens row must exist (save the state first)."""
        self.session.execute(
            _CONTACT_UPSERT,
            {
                "citizen_id": citizen_id,
                "channel": channel,
                "channel_user_id": channel_user_id,
                "chat_id": chat_id,
                "unreachable_at": None,
            },
        )

    def mark_unreachable(self, channel: str, chat_id: str, now: datetime) -> int:
        """The citizen behind this chat blocked the bot or left the room: skip them until they write again."""
        return self._rowcount(
            update(m.Contact)
            .where(m.Contact.channel == channel, m.Contact.chat_id == chat_id, m.Contact.unreachable_at.is_(None))
            .values(unreachable_at=now)
        )

    def mark_unreachable_user(
        self, channel: str, channel_user_id: str, now: datetime, *, chat_id: str | None = None
    ) -> int:
        """Like `mark_unreachable`, by the channel's user id (e.g. a Matrix user who left the DM); with `chat_id`
        only while that is still the chat the bot reaches them in."""
        conditions = [
            m.Contact.channel == channel,
            m.Contact.channel_user_id == channel_user_id,
            m.Contact.unreachable_at.is_(None),
        ]
        if chat_id is not None:
            conditions.append(m.Contact.chat_id == chat_id)
        return self._rowcount(update(m.Contact).where(*conditions).values(unreachable_at=now))

    def for_citizen(self, citizen_id: str) -> list[Contact]:
        rows = self.session.execute(
            select(*_CONTACT_COLUMNS).where(m.Contact.citizen_id == citizen_id).order_by(m.Contact.id)
        ).all()
        return to_items(Contact, rows)

    def for_citizens(self, citizen_ids: Sequence[str]) -> list[Contact]:
        """Contacts of several citizens (e.g. to announce a campaign)."""
        rows = self.session.execute(
            select(*_CONTACT_COLUMNS).where(m.Contact.citizen_id.in_(list(citizen_ids))).order_by(m.Contact.id)
        ).all()
        return to_items(Contact, rows)


class ConversationRepository(Repository):
    """Direct access to conversation rows; the runtime normally goes through `CitizenRepository.load_state`."""

    def get(self, citizen_id: str) -> tuple[str, dict[str, Any]] | None:
        """(flow, data) of the citizen's conversation."""
        row = self.session.execute(
            select(m.Conversation.flow, m.Conversation.data).where(m.Conversation.citizen_id == citizen_id)
        ).first()
        return None if row is None else (row.flow, row.data)

    def citizens_in_flow(self, flow: str) -> list[str]:
        """Citizen ids whose conversation is in `flow` (e.g. to find unfinished surveys)."""
        return list(
            self.session.execute(
                select(m.Conversation.citizen_id).where(m.Conversation.flow == flow).order_by(m.Conversation.citizen_id)
            ).scalars()
        )


class OptInRepository(Repository):
    """Opt-ins to unsolicited messages, with proof: one current row per citizen and topic, history kept."""

    def current(self, citizen_id: str) -> dict[str, tuple[str, ...]]:
        """Current opt-ins: topic → strategy fields (() = all)."""
        rows = self.session.execute(_CURRENT_OPT_INS, {"citizen_id": citizen_id}).all()
        return {topic: tuple(fields or ()) for topic, fields in rows}

    def set(
        self,
        citizen_id: str,
        topic: str,
        on: bool,
        *,
        fields: Sequence[str] = (),
        source: str,
        notice_version: str,
        now: datetime,
    ) -> bool:
        """Switch the opt-in on (with `fields`) or off; False when nothing changed (same state, same fields)."""
        current = self.current(citizen_id).get(topic)
        wanted = tuple(fields)
        if (on and current == wanted) or (not on and current is None):
            return False
        self.session.execute(
            update(m.OptIn)
            .where(m.OptIn.citizen_id == citizen_id, m.OptIn.topic == topic, m.OptIn.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
        if on:
            self.session.execute(
                _OPT_INS.insert(),
                {
                    "citizen_id": citizen_id,
                    "topic": topic,
                    "fields": list(wanted),
                    "source": source[:30],
                    "notice_version": notice_version,
                    "granted_at": now,
                    "withdrawn_at": None,
                },
            )
        return True

    def withdraw_all(self, citizen_id: str, now: datetime) -> int:
        """/stop: every current opt-in is withdrawn (the proof rows stay until /loeschen)."""
        return self._rowcount(
            update(m.OptIn)
            .where(m.OptIn.citizen_id == citizen_id, m.OptIn.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )

    def history(self, citizen_id: str) -> list[OptInItem]:
        """Every opt-in the citizen gave, oldest first (current and withdrawn)."""
        rows = self.session.execute(
            select(*_OPT_IN_COLUMNS).where(m.OptIn.citizen_id == citizen_id).order_by(m.OptIn.granted_at, m.OptIn.id)
        ).all()
        return to_items(OptInItem, rows)
