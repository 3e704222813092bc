"""Text preparation shared by training and classification: robust to odd input, identical in both."""

from __future__ import annotations

import re

DEFAULT_MAX_CHARS = 2000
_WHITESPACE = re.compile(r"\s+")
# German umlauts folded the way keyboards without them spell them, so "Straße", "Strasse" and "STRASSE" meet.
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})


def has_letters(text: str) -> bool:
    """True when the text holds at least one letter of any script (emoji, digits and punctuation do not count)."""
    return any(char.isalpha() for char in text)


def prepare(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """Make any input safe to classify: valid UTF-8, whitespace collapsed, NUL removed, capped at `max_chars`.

    The cap keeps latency bounded for pasted novels; the opening of a citizen's message carries its topic.
    """
    # Lone surrogates (e.g. from a terminal with a broken encoding) cannot be encoded for the embedder.
    clean = text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", " ")
    # Cap before collapsing whitespace too, so a 100 MB input is never scanned in full.
    clean = _WHITESPACE.sub(" ", clean[: max_chars * 2]).strip()
    return clean[:max_chars].rstrip()


def fold(text: str) -> str:
    """Lower-case and fold umlauts: the spelling-robust form the character n-grams are built from."""
    return text.lower().translate(_FOLD)
