"""The citizen's idea board as messages: /ideen (fields, then one field's published ideas, paged) and the answers to
support, withdrawn support and status-news choices. Pure: the runtime (bot/ideaboard/board.py) loads the data.

Only approved public texts reach these functions (`BoardIdea.text`); button payloads are the core's (`ib:`, `iu:`,
`ix:`, `in:`), routed to `IdeaRequest` by the dialogue core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.events import Button, FieldInfo, Outbound, SimilarIdea, Texts
from handlers.staff_render import status_label
from handlers.turn import clip

PAGE_SIZE = 5
"""Ideas per page of one field."""
LIST_TEXT = 300
"""A public text is clipped to this many characters in lists (five of them fit a Telegram message easily)."""
OVERVIEW = "-"
"""The `ib:` target of the field overview."""
NO_FIELD = "_"
"""The `ib:` target of the ideas filed without a field ("Weiß nicht")."""


@dataclass(frozen=True)
class BoardIdea:
    """A published idea as another citizen may see it (`text` is the approved public text)."""

    id: str
    text: str
    field: str | None
    supporters: int
    status: str
    supported: bool  # by the citizen asking
    own: bool  # the citizen asking wrote it
    created_at: datetime

    def similar(self) -> SimilarIdea:
        """The form a SIMILAR event carries."""
        return SimilarIdea(self.id, self.text, self.field, self.supporters, self.status, self.supported)


def browse_payload(field: str | None, page: int = 0) -> str:
    """`field`: a field key, NO_FIELD, or None for the overview."""
    return f"ib:{field or OVERVIEW}:{page}"


def support_payload(idea_id: str) -> str:
    return f"iu:{idea_id}"


def unsupport_payload(idea_id: str) -> str:
    return f"ix:{idea_id}"


def news_payload(idea_id: str, on: bool) -> str:
    return f"in:{idea_id}:{1 if on else 0}"


class _Board:
    def __init__(self, texts: Texts, lang: str, fields: Sequence[FieldInfo]) -> None:
        self.texts, self.lang = texts, lang
        self.names = {info.key: info.label(lang) for info in fields}
        self.order = [info.key for info in fields]

    def t(self, key: str, **values: object) -> str:
        return self.texts.get(key, self.lang, **values)

    def field(self, key: str | None) -> str:
        return self.names.get(key or "", "") or self.t("board.no_field")

    def supporters(self, count: int) -> str:
        if count == 0:
            return self.t("board.supporters_none")
        return self.t("board.supporters_one") if count == 1 else self.t("board.supporters_many", count=count)

    def status(self, status: str) -> str:
        return status_label(self.texts, self.lang, status)


def render_overview(counts: Mapping[str | None, int], texts: Texts, lang: str,
                    fields: Sequence[FieldInfo]) -> tuple[Outbound, ...]:  # fmt: skip
    """/ideen: how many published ideas each field has, a button per field with any."""
    b = _Board(texts, lang, fields)
    shown: list[tuple[str, int]] = [(key, counts.get(key, 0)) for key in b.order if counts.get(key, 0) > 0]
    unsorted = sum(count for key, count in counts.items() if key is None or key not in b.order)
    if unsorted:  # filed without a field ("Weiß nicht"), or under a field the city has since removed
        shown.append((NO_FIELD, unsorted))
    if not shown:
        return (Outbound(text=b.t("board.empty")),)
    total = sum(count for _, count in shown)
    lines = [b.t("board.overview_intro", count=total), ""]
    lines += [b.t("board.overview_line", field=b.field(key), count=count) for key, count in shown]
    lines += ["", b.t("board.overview_hint")]
    buttons = tuple(
        (Button(browse_payload(key), b.t("board.field_button", field=clip(b.field(key), 40), count=count)),)
        for key, count in shown
    )
    return (Outbound(text="\n".join(lines), buttons=buttons),)


def render_field_page(field: str, ideas: Sequence[BoardIdea], page: int, total: int, texts: Texts, lang: str,
                      fields: Sequence[FieldInfo]) -> tuple[Outbound, ...]:  # fmt: skip
    """One field's published ideas (`ideas`: page `page` of `total` ideas), most supported first, each with a
    support or withdraw-support button, and paging."""
    b = _Board(texts, lang, fields)
    if total == 0 or not ideas:
        return (Outbound(text=b.t("board.field_empty", field=b.field(field)), buttons=((Button(browse_payload(None),
                                                                                         b.t("board.all_fields")),),)),)
    pages = max(1, -(-total // PAGE_SIZE))
    lines = [b.t("board.field_intro", field=b.field(field), count=total, page=page + 1, pages=pages)]
    buttons: list[tuple[Button, ...]] = []
    # Numbered from 1 on every page, one button per idea in list order: a typed number is the idea with that
    # number (`handlers.state.Offered.match` counts buttons). The citizen's own ideas are not listed here.
    for number, idea in enumerate((idea for idea in ideas if not idea.own), start=1):
        lines += ["", f"{number}. „{clip(idea.text, LIST_TEXT)}“",
                  b.t("board.idea_facts", supporters=b.supporters(idea.supporters), status=b.status(idea.status))]
        if idea.supported:
            lines.append(b.t("board.supported_mark"))
            buttons.append((Button(unsupport_payload(idea.id), b.t("board.unsupport_button", number=number)),))
        else:
            buttons.append((Button(support_payload(idea.id), b.t("board.support_button", number=number)),))
    paging: list[Button] = []
    if page > 0:
        paging.append(Button(browse_payload(field, page - 1), b.t("board.previous")))
    if page + 1 < pages:
        paging.append(Button(browse_payload(field, page + 1), b.t("board.next")))
    if paging:
        buttons.append(tuple(paging))
    can_support = any(button.payload.startswith(support_payload("")) for row in buttons for button in row)
    lines += ["", b.t("board.field_question" if can_support else "board.field_question_none")]
    buttons.append((Button(browse_payload(None), b.t("board.all_fields")),))
    return (Outbound(text="\n".join(lines), buttons=tuple(buttons)),)


def render_supported(idea: BoardIdea, source: str, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    """After a new support: the new count, (from the similar-idea message) that nothing was filed twice, and the
    question whether they want this idea's status news."""
    b = _Board(texts, lang, ())
    lines = [
        b.t("board.supported", text=clip(idea.text, LIST_TEXT)),
        b.t("board.now_count", supporters=b.supporters(idea.supporters)),
    ]
    if source == "similar":
        lines.append(b.t("board.not_filed_twice"))
    lines += ["", b.t("board.news_question")]
    buttons = ((Button(news_payload(idea.id, True), b.t("board.news_yes")), Button(news_payload(idea.id, False),
                                                                             b.t("board.news_no"))),)
    return (Outbound(text="\n".join(lines), buttons=buttons),)


def render_gone_similar(draft_id: str, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    """A support from the similar list for an idea that left the board meanwhile: the citizen's own idea, set aside
    for the support, can still be filed (`sd:<draft id>`, `handlers.ideas.on_different`)."""
    b = _Board(texts, lang, ())
    button = Button(f"sd:{draft_id}", b.t("board.file_own"))
    return (Outbound(text=b.t("board.gone_similar"), buttons=((button,),)),)


def render_withdraw_question(idea_id: str, text: str, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    """Before the author's idea leaves the board: what that means, and one button to confirm (`iw:<id>:yes`)."""
    b = _Board(texts, lang, ())
    button = Button(f"iw:{idea_id}:yes", b.t("publication.withdraw_confirm_button"))
    return (Outbound(text=b.t("publication.withdraw_confirm", text=clip(text, LIST_TEXT)), buttons=((button,),)),)


def render_already_supported(idea: BoardIdea, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    b = _Board(texts, lang, ())
    text = b.t("board.already", supporters=b.supporters(idea.supporters))
    return (Outbound(text=text, buttons=((Button(unsupport_payload(idea.id), b.t("board.unsupport_plain")),),)),)


def render_unsupported(idea: BoardIdea | None, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    b = _Board(texts, lang, ())
    if idea is None:
        return (Outbound(text=b.t("board.unsupported_gone")),)
    return (Outbound(text=b.t("board.unsupported", supporters=b.supporters(idea.supporters))),)


def render_simple(key: str, texts: Texts, lang: str) -> tuple[Outbound, ...]:
    """An answer of one fixed text (`key`, e.g. "board.own", "board.not_available")."""
    return (Outbound(text=texts.get(key, lang)),)
