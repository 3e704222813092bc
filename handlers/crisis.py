"""Crisis phrases: a message that mentions suicide, self-harm or an emergency gets the emergency numbers at once.

The phrases live in `handlers/texts/crisis.yaml` (see the syntax there) and reach the core through the text
catalog as `crisis.phrases`. Phrases of every language are checked: a German citizen may write in English.
"""

from __future__ import annotations

import re

from handlers.events import Outbound, Texts
from surveys.engine import fold
from surveys.schema import LANGUAGES


def _pattern(phrase: str) -> str:
    """Regex for one phrase on folded text: whole words; `*` at the end allows any word ending."""
    prefix = phrase.endswith("*")
    words = fold(phrase.rstrip("*")).split()
    body = r"\s+".join(re.escape(word) for word in words)
    return rf"(?<!\w){body}" + (r"\w*" if prefix else r"(?!\w)")


def is_crisis(text: str, texts: Texts) -> bool:
    """Whether `text` contains a crisis phrase (phrases starting with "=" must be the whole message)."""
    typed = fold(text)
    if not typed:
        return False
    patterns: list[str] = []
    for lang in LANGUAGES:
        for phrase in texts.get("crisis.phrases", lang).splitlines():
            if phrase.startswith("="):
                if fold(phrase[1:]) == typed:
                    return True
            elif fold(phrase.rstrip("*")):
                patterns.append(_pattern(phrase))
    # `re` caches compiled patterns, so rebuilding the same alternation per event costs little.
    return re.search("|".join(patterns), typed) is not None if patterns else False


def crisis_reply(texts: Texts, lang: str) -> Outbound:
    """The emergency numbers and the note that nobody reads this chat live."""
    return Outbound(text=texts.get("crisis.reply", lang))
