"""Telegram updates → `Inbound` events, pure (no I/O): what the channel stores for the dialogue core."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from telegram import Message, Update

from bot.channels.base import clean_inbound, text_event
from handlers.events import Inbound, InboundKind

CHANNEL = "telegram"

# Checked in this order: an animation message also carries `document`, a venue also carries `location`.
_MEDIA_ATTRIBUTES = (
    "sticker", "animation", "photo", "video", "video_note", "voice", "audio", "document",
    "venue", "location", "contact", "poll", "dice", "story",
)


@dataclass(frozen=True)
class Converted:
    """What became of one update: the event to store (if any) and the callback query to answer (if any)."""

    update_id: int
    event: Inbound | None
    callback_query_id: str | None = None


def _media_kind(message: Message) -> str:
    for attribute in _MEDIA_ATTRIBUTES:
        if getattr(message, attribute, None):
            return attribute
    return ""


def convert_update(update: Update, received_at: datetime) -> Converted:
    """Normalise one update (every text field cleaned, see `clean_inbound`); service messages and updates
    without a sender become no event (but are acked)."""
    converted = _convert(update, received_at)
    if converted.event is None:
        return converted
    return replace(converted, event=clean_inbound(converted.event))


def _convert(update: Update, received_at: datetime) -> Converted:
    """Normalise one update. Service messages and updates without a sender become no event (but are acked).

    In groups the group itself stands for the "citizen" (user id = chat id): no member id is stored, and a group
    never becomes anyone's contact chat. Only what addresses the bot there (text, a button, the bot being
    added) becomes an event, so member joins or edits do not each draw a reply.
    """
    uid = update.update_id
    event_id = str(uid)
    query = update.callback_query
    if query is not None:
        message = query.message
        if message is None or query.data is None:  # inline-mode or game callbacks: nothing for the dialogue
            return Converted(uid, None, query.id)
        chat_id, language = str(message.chat.id), query.from_user.language_code
        if message.chat.type != "private":
            return Converted(uid, Inbound(InboundKind.GROUP, CHANNEL, chat_id, chat_id, event_id, received_at,
                                          language_hint=language), query.id)
        return Converted(uid, Inbound(InboundKind.BUTTON, CHANNEL, str(query.from_user.id), chat_id, event_id,
                                      received_at, payload=query.data, message_ref=str(message.message_id),
                                      language_hint=language), query.id)
    edited = update.edited_message is not None
    message = update.message or update.edited_message
    if message is None:
        return Converted(uid, None)
    sender, chat_id = message.from_user, str(message.chat.id)
    language = sender.language_code if sender is not None else None
    # The text travels along for the core's crisis-phrase check; the inbox drops it once processed.
    written = message.text or message.caption or ""
    if message.chat.type != "private":
        added = any(member.is_bot for member in message.new_chat_members)
        if edited or not (written or added):
            return Converted(uid, None)
        return Converted(uid, Inbound(InboundKind.GROUP, CHANNEL, chat_id, chat_id, event_id, received_at,
                                      text=written, language_hint=language))
    if sender is None:
        return Converted(uid, None)
    user_id = str(sender.id)
    if edited:
        return Converted(uid, Inbound(InboundKind.EDITED, CHANNEL, user_id, chat_id, event_id, received_at,
                                      text=written, language_hint=language))
    if message.text is not None:
        return Converted(uid, text_event(CHANNEL, user_id, chat_id, event_id, message.text, received_at, language))
    media = _media_kind(message)
    if media:
        # A caption ("Schlagloch vor Hausnummer 3") is the citizen's words: the core reads it as text.
        return Converted(uid, Inbound(InboundKind.MEDIA, CHANNEL, user_id, chat_id, event_id, received_at,
                                      text=message.caption or "", media=media, language_hint=language))
    return Converted(uid, None)
