"""Setting an idea's status: the city answers back (issue 12).

One call validates the change, stores it with its public note, appends it to the idea's history, and writes the
author's "idea_news" follow_ups row — due now; the running bot's core decides at delivery whether the author hears
it (the idea-news opt-in, /pause, /stop) and the claimer applies quiet hours and the daily cap. Nothing here sends.
Used by the staff chat (`bot.staffdesk.desk`) and the CLI (`stadtdialog idea status`), inside the caller's unit of
work; auditing is the caller's (`bot.staffdesk.audit`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from bot.analytics.pseudonyms import idea_pseudonym
from handlers import staff
from handlers.events import (
    IDEA_DONE,
    IDEA_NEW,
    IDEA_PLANNED,
    IDEA_REJECTED,
    IDEA_REVIEW,
    IDEA_STATUS_KIND,
    IDEA_STATUSES,
    NOTE_REQUIRED,
)
from handlers.turn import clip

if TYPE_CHECKING:
    from bot.storage.db import UnitOfWork

NOTE_MAX: Final = staff.NOTE_MAX
"""Longest public note (characters, per language): it goes into a chat message to the author."""
EXCERPT_MAX: Final = 80
"""The idea's text in the news payload is clipped to this many characters (ellipsis included)."""
PREFIX_MIN: Final = 6
"""Shortest accepted prefix of an idea reference's hex digits (after "i_")."""
SOURCES: Final = ("chat", "cli")

STATUS_LABELS: Final[dict[str, tuple[str, str]]] = {
    IDEA_NEW: ("eingegangen", "received"),
    IDEA_REVIEW: ("in Prüfung", "under review"),
    IDEA_PLANNED: ("wird umgesetzt", "will be implemented"),
    IDEA_DONE: ("umgesetzt", "implemented"),
    IDEA_REJECTED: ("nicht umsetzbar", "not feasible"),
}
"""(German, English) name of each status, for the CLI, the exports' value labels and docs/staff.md."""

_REF = re.compile(r"i_([0-9a-f]+)")


class IdeaStatusError(Exception):
    """A status change that cannot be made. `code` is stable (for the chat's texts); str() is an English message
    for the CLI."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StatusChange:
    """What `set_idea_status` stored. `ref` is the idea's pseudonym (i_…); notes are stripped, None when empty."""

    idea_id: str
    ref: str
    old_status: str
    status: str
    note: str | None
    note_en: str | None
    changed_at: datetime


def _fold(text: str) -> str:
    """Lower case, umlauts as ae/oe/ue/ss, dashes and underscores as spaces, runs of spaces as one."""
    folded = unicodedata.normalize("NFC", text).strip().casefold()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        folded = folded.replace(umlaut, plain)
    return " ".join(re.sub(r"[-_‐‑–—]", " ", folded).split())


def _status_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for code, (german, english) in STATUS_LABELS.items():
        for name in (code, german, english):
            names[_fold(name)] = code
            names[_fold(name).replace("ue", "u").replace("ae", "a").replace("oe", "o")] = code  # "in Prufung"
    return names


_STATUS_NAMES: Final = _status_names()


def parse_status(text: str) -> str:
    """The status code for a code ("review"), a German ("in Prüfung", "in-pruefung") or English ("under review")
    name; case, umlaut and dash insensitive. Raises IdeaStatusError("unknown_status")."""
    code = _STATUS_NAMES.get(_fold(text))
    if code is None:
        known = ", ".join(f"{code} ({german})" for code, (german, _) in STATUS_LABELS.items())
        raise IdeaStatusError("unknown_status", f"unknown status {text!r}; use one of: {known}")
    return code


def resolve_idea(uow: UnitOfWork, ref: str, secret: bytes) -> str:
    """The internal id of the idea `ref` names: its pseudonym "i_…" in full, a unique prefix of at least
    PREFIX_MIN hex digits after "i_", or the internal id itself. Raises IdeaStatusError ("unknown_idea",
    "ambiguous")."""
    wanted = ref.strip()
    match = _REF.fullmatch(wanted.casefold())
    if match is None:
        if wanted and uow.ideas.get(wanted) is not None:
            return wanted
        raise IdeaStatusError("unknown_idea", f"no idea {ref!r} (give its reference i_… as `idea list` shows it)")
    if len(match[1]) < PREFIX_MIN:
        raise IdeaStatusError(
            "ambiguous", f"{ref!r} is too short: give at least {PREFIX_MIN} characters after i_"
        )
    found = [idea_id for idea_id in uow.ideas.ids() if idea_pseudonym(secret, idea_id).startswith(match[0])]
    if not found:
        raise IdeaStatusError("unknown_idea", f"no idea {ref!r} (give its reference i_… as `idea list` shows it)")
    if len(found) > 1:
        raise IdeaStatusError("ambiguous", f"{ref!r} matches {len(found)} ideas; give more characters")
    return found[0]


def _note(text: str | None, language: str) -> str | None:
    stripped = (text or "").strip()
    if len(stripped) > NOTE_MAX:
        raise IdeaStatusError(
            "note_too_long", f"the {language} note has {len(stripped)} characters; at most {NOTE_MAX} are allowed"
        )
    return stripped or None


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """The idea's text on one line, clipped to `limit` characters (ending in "…" when clipped)."""
    return clip(text, limit)


def news_payload(
    idea_id: str, text: str, created_at: datetime, status: str, note: str | None, note_en: str | None
) -> dict[str, Any]:
    """The payload of the author's news row (rendered by `handlers.staff_render.render_idea_news`); the staff
    preview is made from the same payload, so staff see what the author will read."""
    return {
        "idea_id": idea_id,
        "status": status,
        "note": note,
        "note_en": note_en,
        "excerpt": excerpt(text),
        "filed_at": created_at.isoformat(),
    }


def supporter_news_payload(
    idea_id: str, public_text: str, status: str, note: str | None, note_en: str | None
) -> dict[str, Any]:
    """The payload of a supporter's news row: the idea's PUBLIC text only (never the author's own words)."""
    return {
        "idea_id": idea_id,
        "status": status,
        "note": note,
        "note_en": note_en,
        "excerpt": excerpt(public_text),
        "supporter": True,
    }


def _tell_supporters(
    uow: UnitOfWork, idea_id: str, author: str | None, status: str, note: str | None, note_en: str | None,
    now: datetime,
) -> None:
    """A news row for every supporter who asked for this idea's news, while the idea is published (a withdrawn
    or rejected idea tells its supporters nothing: its text is no longer public)."""
    from bot.ideaboard import store  # the board's queries; imported here to keep the CLI's start light

    public_text = store.published_text(uow, idea_id)
    if public_text is None:
        return
    payload = supporter_news_payload(idea_id, public_text, status, note, note_en)
    for citizen_id in store.news_supporters(uow, idea_id):
        if citizen_id == author:
            continue
        uow.follow_ups.supersede(citizen_id, IDEA_STATUS_KIND, "idea_id", idea_id, now)
        uow.follow_ups.add(citizen_id, now, IDEA_STATUS_KIND, payload, now=now, unsolicited=True)


def set_idea_status(
    uow: UnitOfWork,
    idea_id: str,
    status: str,
    note: str | None,
    note_en: str | None,
    *,
    now: datetime,
    source: str,
    secret: bytes,
) -> StatusChange:
    """Validate and store a status change, supersede the idea's earlier unsent news and write the author's news row.

    Raises IdeaStatusError: "unknown_idea", "unknown_status", "note_required" (NOTE_REQUIRED statuses need a German
    note), "note_too_long" (> NOTE_MAX), "unchanged" (same status and the same notes as now).
    """
    if status not in IDEA_STATUSES:
        raise IdeaStatusError("unknown_status", f"unknown status {status!r}; use one of: {', '.join(IDEA_STATUSES)}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    idea = uow.ideas.get(idea_id)
    if idea is None:
        raise IdeaStatusError("unknown_idea", f"no idea with the id {idea_id!r}")
    german, english = _note(note, "German"), _note(note_en, "English")
    if status in NOTE_REQUIRED and german is None:
        raise IdeaStatusError(
            "note_required", f"status {status} ({STATUS_LABELS[status][0]}) needs a public note saying why"
        )
    if (status, german, english) == (idea.status, idea.status_note, idea.status_note_en):
        raise IdeaStatusError("unchanged", f"the idea already has status {status} with this note")
    uow.ideas.set_status(idea.id, status, german, english, now, source)
    if idea.citizen_id is not None:  # None: a kept public idea whose author deleted their data (issue 13)
        uow.follow_ups.supersede(idea.citizen_id, IDEA_STATUS_KIND, "idea_id", idea.id, now)
        payload = news_payload(idea.id, idea.text, idea.created_at, status, german, english)
        uow.follow_ups.add(idea.citizen_id, now, IDEA_STATUS_KIND, payload, now=now, unsolicited=True)
    _tell_supporters(uow, idea.id, idea.citizen_id, status, german, english, now)
    return StatusChange(idea.id, idea_pseudonym(secret, idea.id), idea.status, status, german, english, now)
