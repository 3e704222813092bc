"""Variable names every analysis tool accepts: SPSS rules (the strictest), which R and pandas accept as well.

A name starts with a letter, holds only ASCII letters, digits and '_', is at most 64 bytes, does not end with '_'
(nor '.'), and is not one of SPSS's reserved words. Survey ids may start with a digit or contain '-', so they are
mapped; the codebook lists each variable's `question_id`, which makes the mapping visible.
"""

from __future__ import annotations

import re
import unicodedata

MAX_BYTES = 64
RESERVED = frozenset({"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"})
"""SPSS reserved words (compared case-insensitively)."""

_TRANSLITERATION = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_]+")
_REPEATED_UNDERSCORE = re.compile(r"_{2,}")


def _base(raw: str) -> str:
    text = unicodedata.normalize("NFKD", raw.translate(_TRANSLITERATION))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NOT_ALLOWED.sub("_", text)
    text = _REPEATED_UNDERSCORE.sub("_", text).strip("_")
    if not text:
        return "v"
    if not text[0].isalpha():
        text = "q_" + text
    if text.upper() in RESERVED:
        text += "_v"
    return text[:MAX_BYTES].rstrip("_")


def variable_name(raw: str, taken: set[str]) -> str:
    """A valid, unused variable name for `raw` (a question id, or id plus suffix); adds it to `taken`.

    Uniqueness is case-insensitive (SPSS and Excel do not tell `Q1` from `q1`); clashes get `_2`, `_3`, ….
    """
    base = _base(raw)
    folded = {name.lower() for name in taken}
    name = base
    number = 1
    while name.lower() in folded:
        number += 1
        suffix = f"_{number}"
        name = base[: MAX_BYTES - len(suffix)].rstrip("_") + suffix
    taken.add(name)
    return name


def is_valid(name: str) -> bool:
    """Whether `name` follows the rules above (for tests and writers' sanity checks)."""
    return (
        0 < len(name.encode()) <= MAX_BYTES
        and name.isascii()
        and name[0].isalpha()
        and re.fullmatch(r"[A-Za-z0-9_]+", name) is not None
        and not name.endswith(("_", "."))
        and name.upper() not in RESERVED
    )
