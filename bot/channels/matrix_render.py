"""Outbound rendering for Matrix, pure: an `Outbound` becomes the event contents to send.

Every message with buttons becomes a poll in the MSC3381 form Element renders (`org.matrix.msc3381.poll.start`),
questions and menus alike: Element offers bots no other tappable answer (no inline keyboards; reactions carry
no labels), and one consistent way to answer is easier to learn than two. The poll's fallback text lists the
numbered options, so clients without poll support can type the number (the core maps numbers and labels).
The poll asks only the question line; the rest of the text (progress, hints, a privacy notice) goes before it
as a normal message, because Element shows a poll question as a one-line heading.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.events import Button, Outbound

MAX_TEXT_CHARS = 30_000
"""Matrix caps an event at 65,536 bytes of JSON; 30,000 characters leave room for escaping and encryption."""
MAX_POLL_ANSWERS = 20
"""MSC3381: a poll has at most 20 answers."""
POLL_QUESTION_MAX = 300
"""Longest line used as a poll question."""

POLL_START = "org.matrix.msc3381.poll.start"
POLL_END = "org.matrix.msc3381.poll.end"
POLL_RESPONSE = "org.matrix.msc3381.poll.response"
STABLE_POLL_START = "m.poll.start"
STABLE_POLL_END = "m.poll.end"
STABLE_POLL_RESPONSE = "m.poll.response"
POLL_STARTS = (POLL_START, STABLE_POLL_START)
POLL_RESPONSES = (POLL_RESPONSE, STABLE_POLL_RESPONSE)
POLL_ENDS = (POLL_END, STABLE_POLL_END)
TEXT = "org.matrix.msc1767.text"
DISCLOSED = "org.matrix.msc3381.poll.disclosed"
ROOM_MESSAGE = "m.room.message"
_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class OutEvent:
    """One Matrix event to send: its type and content."""

    type: str
    content: dict[str, Any]

    @property
    def is_poll(self) -> bool:
        return self.type in POLL_STARTS


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, preferring paragraph, then line, then word breaks."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest or not parts:
        parts.append(rest)
    return parts


def text_content(text: str) -> dict[str, Any]:
    """A plain `m.text` message; HTML only where it adds something Element would not show from the plain body."""
    return {"msgtype": "m.text", "body": text}


def numbered_lines(buttons: Sequence[Button]) -> list[str]:
    return [f"{number}. {button.label}" for number, button in enumerate(buttons, start=1)]


def poll_content(question: str, buttons: Sequence[Button], multi: bool) -> dict[str, Any]:
    """An MSC3381 poll start; answer ids are the button payloads (≤ 64 bytes, opaque to clients)."""
    fallback = "\n".join([question, *numbered_lines(buttons)])
    return {
        POLL_START: {
            "question": {TEXT: question},
            "kind": DISCLOSED,
            "max_selections": len(buttons) if multi else 1,
            "answers": [{"id": button.payload, TEXT: button.label} for button in buttons],
        },
        TEXT: fallback,
        "body": fallback,
    }


def poll_end_content(poll_event_id: str, text: str) -> dict[str, Any]:
    """Close a poll (it was answered); the text is what clients without poll support show."""
    return {
        "m.relates_to": {"rel_type": "m.reference", "event_id": poll_event_id},
        POLL_END: {},
        TEXT: text,
        "body": text,
    }


def edit_content(event_id: str, text: str) -> dict[str, Any]:
    """An `m.replace` edit of an earlier text message of the bot (the `* ` body is the spec's fallback)."""
    new = text_content(text)
    return {
        "msgtype": "m.text",
        "body": "* " + text,
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def file_content(
    filename: str, mime_type: str, size: int, mxc_url: str, encryption: Mapping[str, Any] | None
) -> dict[str, Any]:
    """An `m.file` message; in encrypted rooms the `file` object carries the key, else a plain `url`."""
    content: dict[str, Any] = {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "info": {"mimetype": mime_type, "size": size},
    }
    if encryption is not None:
        content["file"] = {**encryption, "url": mxc_url}
    else:
        content["url"] = mxc_url
    return content


def render(message: Outbound) -> list[OutEvent]:
    """The events for a message's text and buttons, in sending order (documents and edits are handled apart)."""
    buttons = message.all_buttons()
    if len(buttons) > MAX_POLL_ANSWERS:  # more than a poll may hold: numbered lines to type instead
        numbered = "\n".join([message.text, "", *numbered_lines(buttons)]).strip()
        return [OutEvent(ROOM_MESSAGE, text_content(part)) for part in split_text(numbered)]
    if not buttons:
        return [OutEvent(ROOM_MESSAGE, text_content(part)) for part in split_text(message.text)] if message.text else []
    intro, question = split_question(message.text)
    events = [OutEvent(ROOM_MESSAGE, text_content(part)) for part in split_text(intro)] if intro else []
    events.append(OutEvent(POLL_START, poll_content(question, buttons, message.multi)))
    return events


def split_question(text: str) -> tuple[str, str]:
    """(rest of the text, the line the poll asks): the last line with a question mark, else the first line.

    Element shows a poll question as a one-line heading without line breaks, so only that line goes into the
    poll; everything else (progress, hints, a privacy notice) stays a normal message above it.
    """
    lines = text.strip().split("\n")
    candidates = [i for i, line in enumerate(lines) if "?" in line and len(line.strip()) <= POLL_QUESTION_MAX]
    if not candidates:
        candidates = [i for i, line in enumerate(lines) if line.strip()][:1]
    if not candidates:
        return "", ""
    index = candidates[-1]
    question = lines[index].strip()
    if len(question) > POLL_QUESTION_MAX:
        return text.strip(), question[: POLL_QUESTION_MAX - 1] + "…"
    rest = "\n".join(lines[:index] + lines[index + 1 :])
    return _BLANK_LINES.sub("\n\n", rest).strip(), question
