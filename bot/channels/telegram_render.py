"""`Outbound` → what the Bot API accepts: texts split within Telegram's limits, buttons as inline keyboards."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.events import Outbound

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (characters outside the BMP count twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The largest number of code points from the start of `text` whose UTF-16 length is ≤ `limit`."""
    head = text[:limit]
    if utf16_len(head) == len(head):  # no characters outside the BMP: code points are code units
        return len(head)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split `text` into parts of ≤ `limit` UTF-16 units, preferring paragraph, then line, then word breaks.

    A boundary is used if it keeps at least half of the possible part; separators at a split are dropped.
    """
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = _fitting_prefix(rest, limit)
        best: tuple[int, int] | None = None
        for separator in ("\n\n", "\n", " "):
            # the separator may start exactly at `cut` (the part then fills the limit completely)
            index = rest.rfind(separator, 0, cut + len(separator))
            if index > 0 and (index >= cut // 2 or best is None):
                best = (index, len(separator))
                if index >= cut // 2:
                    break
        end, skip = best if best is not None else (max(cut, 1), 0)
        if rest[:end].strip():
            parts.append(rest[:end])
        rest = rest[end + skip :]
    if rest.strip() or not parts:
        parts.append(rest)
    return parts


def keyboard(message: Outbound) -> InlineKeyboardMarkup | None:
    """The message's buttons as an inline keyboard (payloads are ≤ 64 bytes by construction)."""
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload) for b in row] for row in message.buttons]
    )
