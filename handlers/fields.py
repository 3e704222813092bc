"""The strategy fields as the dialogue core sees them, made from the taxonomy file (`nlp/fields.yaml`)."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.events import FieldInfo
from nlp.fields import StrategyField, load_fields


def field_infos(fields: Sequence[StrategyField] | None = None) -> tuple[FieldInfo, ...]:
    """Key, names and the one-line summary of every field (default: the installed taxonomy)."""
    return tuple(
        FieldInfo(
            f.key,
            {"de": f.name_de, "en": f.name_en},
            {"de": summary(f.description_de), "en": summary(f.description_en)},
        )
        for f in (load_fields() if fields is None else fields)
    )


SUMMARY_LENGTH = 90


def summary(description: str) -> str:
    """What a citizen needs to pick the field, in one line: the examples after the description's colon
    ("Unterwegs in der Stadt: Bus, Schwebebahn …" → "Bus, Schwebebahn …"), shortened at a comma."""
    _, colon, rest = description.partition(":")
    text = " ".join((rest if colon and rest.strip() else description).split()).rstrip(".")
    if len(text) <= SUMMARY_LENGTH:
        return text
    cut = text[:SUMMARY_LENGTH].rsplit(",", 1)[0]
    return cut + " …"
