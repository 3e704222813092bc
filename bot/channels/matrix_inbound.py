"""Inbound mapping for Matrix, pure: a room event (plain or already decrypted) becomes an `Inbound` or nothing.

Everything is read from the event's JSON (`source`), not from nio's typed classes: nio surfaces polls and other
extensible events as `UnknownEvent`, in encrypted rooms after decryption too (its `source` is then the decrypted
event with the cleartext `m.relates_to` merged in), so the JSON is the one shape every case shares.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.channels.base import clean_inbound, text_event
from bot.channels.matrix_render import POLL_RESPONSES, POLL_STARTS, ROOM_MESSAGE
from handlers.events import UNDECRYPTABLE, Inbound, InboundKind

CHANNEL = "matrix"


_MEDIA_BY_MSGTYPE = {
    "m.image": "photo",
    "m.video": "video",
    "m.file": "document",
    "m.location": "location",
}
_TEXT_MSGTYPES = ("m.text", "m.notice", "m.emote")
# Clients put fixed descriptions ("Voice message") into the body of audio; only these carry a citizen's caption.
_CAPTIONED_MSGTYPES = ("m.image", "m.video", "m.file")
_REPLY_FALLBACK = re.compile(r"\A(?:> [^\n]*\n|>\n)+\n?")


def server_time(source: Mapping[str, Any], fallback: datetime) -> datetime:
    """The event's origin_server_ts as an aware UTC datetime (fallback when missing or absurd)."""
    stamp = source.get("origin_server_ts")
    if isinstance(stamp, int) and stamp > 0:
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return fallback


def relation(content: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(rel_type, event_id) of an event's `m.relates_to`, or (None, None)."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, Mapping):
        return None, None
    rel_type = relates.get("rel_type")
    event_id = relates.get("event_id")
    return (rel_type if isinstance(rel_type, str) else None, event_id if isinstance(event_id, str) else None)


def poll_selections(event_type: str, content: Mapping[str, Any]) -> list[str]:
    """The answer ids of a poll response, unstable (`…poll.response.answers`) or stable (`m.selections`) form."""
    if event_type == POLL_RESPONSES[0]:
        body = content.get(POLL_RESPONSES[0])
        answers = body.get("answers") if isinstance(body, Mapping) else None
    else:
        answers = content.get("m.selections")
    if not isinstance(answers, list):
        return []
    return [answer for answer in answers if isinstance(answer, str) and answer]


class VoteMemory:
    """The last selection per (poll, citizen), so a response naming several answers yields the one just added.

    Polls are closed after every answer, so a response normally names one answer; a client that lets the
    citizen tick several before the close sends the whole selection, of which the new element is the press.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._last: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    def pick(self, poll_id: str, sender: str, selections: list[str]) -> str:
        key = (poll_id, sender)
        previous = self._last.pop(key, ())
        self._last[key] = tuple(selections)
        while len(self._last) > self._size:
            self._last.popitem(last=False)
        added = [answer for answer in selections if answer not in previous]
        return (added or selections)[-1]


def strip_reply_fallback(body: str, content: Mapping[str, Any]) -> str:
    """Drop the quoted `> <@user> …` lines a reply carries in front of what the citizen actually wrote."""
    relates = content.get("m.relates_to")
    if isinstance(relates, Mapping) and "m.in_reply_to" in relates:
        return _REPLY_FALLBACK.sub("", body, count=1)
    return body


def media_kind(msgtype: str, content: Mapping[str, Any]) -> str:
    if msgtype == "m.audio":
        voice = "org.matrix.msc3245.voice" in content or "m.voice" in content
        return "voice" if voice else "audio"
    return _MEDIA_BY_MSGTYPE.get(msgtype, "other")


def to_inbound(
    source: Mapping[str, Any], room_id: str, now: datetime, votes: VoteMemory | None = None
) -> Inbound | None:
    """The Inbound for one room event of a citizen (every text field cleaned, see `clean_inbound`), or None."""
    inbound = _to_inbound(source, room_id, now, votes)
    return None if inbound is None else clean_inbound(inbound)


def _to_inbound(
    source: Mapping[str, Any], room_id: str, now: datetime, votes: VoteMemory | None
) -> Inbound | None:
    """The Inbound for one room event of a citizen, or None for what the dialogue does not care about.

    Handled: text/notice/emote (TEXT or COMMAND via `text_event`), edits (EDITED), images, stickers, voice,
    video, files, locations (MEDIA), poll responses (BUTTON with the answer id as payload and the poll start's
    event id as `message_ref`), polls the citizen starts (MEDIA "poll"). Ignored: reactions, redactions, state.
    """
    event_type = source.get("type")
    event_id = source.get("event_id")
    sender = source.get("sender")
    content = source.get("content")
    if not (isinstance(event_type, str) and isinstance(event_id, str) and isinstance(sender, str)):
        return None
    if not isinstance(content, Mapping) or "state_key" in source:
        return None
    received_at = server_time(source, now)

    def make(kind: InboundKind, **values: Any) -> Inbound:
        return Inbound(kind, CHANNEL, sender, room_id, event_id, received_at, **values)

    if event_type in POLL_RESPONSES:
        rel_type, poll_id = relation(content)
        selections = poll_selections(event_type, content)
        if rel_type != "m.reference" or poll_id is None or not selections:
            return None  # a withdrawn vote: nothing to answer
        answer = selections[0] if votes is None else votes.pick(poll_id, sender, selections)
        return make(InboundKind.BUTTON, payload=answer, message_ref=poll_id)
    if event_type in POLL_STARTS:
        return make(InboundKind.MEDIA, media="poll")
    if event_type == "m.sticker":
        return make(InboundKind.MEDIA, media="sticker")
    if event_type != ROOM_MESSAGE:
        return None
    msgtype = content.get("msgtype")
    body = content.get("body")
    rel_type, _ = relation(content)
    if rel_type == "m.replace":
        new = content.get("m.new_content")
        new_body = new.get("body") if isinstance(new, Mapping) else None
        return make(InboundKind.EDITED, text=new_body if isinstance(new_body, str) else "")
    if msgtype in _TEXT_MSGTYPES and isinstance(body, str):
        text = strip_reply_fallback(body, content)
        if not text.strip():
            return None
        return text_event(CHANNEL, sender, room_id, event_id, text, received_at)
    if isinstance(msgtype, str):
        caption = media_caption(content) if msgtype in _CAPTIONED_MSGTYPES else ""
        return make(InboundKind.MEDIA, media=media_kind(msgtype, content), text=caption)
    return None


def media_caption(content: Mapping[str, Any]) -> str:
    """The caption of an image or file (Matrix 1.10: `body` is a caption when a separate `filename` is given)."""
    body, filename = content.get("body"), content.get("filename")
    if isinstance(body, str) and isinstance(filename, str) and body.strip() and body != filename:
        return body
    return ""


def undecryptable(source: Mapping[str, Any], room_id: str, now: datetime) -> Inbound | None:
    """What the citizen is told about: a message the bot could not decrypt even after asking for the key."""
    event_id = source.get("event_id")
    sender = source.get("sender")
    if not (isinstance(event_id, str) and isinstance(sender, str)):
        return None
    return clean_inbound(Inbound(InboundKind.MEDIA, CHANNEL, sender, room_id, event_id, server_time(source, now),
                                 media=UNDECRYPTABLE))


def group_event(user_id: str, room_id: str, event_id: str, received_at: datetime) -> Inbound:
    """Something happened in a room that is not a one-to-one chat: the core answers politely, then we leave."""
    return clean_inbound(Inbound(InboundKind.GROUP, CHANNEL, user_id, room_id, event_id, received_at))


def server_of(user_id: str) -> str:
    """`@name:example.org` → `example.org` (a port stays part of the server name)."""
    return user_id.partition(":")[2]


@dataclass
class Held:
    """An event waiting behind an undecryptable message of its room (that message included)."""

    event: Any
    since: str  # the sync position before the sync that brought it: replaying from there brings it again
    seq: int
    deadline: float  # loop time after which an undecryptable head is given up


class HeldEvents:
    """Per room, the events held back while a message waits for its room key, so the room's order is kept.

    While anything is held, the stored sync position must not move past the sync that brought it (`cursor`):
    after a crash the events come again, and what was accepted meanwhile is dropped as a duplicate.
    """

    def __init__(self) -> None:
        self._rooms: dict[str, deque[Held]] = {}

    def __contains__(self, room_id: object) -> bool:
        return room_id in self._rooms

    def __bool__(self) -> bool:
        return bool(self._rooms)

    def add(self, room_id: str, held: Held) -> None:
        self._rooms.setdefault(room_id, deque()).append(held)

    def cursor(self, latest: str) -> str:
        """The position to store: before the oldest held event, or `latest` when nothing is held."""
        heads = [queue[0] for queue in self._rooms.values()]
        return min(heads, key=lambda held: held.seq).since if heads else latest

    def nearest_deadline(self) -> float | None:
        return min((queue[0].deadline for queue in self._rooms.values()), default=None)

    def release(self, clock: float, decrypt: Callable[[Any], Any | None],
                is_encrypted: Callable[[Any], bool]) -> list[tuple[str, Any, bool]]:
        """(room id, event, given_up) in order for every event no longer blocked.

        `decrypt` returns the decrypted event or None while the key is missing; a head still undecryptable after
        its deadline is released with given_up=True (the citizen is told), and the events behind it follow.
        """
        released: list[tuple[str, Any, bool]] = []
        for room_id in list(self._rooms):
            queue = self._rooms[room_id]
            while queue:
                head = queue[0]
                event, given_up = head.event, False
                if is_encrypted(event):
                    decrypted = decrypt(event)
                    if decrypted is None and clock < head.deadline:
                        break
                    event, given_up = (decrypted, False) if decrypted is not None else (event, True)
                queue.popleft()
                released.append((room_id, event, given_up))
            if not queue:
                del self._rooms[room_id]
        return released
