"""A strict, in-process stand-in for the Telegram Bot API, for end-to-end tests and benchmarks.

It speaks the real wire protocol on 127.0.0.1, so python-telegram-bot's own HTTP layer is exercised, and it
refuses what Telegram refuses, with Telegram's status codes and descriptions: a bot that passes here should not
fail against api.telegram.org for a protocol reason. Simulated citizens act through ``send_text`` and friends;
tests read what the bot did through ``messages_to``, ``calls`` and the webhook counters.

Deliberate differences from Telegram, because tests run without a network:

* a webhook must point to a loopback address; plain http and any port are accepted there;
* documents given by URL cannot be fetched and are refused;
* only the methods in ``TelegramApiServer.METHODS`` exist. Any other method answers 404 like an unknown one, so a
  bot that starts using a new method fails loudly until this server learns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import mimetypes
import re
import secrets
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = [
    "ApiCall",
    "CallbackQueryRecord",
    "SentDocument",
    "SentMessage",
    "SimulationError",
    "TelegramApiServer",
    "UploadedFile",
    "User",
    "WebhookAttempt",
    "parse_formatted_text",
    "utf16_len",
]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
LONG_POLL_MAX_SECONDS = 50.0
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
TERMINATED = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)
# Telegram leaves these out unless a bot asks for them explicitly.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay",
)
COMMAND_SCOPES = frozenset(
    {"default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat", "chat_administrators",
     "chat_member"}
)
_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_USER_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SimulationError(AssertionError):
    """A test asked a simulated citizen to do something no Telegram client allows."""


class _ApiError(Exception):
    """An error answer of the Bot API (status code, description, optional retry_after)."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------------------------
# Formatted text: Telegram measures and offsets text in UTF-16 code units after removing the markup.


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and entity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _entities_error(detail: str) -> _ApiError:
    return _bad(f"can't parse entities: {detail}")


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.offset += utf16_len(chunk)

    def close(self, kind: str, start: int, **extra: Any) -> None:
        if self.offset > start:  # Telegram drops empty entities
            self.entities.append({"type": kind, "offset": start, "length": self.offset - start, **extra})

    def build(self) -> tuple[str, list[dict[str, Any]]]:
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
    "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY_RE = re.compile(r"&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,8})|([a-zA-Z]+));")
_ATTR_RE = re.compile(r"""\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")


def _decode_html_entity(match: re.Match[str]) -> str | None:
    if match.group(3) is not None:
        return _HTML_NAMED.get(match.group(3))  # other named entities stay literal text, as in Telegram
    code = int(match.group(1)) if match.group(1) is not None else int(match.group(2), 16)
    if code <= 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, str | None, dict[str, Any]]] = []
    i = 0
    while i < len(text):
        special = min((p for p in (text.find("<", i), text.find("&", i)) if p >= 0), default=len(text))
        if special > i:
            out.add(text[i:special])
            i = special
            continue
        if text[i] == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            decoded = _decode_html_entity(match) if match else None
            out.add(decoded if decoded is not None else "&")
            i = match.end() if match and decoded is not None else i + 1
            continue
        # Like Telegram: the tag name runs to whitespace or ">", so "3 < 4" is an empty, unsupported tag.
        offset = _byte_offset(text, i)
        closing = text.startswith("/", i + 1)
        name_end = i + 1 + closing
        while name_end < len(text) and not text[name_end].isspace() and text[name_end] != ">":
            name_end += 1
        if name_end >= len(text):
            raise _entities_error(f"Unclosed {'end' if closing else 'start'} tag at byte offset {offset}")
        name = text[i + 1 + closing : name_end].lower()
        if not closing and name not in _HTML_TAGS:
            raise _entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
        end = text.find(">", name_end)
        if end < 0 or (closing and text[name_end:end].strip()):
            raise _entities_error(f"Unclosed {'end' if closing else 'start'} tag at byte offset {offset}")
        if closing:
            if not stack:
                raise _entities_error(f"Unexpected end tag at byte offset {offset}")
            tag, start, kind, extra = stack.pop()
            if name != tag:
                raise _entities_error(
                    f'Unmatched end tag at byte offset {offset}, expected "</{tag}>", found "</{name}>"'
                )
            if kind is not None:
                out.close(kind, start, **extra)
        else:
            stack.append(_open_html_tag(name, text[name_end:end], offset, out.offset, stack))
        i = end + 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.build()


def _open_html_tag(
    name: str, attributes: str, byte_offset: int, start: int,
    stack: list[tuple[str, int, str | None, dict[str, Any]]],
) -> tuple[str, int, str | None, dict[str, Any]]:
    attrs: dict[str, str] = {}
    for attr in _ATTR_RE.finditer(attributes):
        value = next((g for g in attr.groups()[1:] if g is not None), "")
        attrs[attr.group(1).lower()] = html.unescape(value)
    kind: str | None = _HTML_TAGS[name]
    extra: dict[str, Any] = {}
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _entities_error(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}')
    if name == "a":
        kind, extra = ("text_link", {"url": attrs["href"]}) if attrs.get("href") else (None, {})
    elif name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "").startswith("language-"):
        stack[-1][3]["language"] = attrs["class"].removeprefix("language-")
        kind = None  # <pre><code class="language-x"> is one pre entity with a language
    elif name == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    elif name == "tg-emoji":
        if not attrs.get("emoji-id"):
            raise _entities_error(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {byte_offset}')
        extra = {"custom_emoji_id": attrs["emoji-id"]}
    return name, start, kind, extra


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}
_MDV2_MARKERS = {"bold": "*", "italic": "_", "underline": "__", "strikethrough": "~", "spoiler": "||"}


def _escapable(text: str, index: int) -> bool:
    return index < len(text) and 0 < ord(text[index]) <= 126


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # entity kind, start (UTF-16), index of its opening marker
    quote: int | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and _escapable(text, i + 1):
            out.add(text[i + 1])
            i += 2
            continue
        if ch == "\n" and quote is not None and not text.startswith(">", i + 1):
            out.close("blockquote", quote)
            quote = None
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            quote = out.offset if quote is None else quote
            i += 1
            continue
        if ch not in _MDV2_RESERVED:
            out.add(ch)
            i += 1
            continue
        if ch == "`":
            i = _markdown_v2_code(text, i, out)
            continue
        top = stack[-1][0] if stack else None
        # Only the innermost entity can end here; for "___" that is the italic one, then the underline.
        closing = _MDV2_MARKERS.get(top or "")
        if closing is not None and text.startswith(closing, i):
            kind, start, _ = stack.pop()
            out.close(kind, start)
            i += len(closing)
            continue
        if ch == "]" and top in ("text_link", "custom_emoji"):
            kind, start, _ = stack.pop()
            i += 1
            if text.startswith("(", i):
                url, i = _markdown_v2_url(text, i + 1)
                extra = {"custom_emoji_id": url.rpartition("id=")[2]} if kind == "custom_emoji" else {"url": url}
                out.close(kind, start, **extra)
            continue
        opener = _markdown_v2_opener(text, i)
        if opener is None:
            raise _entities_error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        kind, width = opener
        stack.append((kind, out.offset, i))
        i += width
    if quote is not None:
        out.close("blockquote", quote)
    if stack:
        kind, _, begin = stack[-1]
        name = _MDV2_NAMES[kind]
        raise _entities_error(f"Can't find end of {name} entity at byte offset {_byte_offset(text, begin)}")
    return out.build()


def _markdown_v2_opener(text: str, i: int) -> tuple[str, int] | None:
    for prefix, kind in (("__", "underline"), ("_", "italic"), ("*", "bold"), ("~", "strikethrough"),
                         ("||", "spoiler"), ("[", "text_link"), ("![", "custom_emoji")):
        if text.startswith(prefix, i):
            return kind, len(prefix)
    return None


def _markdown_v2_code(text: str, i: int, out: _TextBuilder) -> int:
    fence = text.startswith("```", i)
    marker = "```" if fence else "`"
    j = i + len(marker)
    chunk: list[str] = []
    while j < len(text) and not text.startswith(marker, j):
        if text[j] == "\\" and _escapable(text, j + 1):
            chunk.append(text[j + 1])
            j += 2
        else:
            chunk.append(text[j])
            j += 1
    if j >= len(text):
        name = "Pre" if fence else "Code"
        raise _entities_error(f"Can't find end of {name} entity at byte offset {_byte_offset(text, i)}")
    content = "".join(chunk)
    start = out.offset
    if fence:
        first, newline, rest = content.partition("\n")
        language = first if newline and first and not any(c.isspace() for c in first) else None
        out.add(rest if language else content)
        out.close("pre", start, **({"language": language} if language else {}))
    else:
        out.add(content)
        out.close("code", start)
    return j + len(marker)


def _markdown_v2_url(text: str, j: int) -> tuple[str, int]:
    chars: list[str] = []
    k = j
    while k < len(text):
        if text[k] == "\\" and _escapable(text, k + 1):
            chars.append(text[k + 1])
            k += 2
        elif text[k] == ")":
            return "".join(chars), k + 1
        else:
            chars.append(text[k])
            k += 1
    raise _entities_error(f"Can't find end of a URL at byte offset {_byte_offset(text, j)}")


def _parse_markdown_legacy(text: str) -> tuple[str, list[dict[str, Any]]]:
    out = _TextBuilder()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        missing = _entities_error(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
        start = out.offset
        if ch == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if end < 0:
                raise missing
            out.add(text[i + 1 : close])
            out.close("text_link", start, url=text[close + 2 : end])
            i = end + 1
            continue
        marker = "```" if text.startswith("```", i) else ch
        end = text.find(marker, i + len(marker))
        if end < 0:
            raise missing
        out.add(text[i + len(marker) : end])
        out.close({"*": "bold", "_": "italic", "`": "code", "```": "pre"}[marker], start)
        i = end + len(marker)
    return out.build()


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram does, keeping entity offsets right."""
    left = text.lstrip()
    lead = utf16_len(text) - utf16_len(left)
    result = left.rstrip()
    total = utf16_len(result)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return result, kept


def parse_formatted_text(
    text: str, parse_mode: str | None = None, entities: list[dict[str, Any]] | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities as Telegram stores them (markup removed, whitespace trimmed); raises on bad markup."""
    if entities is not None:
        return _strip(text, [e for e in entities if isinstance(e, dict)])
    mode = (parse_mode or "").lower()
    parsers = {"": lambda t: (t, []), "html": _parse_html, "markdownv2": _parse_markdown_v2,
               "markdown": _parse_markdown_legacy}
    if mode not in parsers:
        raise _bad("unsupported parse_mode")
    return _strip(*parsers[mode](text))


def _command_entities(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        for m in _USER_COMMAND_RE.finditer(text)
    ]


# --------------------------------------------------------------------------------------------------------------
# What tests see.


@dataclass(frozen=True)
class User:
    """A simulated citizen; in their private chat with the bot, chat id == user id."""

    id: int
    first_name: str = "Erika"
    language_code: str | None = "de"
    last_name: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart request."""

    file_name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class SentDocument:
    """A document the bot sent, with the bytes that arrived."""

    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    content: bytes


@dataclass(eq=False)
class SentMessage:
    """A message the bot sent, in its current state: edits are applied in place, deletion sets ``deleted``."""

    message_id: int
    chat_id: int
    date: int
    text: str | None = None  # as the citizen sees it: markup removed, whitespace trimmed
    entities: list[dict[str, Any]] = field(default_factory=list)
    raw_text: str | None = None  # as the bot sent it
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    document: SentDocument | None = None
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    edit_count: int = 0
    edit_date: int | None = None
    previous_texts: list[str | None] = field(default_factory=list)
    deleted: bool = False

    @property
    def inline_buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    @property
    def button_labels(self) -> list[str]:
        return [str(button["text"]) for button in self.inline_buttons]

    def callback_data(self, label: str) -> str:
        """The callback_data of the inline button labelled ``label``."""
        for button in self.inline_buttons:
            if button.get("text") == label and "callback_data" in button:
                return str(button["callback_data"])
        raise SimulationError(f"message {self.message_id} has no button {label!r}; it has {self.button_labels}")


@dataclass(eq=False)
class ApiCall:
    """One Bot API request as the server saw it; ``result``/``description`` are filled in when it completes."""

    method: str  # canonical spelling, e.g. "sendMessage"
    params: dict[str, Any]  # as received: form values are strings, nested objects JSON strings
    files: dict[str, UploadedFile]
    time: float  # unix time of arrival
    status: int | None = None
    result: Any = None
    description: str | None = None
    duration: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def param_json(self, name: str) -> Any:
        """A parameter decoded from JSON when it arrived as a JSON string (reply_markup, commands, ...)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value


@dataclass(eq=False)
class CallbackQueryRecord:
    """A button press and whether the bot answered it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float  # time.monotonic()
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False


@dataclass(eq=False)
class WebhookAttempt:
    update_id: int
    time: float
    status: int | None = None
    error: str | None = None


@dataclass(eq=False)
class _Pending:
    update: dict[str, Any]
    attempts: int = 0


@dataclass
class _Chat:
    id: int
    type: str  # "private" or "group"
    user: User | None = None
    title: str | None = None
    bot_is_member: bool = True
    last_message_id: int = 0
    bot_messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)

    def next_message_id(self) -> int:
        # Citizen and bot messages share one counter per chat, as in Telegram's private chats.
        self.last_message_id += 1
        return self.last_message_id

    def to_dict(self) -> dict[str, Any]:
        if self.user is not None and self.type == "private":
            data = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            for key in ("last_name", "username"):
                if getattr(self.user, key) is not None:
                    data[key] = getattr(self.user, key)
            return data
        return {"id": self.id, "type": self.type, "title": self.title}


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None


@dataclass(eq=False)
class _Poll:
    terminated: bool = False


@dataclass(frozen=True)
class _Described:
    """A success whose answer also carries a description (setWebhook/deleteWebhook do)."""

    result: Any
    description: str


@dataclass(eq=False)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


class _TokenBucket:
    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = capacity
        self.stamp = time.monotonic()

    def wait_needed(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


class _Params:
    """Request parameters from any transport, read the lenient way the Bot API reads them."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        raise _bad(f'field "{name}" must be a valid Number')

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f'field "{name}" must be a valid Number') from None

    def flag(self, name: str) -> bool:
        return self.values.get(name) in (True, 1, "true", "True", "1")

    def json(self, name: str, error: str) -> Any:
        value = self.values.get(name)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error) from None

    def upload(self, name: str) -> UploadedFile | str | None:
        if name in self.files:
            return self.files[name]
        value = self.text(name)
        if value and value.startswith("attach://"):
            attached = self.files.get(value.removeprefix("attach://"))
            if attached is None:
                raise _bad(f'can\'t find attached file "{value}"')
            return attached
        return value or None


_Handler = Callable[[_Params], Awaitable[Any]]


def _now() -> int:
    return int(time.time())


# --------------------------------------------------------------------------------------------------------------
# The server.


class TelegramApiServer:
    """Bot API server for one bot, with simulated citizens and fault injection; see the module docstring."""

    METHODS: tuple[str, ...] = (
        "getMe", "getUpdates", "sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup",
        "deleteMessage", "answerCallbackQuery", "setMyCommands", "getMyCommands", "deleteMyCommands",
        "setWebhook", "deleteWebhook", "getWebhookInfo", "sendChatAction", "leaveChat", "getFile",
    )

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        latency: float = 0.0,
        bot_username: str = "stadtdialog_test_bot",
        bot_first_name: str = "Stadtdialog Test",
        enforce_rate_limits: bool = False,
        overall_rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: float = 3.0,
        callback_query_ttl: float = 900.0,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 10.0,
    ) -> None:
        if not _TOKEN_RE.fullmatch(token):
            raise ValueError(f"not a Bot API token: {token!r}")
        self.token = token
        self.latency = latency  # seconds added to every answer
        self.bot_id = int(token.partition(":")[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.enforce_rate_limits = enforce_rate_limits
        self.overall_rate = overall_rate  # messages/s across chats (bucket of one second's worth)
        self.chat_rate = chat_rate  # messages/s per private chat (bucket of `chat_burst`)
        self.chat_burst = chat_burst
        self.http_429 = 0  # flood errors answered because of the enforced limits (not injected ones)
        self.callback_query_ttl = callback_query_ttl
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self.group_chat_id = -400_000_001
        self.url = ""
        self.calls: list[ApiCall] = []
        self.callback_queries: list[CallbackQueryRecord] = []
        self.webhook_attempts: list[WebhookAttempt] = []
        self.webhook_deliveries = 0  # updates confirmed by a 2xx answer
        self.webhook_redeliveries = 0  # attempts for an update that had failed before
        self.webhook_failures = 0  # attempts answered non-2xx or not at all
        self.confirmed_update_ids: list[int] = []  # no longer pending (confirmed by offset/2xx, or forgotten)
        self.dropped_update_ids: list[int] = []  # never queued: excluded by allowed_updates
        self._users: dict[int, User] = {}
        self._chats: dict[int, _Chat] = {}
        self._blocked: set[int] = set()
        self._deactivated: set[int] = set()
        self._seen_in_groups: set[int] = set()
        self._queue: list[_Pending] = []
        self._next_update_id = 100_001
        self._user_ids = itertools.count(1_000_001)
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._callbacks: dict[str, CallbackQueryRecord] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._allowed_updates: frozenset[str] | None = None
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._poller: _Poll | None = None
        self._faults: dict[str, deque[_ApiError]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._buckets: dict[object, _TokenBucket] = {}
        self._wakeup = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()))
            for name in self.METHODS
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 at a free port; ``url``, ``base_url`` and ``base_file_url`` are set afterwards."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._closing = False

    async def stop(self) -> None:
        """Answer waiting long polls, stop webhook delivery and close the listening socket."""
        self._closing = True
        self._changed()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``telegram.Bot(token, base_url=...)``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``telegram.Bot(token, base_file_url=...)``."""
        return f"{self.url}/file/bot"

    # -- simulated citizens ------------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int | None = None,
        *,
        first_name: str = "Erika",
        language_code: str | None = "de",
        last_name: str | None = None,
        username: str | None = None,
    ) -> User:
        """A new citizen who has not written to the bot yet (so the bot cannot message them yet)."""
        if user_id is None:
            user_id = next(uid for uid in self._user_ids if uid not in self._users)
        if user_id <= 0 or user_id in self._users:
            raise SimulationError(f"user id {user_id} is taken or invalid")
        user = User(user_id, first_name, language_code, last_name, username)
        self._users[user_id] = user
        return user

    def send_text(self, user: User, text: str, *, reply_to_message_id: int | None = None) -> int:
        """The citizen writes ``text`` in their private chat; commands carry bot_command entities."""
        if not text.strip() or utf16_len(text) > MAX_TEXT_LENGTH:
            raise SimulationError("Telegram clients send 1-4096 characters of non-blank text")
        content: dict[str, Any] = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        return self._user_writes(user, content, reply_to_message_id)

    def send_sticker(self, user: User, *, emoji: str = "👍") -> int:
        file_id, unique_id = self._store_file("stickers", ".webp", b"RIFF\x1a\x00\x00\x00WEBPVP8 fake")
        sticker = {"file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": 512, "height": 512,
                   "is_animated": False, "is_video": False, "emoji": emoji, "file_size": 20}
        return self._user_writes(user, {"sticker": sticker})

    def send_photo(
        self, user: User, *, caption: str | None = None, content: bytes = b"\xff\xd8\xff\xe0fake-jpeg"
    ) -> int:
        sizes = []
        for width, height in ((90, 67), (800, 600)):
            file_id, unique_id = self._store_file("photos", ".jpg", content)
            sizes.append({"file_id": file_id, "file_unique_id": unique_id, "width": width, "height": height,
                          "file_size": len(content)})
        return self._user_writes(user, {"photo": sizes, **({"caption": caption} if caption else {})})

    def send_voice(self, user: User, *, duration: int = 3, content: bytes = b"OggS\x00fake-voice") -> int:
        file_id, unique_id = self._store_file("voice", ".oga", content)
        voice = {"file_id": file_id, "file_unique_id": unique_id, "duration": duration, "mime_type": "audio/ogg",
                 "file_size": len(content)}
        return self._user_writes(user, {"voice": voice})

    def send_document(
        self,
        user: User,
        *,
        file_name: str = "anhang.pdf",
        content: bytes = b"%PDF-1.4\n% test document\n",
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> int:
        file_id, unique_id = self._store_file("documents", "." + file_name.rpartition(".")[2], content)
        document = {"file_id": file_id, "file_unique_id": unique_id, "file_name": file_name,
                    "mime_type": mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream",
                    "file_size": len(content)}
        return self._user_writes(user, {"document": document, **({"caption": caption} if caption else {})})

    def edit_text(self, user: User, message_id: int, text: str) -> int:
        """The citizen edits one of their own text messages: an edited_message update."""
        chat = self._chat_of(user)
        message = chat.user_messages.get(message_id)
        if message is None or "text" not in message:
            raise SimulationError(f"{user.first_name} has no text message {message_id} to edit")
        if message["text"] == text or not text.strip():
            raise SimulationError("Telegram clients only send edits that change the text to a non-blank one")
        message["text"] = text
        message["edit_date"] = _now()
        message.pop("entities", None)
        if entities := _command_entities(text):
            message["entities"] = entities
        return self._enqueue("edited_message", dict(message))

    def press(self, user: User, message_id: int, callback_data: str) -> int:
        """The citizen taps an inline button; the button must be on that bot message right now."""
        chat = self._chat_of(user)
        message = chat.bot_messages.get(message_id)
        if message is None or message.deleted:
            raise SimulationError(f"there is no bot message {message_id} in the chat with {user.first_name}")
        available = [b.get("callback_data") for b in message.inline_buttons]
        if callback_data not in available:
            raise SimulationError(f"message {message_id} has no button with callback_data {callback_data!r}; "
                                  f"it has {available}")
        return self._callback(user, message_id, callback_data)

    def press_forged(self, user: User, message_id: int, callback_data: str) -> int:
        """A modified client sends callback data no button of that message carries (Telegram passes it on
        unchecked, so the bot must not trust it)."""
        chat = self._chat_of(user)
        if message_id not in chat.bot_messages:
            raise SimulationError(f"there is no bot message {message_id} in the chat with {user.first_name}")
        return self._callback(user, message_id, callback_data)

    def _callback(self, user: User, message_id: int, callback_data: str) -> int:
        chat = self._chat_of(user)
        message = chat.bot_messages[message_id]
        query = CallbackQueryRecord(id=f"{user.id}{next(self._callback_counter):010d}", user_id=user.id,
                                    chat_id=chat.id, message_id=message_id, data=callback_data,
                                    created=time.monotonic())
        self._callbacks[query.id] = query
        self.callback_queries.append(query)
        return self._enqueue("callback_query", {
            "id": query.id, "from": user.to_dict(), "message": self._bot_message_json(chat, message),
            "chat_instance": str(abs(hash((self.bot_id, chat.id)))), "data": callback_data,
        })

    def send_group_text(self, user: User, text: str, *, chat_id: int | None = None,
                        title: str = "Stadtdialog Testgruppe") -> int:
        """The citizen writes in a group the bot is in (negative chat id, ``group_chat_id`` by default)."""
        group_id = self.group_chat_id if chat_id is None else chat_id
        if group_id >= 0:
            raise SimulationError("group chat ids are negative")
        self._require_user(user)
        chat = self._chats.setdefault(group_id, _Chat(group_id, "group", title=title))
        if not chat.bot_is_member:
            raise SimulationError("the bot left this group; it receives nothing from it")
        self._seen_in_groups.add(user.id)
        content: dict[str, Any] = {"text": text}
        if entities := _command_entities(text):
            content["entities"] = entities
        return self._enqueue("message", self._new_user_message(chat, user, content))

    def deliver_raw(self, update: dict[str, Any]) -> int:
        """Queue an update as given, e.g. again with the same update_id (a duplicate delivery).

        By polling it only reaches a bot whose offset has not passed it (Telegram's guarantee); by webhook always.
        """
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            raise SimulationError("an update needs an integer update_id")
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._queue.append(_Pending(json.loads(json.dumps(update))))
        self._changed()
        return update_id

    def block(self, user: User) -> int | None:
        """The citizen blocks the bot: sends fail with 403 and the bot gets a my_chat_member update."""
        self._require_user(user)
        self._blocked.add(user.id)
        return self._member_update(user, "member", "kicked")

    def deactivate(self, user: User) -> None:
        """The citizen deleted their Telegram account: sends fail with 403 "user is deactivated"."""
        self._require_user(user)
        self._deactivated.add(user.id)

    def open_chat(self, user: User) -> None:
        """The citizen wrote to the bot long ago (the bot may message them); no update is queued for it."""
        self._require_user(user)
        self._chats.setdefault(user.id, _Chat(user.id, "private", user=user))

    def unblock(self, user: User) -> int | None:
        self._blocked.discard(user.id)
        return self._member_update(user, "kicked", "member")

    # -- what the bot did --------------------------------------------------------------------------------------

    def messages_to(self, chat: User | int) -> list[SentMessage]:
        """The bot's messages in that chat (a citizen's private chat, or a group id), oldest first, live objects."""
        found = self._chats.get(chat.id if isinstance(chat, User) else chat)
        if found is None:
            return []
        return [m for _, m in sorted(found.bot_messages.items()) if not m.deleted]

    def history(self, chat: User | int) -> list[dict[str, Any]]:
        """Both sides of a chat as Telegram Message objects, in message_id order (handy when a test fails)."""
        found = self._chats.get(chat.id if isinstance(chat, User) else chat)
        if found is None:
            return []
        messages = {mid: self._bot_message_json(found, m) for mid, m in found.bot_messages.items() if not m.deleted}
        messages.update(found.user_messages)
        return [messages[mid] for mid in sorted(messages)]

    def chat_actions(self, chat: User | int) -> list[str]:
        found = self._chats.get(chat.id if isinstance(chat, User) else chat)
        return list(found.actions) if found else []

    def unanswered_callbacks(self) -> list[CallbackQueryRecord]:
        return [query for query in self.callback_queries if not query.answered]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def pending_updates(self) -> list[dict[str, Any]]:
        return [item.update for item in self._queue]

    def is_confirmed(self, update_id: int) -> bool:
        return update_id in self.confirmed_update_ids

    def bot_commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, str]]:
        return list(self._commands.get((_scope_key(scope or {"type": "default"}), language_code), []))

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s: {getattr(predicate, '__name__', '')}")
            await asyncio.sleep(0.01)

    async def wait_for_messages(self, chat: User | int, count: int, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages to that chat; returns them all."""
        try:
            await self.wait_for(lambda: len(self.messages_to(chat)) >= count, timeout)
        except TimeoutError:
            texts = [m.text for m in self.messages_to(chat)]
            raise TimeoutError(f"expected {count} bot messages within {timeout} s, got {texts}") from None
        return self.messages_to(chat)

    # -- fault injection ---------------------------------------------------------------------------------------

    def fail_next(self, method: str, *, status: int = 429, retry_after: int | None = 1,
                  description: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail with ``status`` without being carried out."""
        if description is None:
            description = HTTPStatus(status).phrase
            if status == 429 and retry_after is not None:
                description += f": retry after {retry_after}"
        error = _ApiError(status, description, retry_after if status == 429 else None)
        self._faults.setdefault(self._known(method), deque()).extend([error] * times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` wait ``seconds`` first. A client that gives up meanwhile gets
        a timeout, but the call is still carried out afterwards, as can happen with Telegram."""
        self._delays.setdefault(self._known(method), deque()).extend([seconds] * times)

    # -- HTTP --------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        if tail.startswith("file/bot"):
            return self._serve_file(tail.removeprefix("file/bot"))
        match = re.fullmatch(r"bot([^/]*)/([^/]+)", tail)
        if match is None:
            return web.json_response(_ApiError(404, "Not Found").payload(), status=404)
        try:
            values, files = await self._read_params(request)
        except _ApiError as exc:
            return web.json_response(exc.payload(), status=exc.status)
        status, payload = await self._call(match.group(2), values, files, token=match.group(1))
        return web.json_response(payload, status=status)

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if not request.body_exists:
            return values, files
        try:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise _bad("can't parse JSON object")
                values.update(body)
            elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                for key, value in (await request.post()).items():
                    if isinstance(value, web.FileField):
                        files[key] = UploadedFile(value.filename or key, value.content_type, value.file.read())
                    else:
                        values[key] = value.decode() if isinstance(value, bytes | bytearray) else value
        except web.HTTPRequestEntityTooLarge:
            raise _ApiError(413, "Request Entity Too Large") from None
        except ValueError:
            raise _bad("can't parse request body") from None
        return values, files

    async def _call(self, method: str, values: dict[str, Any], files: dict[str, UploadedFile], *,
                    token: str) -> tuple[int, dict[str, Any]]:
        entry = self._methods.get(method.lower())
        call = ApiCall(entry[0] if entry else method, values, files, time.time())
        self.calls.append(call)
        started = time.monotonic()
        try:
            if token != self.token:
                # Telegram: 401 for a well-formed but wrong token, 404 for anything else.
                raise _ApiError(401, "Unauthorized") if _TOKEN_RE.fullmatch(token) else _ApiError(404, "Not Found")
            if entry is None:
                raise _ApiError(404, "Not Found")
            if delays := self._delays.get(method.lower()):
                await asyncio.sleep(delays.popleft())
            if faults := self._faults.get(method.lower()):
                raise faults.popleft()
            result = await entry[1](_Params(values, files))
            payload: dict[str, Any] = {"ok": True, "result": result}
            if isinstance(result, _Described):
                payload = {"ok": True, "result": result.result, "description": result.description}
            status = 200
        except _ApiError as exc:
            status, payload = exc.status, exc.payload()
        call.status, call.result, call.description = status, payload.get("result"), payload.get("description")
        call.duration = time.monotonic() - started
        self._changed()
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return status, payload

    def _serve_file(self, tail: str) -> web.Response:
        token, _, path = tail.partition("/")
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if token != self.token or stored is None:
            return web.json_response(_ApiError(404, "Not Found").payload(), status=404)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # -- state helpers -----------------------------------------------------------------------------------------

    def _changed(self) -> None:
        """Wake everyone waiting for news (long polls, webhook delivery)."""
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _known(self, method: str) -> str:
        if method.lower() not in self._methods:
            raise ValueError(f"unknown Bot API method {method!r}; known: {', '.join(self.METHODS)}")
        return method.lower()

    def _require_user(self, user: User) -> None:
        if self._users.get(user.id) != user:
            raise SimulationError(f"unknown user {user!r}; create citizens with add_user()")

    def _chat_of(self, user: User) -> _Chat:
        self._require_user(user)
        chat = self._chats.get(user.id)
        if chat is None:
            raise SimulationError(f"{user.first_name} has not written to the bot yet")
        return chat

    def _user_writes(self, user: User, content: dict[str, Any], reply_to_message_id: int | None = None) -> int:
        self._require_user(user)
        if user.id in self._blocked:
            raise SimulationError(f"{user.first_name} blocked the bot; unblock() first, as the client demands")
        chat = self._chats.setdefault(user.id, _Chat(user.id, "private", user=user))
        if reply_to_message_id is not None:
            replied = self._message_dict(chat, reply_to_message_id)
            if replied is None:
                raise SimulationError(f"no message {reply_to_message_id} to reply to")
            content = {**content, "reply_to_message": replied}
        return self._enqueue("message", self._new_user_message(chat, user, content))

    def _new_user_message(self, chat: _Chat, user: User, content: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": chat.next_message_id(), "from": user.to_dict(), "chat": chat.to_dict(),
                   "date": _now(), **content}
        chat.user_messages[message["message_id"]] = message
        return dict(message)

    def _message_dict(self, chat: _Chat, message_id: int) -> dict[str, Any] | None:
        if message_id in chat.user_messages:
            return dict(chat.user_messages[message_id])
        bot_message = chat.bot_messages.get(message_id)
        if bot_message is None or bot_message.deleted:
            return None
        return self._bot_message_json(chat, bot_message, nested=False)

    def _member_update(self, user: User, old: str, new: str) -> int | None:
        chat = self._chats.get(user.id)
        if chat is None:
            return None
        bot = self._bot_user()
        new_member: dict[str, Any] = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        return self._enqueue("my_chat_member", {
            "chat": chat.to_dict(), "from": user.to_dict(), "date": _now(),
            "old_chat_member": {"status": old, "user": bot}, "new_chat_member": new_member,
        })

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        wanted = self._allowed_updates
        if (kind not in wanted) if wanted is not None else (kind in NOT_SENT_BY_DEFAULT):
            self.dropped_update_ids.append(update_id)  # Telegram filters when an update is created
            return update_id
        self._queue.append(_Pending({"update_id": update_id, kind: payload}))
        self._changed()
        return update_id

    def _store_file(self, folder: str, suffix: str, content: bytes) -> tuple[str, str]:
        number = next(self._file_counter)
        stored = _StoredFile(file_id=f"BQACAgIAAx{number:06d}{secrets.token_hex(8)}",
                             file_unique_id=f"AgAD{number:06d}", file_path=f"{folder}/file_{number}{suffix}",
                             content=content)
        self._files[stored.file_id] = stored
        return stored.file_id, stored.file_unique_id

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name, "username": self.bot_username}

    def _bot_message_json(self, chat: _Chat, message: SentMessage, *, nested: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {"message_id": message.message_id, "from": self._bot_user(), "chat": chat.to_dict(),
                                "date": message.date}
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if nested and message.reply_to_message_id is not None:
            replied = self._message_dict(chat, message.reply_to_message_id)
            if replied is not None:
                replied.pop("reply_to_message", None)
                data["reply_to_message"] = replied
        if message.document is not None:
            doc = message.document
            data["document"] = {"file_id": doc.file_id, "file_unique_id": doc.file_unique_id,
                                "file_name": doc.file_name, "mime_type": doc.mime_type, "file_size": len(doc.content)}
            if message.caption:
                data["caption"] = message.caption
            if message.caption_entities:
                data["caption_entities"] = message.caption_entities
        else:
            data["text"] = message.text
            if message.entities:
                data["entities"] = message.entities
        if message.reply_markup is not None and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup  # only inline keyboards are part of a Message
        return data

    # -- validation shared by methods --------------------------------------------------------------------------

    @staticmethod
    def _chat_id(p: _Params) -> str:
        raw = p.text("chat_id")
        if raw is None or not raw.strip():
            raise _bad("chat_id is empty")
        return raw

    def _target_chat(self, p: _Params) -> _Chat:
        """The chat a method acts on, refused the way Telegram refuses it."""
        raw = self._chat_id(p)
        try:
            chat = self._chats.get(int(raw))
        except ValueError:
            chat = None  # "@channelusername": this server has no public chats
        if chat is None:
            if raw.strip().lstrip("-").isdigit() and int(raw) in self._seen_in_groups:
                raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
            raise _bad("chat not found")
        if chat.type == "private" and chat.id in self._deactivated:
            raise _ApiError(403, "Forbidden: user is deactivated")
        if chat.type == "private" and chat.id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if chat.type != "private" and not chat.bot_is_member:
            raise _ApiError(403, "Forbidden: bot is not a member of the group chat")
        return chat

    @staticmethod
    def _formatted(p: _Params, text_name: str, entities_name: str) -> tuple[str, list[dict[str, Any]]]:
        entities = p.json(entities_name, "can't parse entities JSON object")
        if entities is not None and not isinstance(entities, list):
            raise _bad("can't parse entities JSON object")
        return parse_formatted_text(p.text(text_name) or "", p.text("parse_mode"), entities)

    def _message_text(self, p: _Params) -> tuple[str, list[dict[str, Any]]]:
        if not p.text("text"):
            raise _bad("message text is empty")
        text, entities = self._formatted(p, "text", "entities")
        if not text:
            raise _bad("message text is empty")
        if utf16_len(text) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, entities

    def _reply_markup(self, p: _Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = p.json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays')
            for button in (b for row in rows for b in row):
                self._check_inline_button(button)
            # An empty inline keyboard is no keyboard; that matters for "message is not modified".
            return markup if any(rows) else None
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays')
            for button in (b for row in rows for b in row):
                label = button if isinstance(button, str) else button.get("text") if isinstance(button, dict) else None
                if not isinstance(label, str) or not label:
                    raise _bad("can't parse keyboard button: Field \"text\" must be of type String")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _check_inline_button(button: Any) -> None:
        if not isinstance(button, dict):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        if not isinstance(button.get("text"), str):
            raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        if not button["text"].strip():
            raise _bad("BUTTON_TEXT_INVALID")
        actions = [name for name in BUTTON_ACTIONS if name in button]
        if not actions:
            raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if len(actions) > 1:
            raise _bad(f"can't parse inline keyboard button: exactly one of {', '.join(actions)} must be used")
        data = button.get("callback_data")
        if "callback_data" in button and (
            not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES
        ):
            raise _bad("BUTTON_DATA_INVALID")
        url = button.get("url")
        if "url" in button and not (isinstance(url, str) and re.fullmatch(r"(?i)(https?|tg)://\S+", url)):
            raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")

    def _reply_to(self, chat: _Chat, p: _Params) -> int | None:
        parameters = p.json("reply_parameters", "can't parse reply parameters JSON object")
        allow_missing = p.flag("allow_sending_without_reply")
        if isinstance(parameters, dict):
            message_id = parameters.get("message_id")
            allow_missing = allow_missing or bool(parameters.get("allow_sending_without_reply"))
        elif parameters is not None:
            raise _bad("can't parse reply parameters JSON object")
        else:
            message_id = p.integer("reply_to_message_id")
        if message_id is None:
            return None
        if isinstance(message_id, int) and self._message_dict(chat, message_id) is not None:
            return message_id
        if allow_missing:
            return None
        raise _bad("message to be replied not found")

    def _check_rate(self, chat: _Chat) -> None:
        """Telegram's documented flood limits, only when ``enforce_rate_limits`` is on.

        Per private chat about 1 message/s (bursts of 3 pass), per group 20/minute, overall 30/s (the rates are
        settable). Excess is refused the way the Bot API refuses it: HTTP 429, ``"Too Many Requests: retry after
        N"`` and ``parameters.retry_after`` N (whole seconds, at least 1); ``http_429`` counts them."""
        if not self.enforce_rate_limits:
            return
        group = chat.type != "private"
        limits = {
            ("all",): (max(1.0, self.overall_rate), self.overall_rate),
            ("chat", chat.id): (20.0, 20 / 60) if group else (self.chat_burst, self.chat_rate),
        }
        buckets = [self._buckets.setdefault(key, _TokenBucket(*limit)) for key, limit in limits.items()]
        now = time.monotonic()
        wait = max(bucket.wait_needed(now) for bucket in buckets)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            self.http_429 += 1
            raise _ApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        for bucket in buckets:
            bucket.tokens -= 1

    def _edit_target(self, p: _Params) -> tuple[_Chat, SentMessage]:
        if p.text("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")  # the bot has no inline mode here
        self._chat_id(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        chat = self._target_chat(p)
        message = chat.bot_messages.get(message_id)
        if message is None or message.deleted:
            if message_id in chat.user_messages:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return chat, message

    # -- Bot API methods ---------------------------------------------------------------------------------------

    async def _get_me(self, p: _Params) -> dict[str, Any]:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    async def _get_updates(self, p: _Params) -> list[dict[str, Any]]:
        if self._webhook is not None:
            raise _ApiError(409, WEBHOOK_ACTIVE)
        offset = p.integer("offset") or 0
        raw_limit = p.integer("limit")
        limit = 100 if raw_limit is None else min(max(raw_limit, 1), 100)
        timeout = min(max(p.number("timeout") or 0.0, 0.0), LONG_POLL_MAX_SECONDS)
        allowed = p.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            self._allowed_updates = frozenset(map(str, allowed)) or None
        if self._poller is not None:  # the newer request wins; the waiting one is told why it lost
            self._poller.terminated = True
            self._changed()
        poll = self._poller = _Poll()
        self._confirm(offset)
        deadline = time.monotonic() + timeout
        try:
            while True:
                wakeup = self._wakeup
                if poll.terminated:
                    raise _ApiError(409, TERMINATED)
                if self._webhook is not None:
                    raise _ApiError(409, WEBHOOK_ACTIVE)
                batch = [item.update for item in self._queue if offset <= 0 or item.update["update_id"] >= offset]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._closing:
                    return batch[:limit]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), remaining)
        finally:
            if self._poller is poll:
                self._poller = None

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            gone = [item for item in self._queue if item.update["update_id"] < offset]
        elif offset < 0:  # keep the last -offset updates, forget all earlier ones
            gone = self._queue[: max(len(self._queue) + offset, 0)]
        else:
            return
        gone_ids = {id(item) for item in gone}
        self._queue = [item for item in self._queue if id(item) not in gone_ids]
        self.confirmed_update_ids.extend(item.update["update_id"] for item in gone)

    async def _send_message(self, p: _Params) -> dict[str, Any]:
        self._chat_id(p)
        text, entities = self._message_text(p)
        markup = self._reply_markup(p)
        chat = self._target_chat(p)
        reply_to = self._reply_to(chat, p)
        self._check_rate(chat)
        message = SentMessage(chat.next_message_id(), chat.id, _now(), text=text, entities=entities,
                              raw_text=p.text("text"), parse_mode=p.text("parse_mode"), reply_markup=markup,
                              reply_to_message_id=reply_to)
        chat.bot_messages[message.message_id] = message
        return self._bot_message_json(chat, message)

    async def _send_document(self, p: _Params) -> dict[str, Any]:
        self._chat_id(p)
        document = p.upload("document")
        if document is None:
            raise _bad("there is no document in the request")
        if isinstance(document, str):
            if re.match(r"(?i)https?://", document):
                raise _bad("failed to get HTTP URL content")  # no network in tests
            stored = self._files.get(document)
            if stored is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            name = stored.file_path.rpartition("/")[2]
            upload = UploadedFile(name, mimetypes.guess_type(name)[0] or "application/octet-stream", stored.content)
        else:
            upload = document
        if not upload.content:
            raise _bad("file must be non-empty")
        if len(upload.content) > MAX_UPLOAD_BYTES:
            raise _ApiError(413, "Request Entity Too Large")
        caption, caption_entities = self._formatted(p, "caption", "caption_entities")
        if utf16_len(caption) > MAX_CAPTION_LENGTH:
            raise _bad("message caption is too long")
        markup = self._reply_markup(p)
        chat = self._target_chat(p)
        reply_to = self._reply_to(chat, p)
        self._check_rate(chat)
        suffix = "." + upload.file_name.rpartition(".")[2] if "." in upload.file_name else ""
        file_id, unique_id = self._store_file("documents", suffix, upload.content)
        mime = upload.content_type
        if mime in ("", "application/octet-stream"):
            mime = mimetypes.guess_type(upload.file_name)[0] or "application/octet-stream"
        message = SentMessage(chat.next_message_id(), chat.id, _now(), reply_markup=markup,
                              reply_to_message_id=reply_to, caption=caption or None,
                              caption_entities=caption_entities, parse_mode=p.text("parse_mode"),
                              document=SentDocument(file_id, unique_id, upload.file_name, mime, upload.content))
        chat.bot_messages[message.message_id] = message
        return self._bot_message_json(chat, message)

    async def _edit_message_text(self, p: _Params) -> dict[str, Any]:
        text, entities = self._message_text(p)
        markup = self._reply_markup(p, inline_only=True)
        chat, message = self._edit_target(p)
        if message.document is not None:
            raise _bad("there is no text in the message to edit")
        # Telegram drops an inline keyboard that an edit does not repeat; so must we.
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise _ApiError(400, NOT_MODIFIED)
        self._check_rate(chat)
        message.previous_texts.append(message.text)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.raw_text, message.parse_mode = p.text("text"), p.text("parse_mode")
        message.edit_count += 1
        message.edit_date = _now()
        return self._bot_message_json(chat, message)

    async def _edit_message_reply_markup(self, p: _Params) -> dict[str, Any]:
        markup = self._reply_markup(p, inline_only=True)
        chat, message = self._edit_target(p)
        if markup == message.reply_markup:
            raise _ApiError(400, NOT_MODIFIED)
        self._check_rate(chat)
        message.reply_markup = markup
        message.edit_count += 1
        message.edit_date = _now()
        return self._bot_message_json(chat, message)

    async def _delete_message(self, p: _Params) -> bool:
        self._chat_id(p)
        message_id = p.integer("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        chat = self._target_chat(p)
        message = chat.bot_messages.get(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            return True
        if chat.user_messages.pop(message_id, None) is not None:
            return True
        raise _bad("message to delete not found")

    async def _answer_callback_query(self, p: _Params) -> bool:
        query = self._callbacks.get(p.text("callback_query_id") or "")
        if query is None or query.answered or time.monotonic() - query.created > self.callback_query_ttl:
            raise _ApiError(400, QUERY_TOO_OLD)
        text = p.text("text")
        if text is not None and utf16_len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        query.answered, query.answer_text, query.show_alert = True, text, p.flag("show_alert")
        return True

    def _command_key(self, p: _Params) -> tuple[str, str]:
        scope = p.json("scope", "can't parse BotCommandScope JSON object")
        scope = {"type": "default"} if scope is None else scope
        if not isinstance(scope, dict) or scope.get("type") not in COMMAND_SCOPES:
            raise _bad("unsupported bot command scope type")
        if scope["type"].startswith("chat"):
            try:
                chat_id = int(scope.get("chat_id", ""))
            except (TypeError, ValueError):
                raise _bad("chat not found") from None
            if chat_id not in self._chats:
                raise _bad("chat not found")
            scope = {**scope, "chat_id": chat_id}
        language = p.text("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return _scope_key(scope), language

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.json("commands", "can't parse commands JSON object")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        checked = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _BOT_COMMAND_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name, "description": description})
        key = self._command_key(p)
        if checked:
            self._commands[key] = checked
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, p: _Params) -> list[dict[str, str]]:
        return list(self._commands.get(self._command_key(p), []))

    async def _delete_my_commands(self, p: _Params) -> bool:
        self._commands.pop(self._command_key(p), None)
        return True

    async def _set_webhook(self, p: _Params) -> _Described:
        url = p.text("url") or ""
        if not url:
            return await self._delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.hostname not in _LOOPBACK_HOSTS:
            # Only loopback is reachable from the tests, and nothing else must ever be contacted.
            raise _bad("bad webhook: Failed to resolve host: Name or service not known")
        secret = p.text("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = p.json("allowed_updates", "can't parse allowed updates JSON object")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates JSON object")
            self._allowed_updates = frozenset(map(str, allowed)) or None
        max_connections = min(max(p.integer("max_connections") or 40, 1), 100)
        hook = _Webhook(url, secret, max_connections, p.text("ip_address"))
        already = self._webhook == hook
        self._webhook = hook
        if p.flag("drop_pending_updates"):
            self._drop_pending()
        self._webhook_last_error = None
        if self._webhook_task is None:
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhooks())
        self._changed()
        return _Described(True, "Webhook is already set" if already else "Webhook was set")

    async def _delete_webhook(self, p: _Params) -> _Described:
        was_set = self._webhook is not None
        self._webhook = None
        if p.flag("drop_pending_updates"):
            self._drop_pending()
        self._changed()
        return _Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _drop_pending(self) -> None:
        self.confirmed_update_ids.extend(item.update["update_id"] for item in self._queue)
        self._queue.clear()

    async def _get_webhook_info(self, p: _Params) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self._webhook.url if self._webhook else "", "has_custom_certificate": False,
                                "pending_update_count": len(self._queue)}
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _send_chat_action(self, p: _Params) -> bool:
        self._chat_id(p)
        action = p.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat = self._target_chat(p)
        chat.actions.append(action)
        return True

    async def _leave_chat(self, p: _Params) -> bool:
        raw = self._chat_id(p)
        chat = self._chats.get(int(raw)) if raw.strip().lstrip("-").isdigit() else None
        if chat is None:
            raise _bad("chat not found")
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        if not chat.bot_is_member:
            raise _ApiError(403, "Forbidden: bot is not a member of the group chat")
        chat.bot_is_member = False
        return True

    async def _get_file(self, p: _Params) -> dict[str, Any]:
        stored = self._files.get(p.text("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.content), "file_path": stored.file_path}

    # -- webhook delivery --------------------------------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        """Post pending updates one at a time, in order; keep an update until a 2xx answer confirms it."""
        failures = 0
        while True:
            hook = self._webhook
            if hook is None or self._closing:
                self._webhook_task = None
                return
            wakeup = self._wakeup
            if not self._queue:
                await wakeup.wait()
                continue
            if await self._post_update(hook, self._queue[0]):
                failures = 0
                continue
            failures += 1
            await asyncio.sleep(min(self.webhook_retry_delay * 2 ** (failures - 1), 10 * self.webhook_retry_delay))

    async def _post_update(self, hook: _Webhook, item: _Pending) -> bool:
        if item.attempts:
            self.webhook_redeliveries += 1
        item.attempts += 1
        attempt = WebhookAttempt(item.update["update_id"], time.time())
        self.webhook_attempts.append(attempt)
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers[SECRET_TOKEN_HEADER] = hook.secret_token
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.webhook_timeout))
        try:
            async with self._session.post(hook.url, data=json.dumps(item.update), headers=headers) as response:
                attempt.status = response.status
                body = await response.read()
                reason, content_type = response.reason, response.content_type
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            attempt.error = "Connection refused" if isinstance(exc, aiohttp.ClientConnectorError) else repr(exc)
        if attempt.status is None or not 200 <= attempt.status < 300:
            self.webhook_failures += 1
            message = attempt.error or f"Wrong response from the webhook: {attempt.status} {reason}"
            self._webhook_last_error = (_now(), message)
            return False
        if item in self._queue:
            self._queue.remove(item)
            self.confirmed_update_ids.append(item.update["update_id"])
        self.webhook_deliveries += 1
        self._changed()
        await self._webhook_reply(body, content_type)
        return True

    async def _webhook_reply(self, body: bytes, content_type: str) -> None:
        """A webhook answer may itself be a Bot API call ({"method": ..., ...}); Telegram performs it."""
        if content_type != "application/json" or not body:
            return
        with contextlib.suppress(ValueError):
            data = json.loads(body)
            if isinstance(data, dict) and isinstance(data.get("method"), str):
                params = {k: v for k, v in data.items() if k != "method"}
                await self._call(data["method"], params, {}, token=self.token)


def _scope_key(scope: dict[str, Any]) -> str:
    return json.dumps(scope, sort_keys=True)
