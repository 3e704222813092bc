"""Sending to Matrix: rendered events out through nio, homeserver answers mapped to RetryLater/PermanentFailure.

Encrypted rooms: nio shares the Megolm session before the first message; devices of citizens are not verified
interactively (a public bot cannot compare emoji with thousands of people), so sending ignores unverified devices
— they still receive the keys, they are just not marked as verified.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from collections import OrderedDict
from functools import partial
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    EncryptionError,
    ErrorResponse,
    GroupEncryptionError,
    LocalProtocolError,
    MegolmEvent,
    OlmTrustError,
    RoomGetEventResponse,
    RoomSendResponse,
    UploadResponse,
)

from bot.channels.base import RATE_LIMIT_CHANNEL, PermanentFailure, RecipientUnreachableError, RetryLater
from bot.channels.matrix_render import (
    MAX_TEXT_CHARS,
    POLL_END,
    POLL_STARTS,
    ROOM_MESSAGE,
    OutEvent,
    edit_content,
    file_content,
    poll_end_content,
    render,
)
from handlers.events import Document, Outbound

log = logging.getLogger(__name__)

NETWORK_ERRORS = (ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError)
_PERMANENT_CODES = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_TOO_LARGE", "M_BAD_JSON", "M_NOT_JSON",
                              "M_INVALID_PARAM"})
_MEMORY = 4096
"""How many sent event ids (poll or text) and half-sent messages are remembered."""


def http_status(response: Any) -> int | None:
    """The HTTP status behind a nio response (nio's `status_code` is the Matrix error code, not this)."""
    status = getattr(getattr(response, "transport_response", None), "status", None)
    return status if isinstance(status, int) else None


def is_transient(response: Any) -> bool:
    """An error answer that says nothing about the request itself: rate limit, overload, a failing proxy in front.
    These are the answers `check_response` retries after the server's delay or after 10 s."""
    status = http_status(response)
    return getattr(response, "status_code", None) == "M_LIMIT_EXCEEDED" or (
        status is not None and (status == 429 or status >= 500)
    )


def check_response(response: Any, expected: type, what: str) -> Any:
    """Return `response` if it is `expected`; raise RetryLater or PermanentFailure for an error answer."""
    if isinstance(response, expected):
        return response
    if not isinstance(response, ErrorResponse):
        raise RetryLater(5, f"{what}_unexpected_response")
    code = response.status_code or ""
    status = http_status(response)
    if code == "M_LIMIT_EXCEEDED" or status == 429:
        # Synapse sends retry_after_ms; without it wait a little longer than its default burst refill. The limit is
        # per sender (rc_message), so the whole channel pauses.
        raise RetryLater((response.retry_after_ms or 5000) / 1000, f"{what}_rate_limited",
                         rate_limit=RATE_LIMIT_CHANNEL)
    if status is not None and status >= 500:
        raise RetryLater(10, f"{what}_http_{status}")
    if code == "M_UNKNOWN_TOKEN":
        raise RetryLater(30, f"{what}_token_refused")  # the sync loop logs in again
    if code == "M_FORBIDDEN" and what == "send":
        raise RecipientUnreachableError(f"{what}_{code}")  # the bot is no longer in the DM: the citizen left it
    if code in _PERMANENT_CODES:
        raise PermanentFailure(f"{what}_{code}")
    raise RetryLater(15, f"{what}_{code or status or 'error'}")


class _Lru(OrderedDict[str, Any]):
    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _MEMORY:
            self.popitem(last=False)


class MatrixSender:
    """Delivers `Outbound` messages into rooms with one nio client."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self._sent_types = _Lru()  # event id → event type, for `replaces`
        self._partial = _Lru()  # message digest → event ids already sent of a split message

    async def deliver(self, room_id: str, message: Outbound, key: str = "") -> tuple[str, ...]:
        """Send every part of `message`; parts a failed earlier attempt already delivered are not sent again.

        With a `key`, part n goes out under the transaction id `stadtdialog.<key>.<n>`: Synapse answers a repeat
        with the event it already has instead of posting it twice (also after a restart of the bot, which keeps
        its device and token). Synapse remembers transaction ids per access token for a limited time (about half
        an hour), so after a new login or a long outage a repeat can still be posted.
        """
        digest = _digest(room_id, message)
        done: list[str] = list(self._partial.get(digest, ()))
        plan = await self._plan(room_id, message, key)
        try:
            for index, step in enumerate(plan):
                if index < len(done):
                    continue
                done.append(await step())
        except (RetryLater, PermanentFailure):
            if done:
                self._partial.remember(digest, tuple(done))
            raise
        self._partial.pop(digest, None)
        return tuple(done)

    async def _plan(self, room_id: str, message: Outbound, key: str = "") -> list[Any]:
        """The sends for a message, as zero-argument coroutine factories in order."""
        steps: list[Any] = []

        def tx(number: int) -> str | None:
            return f"stadtdialog.{key}.{number}" if key else None

        events = render(message)
        if message.replaces:
            kind = await self._kind_of(room_id, message.replaces)
            if kind in POLL_STARTS:
                # An answered poll is closed; the closed poll shows the choice, so the replacement's text only
                # becomes the end's fallback. New buttons (a ticked option of a multiple choice) come as a new
                # poll right below; the text above the old poll still applies.
                end = OutEvent(POLL_END, poll_end_content(message.replaces, message.text))
                steps.append(partial(self.send_event, room_id, end, tx(len(steps))))
                events = [event for event in events if event.is_poll]
            elif kind == ROOM_MESSAGE and message.text and len(message.text) <= MAX_TEXT_CHARS:
                edit = OutEvent(ROOM_MESSAGE, edit_content(message.replaces, message.text))
                events = [edit, *[event for event in events if event.is_poll]]
        for event in events:
            steps.append(partial(self.send_event, room_id, event, tx(len(steps))))
        if message.document is not None:
            steps.append(partial(self.send_document, room_id, message.document, tx(len(steps))))
        return steps

    async def send_event(self, room_id: str, event: OutEvent, tx_id: str | None = None) -> str:
        try:
            response = await self.client.room_send(
                room_id, event.type, event.content, tx_id=tx_id, ignore_unverified_devices=True
            )
        except NETWORK_ERRORS as exc:
            raise RetryLater(5, f"send_network_{type(exc).__name__}") from exc
        except (GroupEncryptionError, EncryptionError, OlmTrustError) as exc:
            raise RetryLater(5, f"send_encryption_{type(exc).__name__}") from exc
        except LocalProtocolError as exc:  # room unknown to nio (yet), members not synced, key sharing in flight
            raise RetryLater(3, f"send_local_{type(exc).__name__}") from exc
        sent = check_response(response, RoomSendResponse, "send")
        self._sent_types.remember(sent.event_id, event.type)
        return str(sent.event_id)

    async def send_document(self, room_id: str, document: Document, tx_id: str | None = None) -> str:
        """Upload (encrypted in encrypted rooms) and send an `m.file` message."""
        room = self.client.rooms.get(room_id)
        encrypt = bool(room is not None and room.encrypted)
        try:
            response, keys = await self.client.upload(
                io.BytesIO(document.content),
                content_type=document.mime_type,
                filename=document.filename,
                encrypt=encrypt,
                filesize=len(document.content),
            )
        except NETWORK_ERRORS as exc:
            raise RetryLater(5, f"upload_network_{type(exc).__name__}") from exc
        uploaded = check_response(response, UploadResponse, "upload")
        content = file_content(document.filename, document.mime_type, len(document.content),
                               uploaded.content_uri, keys if encrypt else None)
        return await self.send_event(room_id, OutEvent(ROOM_MESSAGE, content), tx_id)

    async def _kind_of(self, room_id: str, event_id: str) -> str | None:
        """The type of an event the bot sent earlier (poll start or message); None if it is not ours or unknown."""
        known = self._sent_types.get(event_id)
        if known is not None:
            return str(known)
        try:
            response = await self.client.room_get_event(room_id, event_id)
        except NETWORK_ERRORS as exc:
            raise RetryLater(5, f"get_event_network_{type(exc).__name__}") from exc
        if not isinstance(response, RoomGetEventResponse) or isinstance(response.event, MegolmEvent):
            return None
        source = response.event.source
        if source.get("sender") != self.client.user_id:
            return None
        kind = source.get("type")
        if isinstance(kind, str):
            self._sent_types.remember(event_id, kind)
            return kind
        return None


def _digest(room_id: str, message: Outbound) -> str:
    data = json.dumps([room_id, message.to_dict()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()
