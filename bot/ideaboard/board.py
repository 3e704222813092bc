"""The runtime's side of `IdeaRequest` (like `bot.staffdesk.desk.StaffDesk` for staff), inside the event's
transaction: /ideen browsing, support and its withdrawal, a supporter's status-news choice; the author's
withdrawal of a publication is handed to `bot.ideaboard.publication.withdraw`.

Every request is checked against the stored data, never the core's view: only published ideas (approved, not
merged) can be supported, never one's own, once per citizen and idea. A support of an idea merged into a published
one goes to that one. Answers are rendered by the pure `handlers.board_render`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from bot.config import Config
from bot.ideaboard import publication, store
from bot.storage.db import UnitOfWork
from handlers import board_render
from handlers.board import CONFIRMED as WITHDRAW_CONFIRMED
from handlers.board_render import PAGE_SIZE, BoardIdea
from handlers.events import (
    IDEA_BROWSE,
    IDEA_NEWS_OFF,
    IDEA_NEWS_ON,
    IDEA_SUPPORT,
    IDEA_UNSUPPORT,
    IDEA_WITHDRAW,
    FieldInfo,
    IdeaRequest,
    Outbound,
    Texts,
)

log = logging.getLogger(__name__)

IDEA_NEWS_TOPIC = "idea_news"
"""The opt-in a supporter's status news needs (the same as the author's)."""
_INTERNAL_ID = re.compile(r"[0-9a-f]{32}")


class IdeaBoard:
    """Answers citizens' `IdeaRequest`s for `bot.decisions.DecisionStore`."""

    def __init__(self, config: Config, texts: Texts, fields: Sequence[FieldInfo]) -> None:
        self.config = config
        self.texts = texts
        self.fields = tuple(fields)

    def handle(
        self, uow: UnitOfWork, request: IdeaRequest, citizen_id: str, lang: str, now: datetime
    ) -> tuple[Outbound, ...]:
        """Check, change, render. Never raises for a stale button: the citizen gets a plain answer."""
        action = request.action
        if action == IDEA_BROWSE:
            return self.browse(uow, request.target, request.page, citizen_id, lang)
        if not _INTERNAL_ID.fullmatch(request.target):
            return board_render.render_simple("board.not_available", self.texts, lang)
        if action == IDEA_SUPPORT:
            return self.support(uow, request, citizen_id, lang, now)
        if action == IDEA_UNSUPPORT:
            return self.unsupport(uow, request.target, citizen_id, lang)
        if action in (IDEA_NEWS_ON, IDEA_NEWS_OFF):
            return self.news(uow, request.target, action == IDEA_NEWS_ON, citizen_id, lang, now)
        if action == IDEA_WITHDRAW:
            if request.source != WITHDRAW_CONFIRMED:  # one tap or a typed number must not take an idea away: ask
                return self.confirm_withdraw(uow, request.target, citizen_id, lang, now)
            return self.withdraw(uow, request.target, citizen_id, lang, now)
        log.warning("event=idea_request_unknown action=%s", action[:20])
        return ()

    # --- browsing ------------------------------------------------------------------------------------------------

    def browse(self, uow: UnitOfWork, field: str, page: int, citizen_id: str, lang: str) -> tuple[Outbound, ...]:
        """The field overview (`field` "" or "-"), or one page of a field's published ideas."""
        known = {info.key for info in self.fields}
        counts = store.field_counts(uow, citizen_id)
        if field != board_render.NO_FIELD and field not in known:
            return board_render.render_overview(counts, self.texts, lang, self.fields)
        key = None if field == board_render.NO_FIELD else field
        total = sum(n for k, n in counts.items() if k not in known) if key is None else counts.get(key, 0)
        last = max(0, (total - 1) // PAGE_SIZE)
        page = min(max(0, page), last)  # a stale "Weiter" after ideas left the board shows the last page
        ideas = store.field_page(uow, key, known, citizen_id, page * PAGE_SIZE, PAGE_SIZE)
        return board_render.render_field_page(field, ideas, page, total, self.texts, lang, self.fields)

    # --- support -------------------------------------------------------------------------------------------------

    def _public(self, uow: UnitOfWork, idea_id: str, citizen_id: str) -> BoardIdea | None:
        return store.public_ideas(uow, [idea_id], citizen_id).get(idea_id)

    def support(
        self, uow: UnitOfWork, request: IdeaRequest, citizen_id: str, lang: str, now: datetime
    ) -> tuple[Outbound, ...]:
        source = request.source
        facts = store.idea_facts(uow, request.target)
        if facts is not None and facts.merged_into is not None:  # merged meanwhile: the support goes where it went
            facts = store.idea_facts(uow, facts.merged_into)
        if facts is None or not facts.published:
            if request.draft:  # from the similar list: the citizen's own idea was set aside for this support
                return board_render.render_gone_similar(request.draft, self.texts, lang)
            return board_render.render_simple("board.not_available", self.texts, lang)
        if facts.citizen_id == citizen_id:
            return board_render.render_simple("board.own", self.texts, lang)
        added = store.support(uow, facts.id, citizen_id, now)
        idea = self._public(uow, facts.id, citizen_id)
        assert idea is not None  # published, checked above in this transaction
        if not added:
            return board_render.render_already_supported(idea, self.texts, lang)
        log.info("event=idea_supported source=%s", source or "board")
        return board_render.render_supported(idea, source, self.texts, lang)

    def unsupport(self, uow: UnitOfWork, idea_id: str, citizen_id: str, lang: str) -> tuple[Outbound, ...]:
        if not store.unsupport(uow, idea_id, citizen_id):
            return board_render.render_simple("board.not_supporting", self.texts, lang)
        log.info("event=idea_unsupported")
        return board_render.render_unsupported(self._public(uow, idea_id, citizen_id), self.texts, lang)

    def news(
        self, uow: UnitOfWork, idea_id: str, on: bool, citizen_id: str, lang: str, now: datetime
    ) -> tuple[Outbound, ...]:
        """A supporter's answer to "news about this idea?"; "yes" also switches the idea-news opt-in on."""
        if store.support_of(uow, idea_id, citizen_id) is None:
            return board_render.render_simple("board.news_not_supporter", self.texts, lang)
        store.set_news(uow, idea_id, citizen_id, on)
        if not on:
            return board_render.render_simple("board.news_off", self.texts, lang)
        if IDEA_NEWS_TOPIC not in uow.opt_ins.current(citizen_id):
            uow.opt_ins.set(
                citizen_id, IDEA_NEWS_TOPIC, True, source="support", notice_version=self.config.consent_version,
                now=now,
            )  # fmt: skip
        return board_render.render_simple("board.news_on", self.texts, lang)

    # --- the author's withdrawal (bot/ideaboard/publication.py) -----------------------------------------------------

    def confirm_withdraw(
        self, uow: UnitOfWork, idea_id: str, citizen_id: str, lang: str, now: datetime
    ) -> tuple[Outbound, ...]:
        """Ask before the author's idea leaves the board; anything but a pending or published own idea gets the
        withdrawal's own answer at once (not yours, not public)."""
        text = store.withdrawable_text(uow, idea_id, citizen_id)
        if text is None:
            return self.withdraw(uow, idea_id, citizen_id, lang, now)
        return board_render.render_withdraw_question(idea_id, text, self.texts, lang)

    def withdraw(self, uow: UnitOfWork, idea_id: str, citizen_id: str, lang: str, now: datetime
                 ) -> tuple[Outbound, ...]:  # fmt: skip
        return publication.withdraw(uow, citizen_id, idea_id, lang, self.texts, now)
