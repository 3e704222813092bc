"""The citizen's rights: /meinedaten (see everything stored) and /loeschen (delete everything)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from handlers import onboarding
from handlers.events import (
    Button,
    CitizenState,
    Decision,
    DeleteCitizen,
    Document,
    ExportData,
    Outbound,
    Texts,
)
from handlers.state import Flow
from handlers.turn import MAX_TEXT, Turn

DELETE = "del"
"""Payload prefix of the deletion buttons: `del:yes`, `del:no`."""
EXPORT_FILENAME = "meine-daten.json"


def export(turn: Turn) -> Decision:
    """/meinedaten: ask the runtime for the data; it sends what `render_export` makes of it.

    The only citizen event answered without a message of the core's own: the export is the answer.
    """
    return turn.reply(effects=[ExportData()])


def render_export(data: Mapping[str, Any], lang: str, texts: Texts) -> tuple[Outbound, ...]:
    """Everything stored about a citizen: as a readable message when it fits in one, else as a JSON file."""
    text = "\n\n".join(
        [
            texts.get("privacy.export_intro", lang),
            "\n".join(_outline(data, lang, texts, 0)),
            texts.get("privacy.export_outro", lang),
        ]
    )
    if len(text) <= MAX_TEXT:
        return (Outbound(text=text),)
    content = json.dumps(data, ensure_ascii=False, indent=2, default=_json_value).encode("utf-8")
    return (Outbound(text=texts.get("privacy.export_document", lang), document=Document(EXPORT_FILENAME, content)),)


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _scalar(value: object, lang: str, texts: Texts) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return texts.get("common.word_yes" if value else "common.word_no", lang)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _outline(value: object, lang: str, texts: Texts, depth: int) -> list[str]:
    """Nested data as indented "key: value" lines and "– item" lists."""
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, Mapping | list | tuple) and item:
                lines.append(f"{pad}{key}:")
                lines += _outline(item, lang, texts, depth + 1)
            else:
                shown = "–" if isinstance(item, Mapping | list | tuple) else _scalar(item, lang, texts)
                lines.append(f"{pad}{key}: {shown}")
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, Mapping | list | tuple) and item:
                nested = _outline(item, lang, texts, depth + 1)
                lines.append(f"{pad}– {nested[0].lstrip()}")
                lines += nested[1:]
            else:
                lines.append(f"{pad}– {_scalar(item, lang, texts)}")
    else:
        lines.append(f"{pad}{_scalar(value, lang, texts)}")
    return lines


def ask_delete(turn: Turn) -> Decision:
    """/loeschen: ask for confirmation first."""
    buttons = (
        (Button(f"{DELETE}:yes", turn.t("privacy.delete_yes")),),
        (Button(f"{DELETE}:no", turn.t("privacy.delete_no")),),
    )
    return turn.reply(Outbound(text=turn.t("privacy.confirm_delete"), buttons=buttons), flow=Flow.DELETE_CONFIRM)


def on_confirm(turn: Turn, answer: str) -> Decision | None:
    """`del:yes`: goodbye, delete everything, start afresh (language kept); `del:no`: nothing changes."""
    if answer == "yes":
        edit = turn.edit_answered(turn.t("privacy.confirm_delete"), turn.t("privacy.delete_yes"))
        fresh = CitizenState(language=turn.state.language, language_chosen=turn.state.language_chosen)
        return Decision(
            state=fresh, messages=(*edit, Outbound(text=turn.t("privacy.deleted"))), effects=(DeleteCitizen(),)
        )
    if answer == "no":
        return keep(turn)
    return None


def keep(turn: Turn) -> Decision:
    """No deletion after all (the "Nein" button or /abbrechen)."""
    edit = turn.edit_answered(turn.t("privacy.confirm_delete"), turn.t("privacy.delete_no"))
    if turn.state.consented:
        return onboarding.menu(turn, *edit, lead=turn.t("privacy.kept"))
    return turn.reply(*edit, Outbound(text=turn.t("privacy.kept")), flow=Flow.NEW)
