"""What every channel adapter provides to the runtime, and what it may call on the runtime.

Channels are thin: they turn native updates into `Inbound` events, hand them to `EventSink.accept` (which
returns only once the events are durably stored — only then may the channel acknowledge them upstream), and
render `Outbound` messages natively in `send`. They decide nothing a citizen sees beyond rendering and never
touch storage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Protocol

from handlers.events import Inbound, InboundKind, Outbound

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)
REPLACEMENT = "\ufffd"
"""What an unstorable or unsendable character becomes (U+FFFD REPLACEMENT CHARACTER)."""
_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` as it can be stored and sent: lone UTF-16 surrogates and NUL become U+FFFD.

    A crafted client can send `"\\ud800"` escapes in Telegram's or Matrix's JSON: Python decodes them into a str
    that UTF-8 cannot encode, so the database driver and every reply echoing it would fail. A surrogate pair
    split into two code units is joined into the character it stands for; PostgreSQL text refuses NUL.
    """
    if not _UNSAFE.search(text):
        return text
    joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return joined.replace("\x00", REPLACEMENT)


def clean_inbound(event: Inbound) -> Inbound:
    """The event with `clean_text` applied to every text field; every channel's inbound conversion ends here."""
    changes: dict[str, Any] = {
        field.name: clean_text(value)
        for field in fields(event)
        if isinstance(value := getattr(event, field.name), str) and _UNSAFE.search(value)
    }
    return replace(event, **changes) if changes else event


def text_event(
    channel: str,
    user_id: str,
    chat_id: str,
    event_id: str,
    text: str,
    received_at: datetime,
    language_hint: str | None = None,
) -> Inbound:
    """A typed message as an Inbound: `/cmd@bot args` becomes a COMMAND, anything else TEXT (text cleaned)."""
    text = clean_text(text)
    match = _COMMAND.match(text.strip())
    if match:
        return clean_inbound(Inbound(
            InboundKind.COMMAND,
            channel,
            user_id,
            chat_id,
            event_id,
            received_at,
            text=text,
            command=match[1].lower(),
            args=(match[2] or "").strip(),
            language_hint=language_hint,
        ))
    return clean_inbound(Inbound(InboundKind.TEXT, channel, user_id, chat_id, event_id, received_at, text=text,
                                 language_hint=language_hint))


class ChannelStartError(Exception):
    """A channel could not start (wrong credentials, server unreachable); the message says what to fix."""


class ChannelUnreachableError(ChannelStartError):
    """The channel's server could not be reached at start (network, DNS, 5xx): worth trying again later.

    The runtime keeps the other channels running and retries this one with back-off; every other
    ChannelStartError (a refused token or password) stops the bot with its message.
    """


class SendError(Exception):
    """Base class of the errors `Channel.send` raises."""


RATE_LIMIT_CHAT = "chat"
"""`RetryLater.rate_limit`: the server limited sends to this one chat (Telegram's per-chat limit)."""
RATE_LIMIT_CHANNEL = "channel"
"""`RetryLater.rate_limit`: the server limited the whole bot account (Matrix `M_LIMIT_EXCEEDED`: per sender)."""


class RetryLater(SendError):
    """Sending failed for now (rate limit, network, 5xx); the outbox tries again after `after` seconds.

    `rate_limit` says whether the server refused because of its rate limit, and for what: `RATE_LIMIT_CHAT`
    (this chat) or `RATE_LIMIT_CHANNEL` (the whole account); None for any other temporary failure. The outbox
    pauses its pacer accordingly, and never gives a rate-limited message up.
    """

    def __init__(self, after: float, reason: str, *, rate_limit: str | None = None) -> None:
        super().__init__(reason)
        self.after = after
        self.reason = reason
        self.rate_limit = rate_limit


class PermanentFailure(SendError):
    """Sending can never succeed (chat gone, bot blocked, message rejected); the outbox gives up on it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecipientUnreachableError(PermanentFailure):
    """The recipient cannot receive anything from the bot any more: they blocked it or deleted their account
    (Telegram 403), or left the Matrix DM. The outbox marks the contact unreachable and drops the chat's queue;
    the contact becomes reachable again when the citizen writes again."""


@dataclass(frozen=True)
class SentMessage:
    """Channel ids of what was sent (the last part carries any buttons)."""

    message_ids: tuple[str, ...]


class EventSink(Protocol):
    """The runtime side a channel talks to."""

    async def accept(self, events: Sequence[Inbound], cursor: tuple[str, str] | None = None) -> list[bool]:
        """Durably store `events` (one transaction); True per event that is new, False for duplicates.

        `cursor` = (key, value), e.g. ("matrix:since", next_batch), is stored in the same transaction, so a
        channel's position never moves past events that are not stored; a cursor alone may be passed.
        """
        ...

    async def load_cursor(self, key: str) -> str | None:
        """The cursor last stored under `key` by `accept`; None if there is none yet."""
        ...

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until every accepted event is processed and its replies are sent (or waiting for a retry)."""
        ...

    async def mark_unreachable(self, channel: str, user_id: str, chat_id: str | None = None) -> None:
        """The citizen `user_id` left the bot (e.g. their Matrix DM `chat_id`): unsolicited messages skip them until
        they write again. Only the contact in that chat (when given): leaving an old room changes nothing while
        the bot reaches them in another. Stored before the method returns."""
        ...


class Channel(Protocol):
    """A messenger adapter (Telegram, Matrix, terminal)."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Connect and begin feeding events into `sink`; returns once running (work continues in tasks)."""
        ...

    async def stop(self) -> None:
        """Stop receiving; pending work already accepted stays stored."""
        ...

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        """Deliver one message; raise RetryLater or PermanentFailure when it cannot be delivered now.

        `key` is unique per outbox message and the same on every attempt: a channel whose server deduplicates
        retransmissions (Matrix transaction ids) uses it, so a message in flight at a crash is not shown twice.
        """
        ...
