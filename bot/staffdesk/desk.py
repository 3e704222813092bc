"""The runtime's side of staff requests and /meineideen, inside the event's transaction.

For every `StaffRequest` the core made: the sender's role is looked up again in the allowlist (the core's view is
not trusted), the data is read (bot/staffdesk/views.py) or changed (campaign service, idea statuses), the action
is written to the staff audit log — refusals and failures included — and the answer is rendered by the pure
`handlers.staff_render`. Idea texts shown on a channel without end-to-end encryption (Telegram) are redacted and
shortened by the views; Matrix and the terminal get the full text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.analytics.pseudonyms import idea_pseudonym
from bot.campaigns import service
from bot.campaigns.audience import staff_citizens
from bot.campaigns.service import CampaignError
from bot.config import Config
from bot.staffdesk import audit, idea_status, moderation, views
from bot.staffdesk.idea_status import IdeaStatusError
from bot.staffdesk.roles import full_text, role_of
from bot.storage.db import UnitOfWork
from handlers import staff_render
from handlers.events import ROLE_STAFF, STAFF_CHANGES, STAFF_VIEWS, FieldInfo, Outbound, StaffRequest, Texts
from handlers.formats import local_minute
from handlers.staff import CAMPAIGN_NUMBER
from handlers.staff_render import NO_FIELD_TOKEN
from handlers.turn import clip
from surveys.catalog import SurveyCatalog

log = logging.getLogger(__name__)

_INTERNAL_ID = re.compile(r"[0-9a-f]{32}")
_IDEA_ACTIONS = frozenset({"idea", "idea_status_preview", "idea_status", "moderation", "publication_approve",
                           "publication_reject"})  # fmt: skip

LATEST_PER_FIELD = 3
"""Ideas per field in /ideen_neu; one field opened shows `LATEST_OF_ONE_FIELD`."""
LATEST_OF_ONE_FIELD = 10


@dataclass(frozen=True)
class Sender:
    """Who asked: the channel account (as the allowlist names it) and the language they read."""

    channel: str
    user_id: str
    lang: str
    encrypted: bool = False  # the request came through an end-to-end encrypted room

    @property
    def actor(self) -> str:
        return f"{self.channel}:{self.user_id}"


class StaffDesk:
    """Answers staff requests and /meineideen for the runtime (`bot.decisions.DecisionStore`)."""

    def __init__(
        self, config: Config, texts: Texts, fields: Sequence[FieldInfo], catalog: Callable[[], SurveyCatalog]
    ) -> None:
        self.config = config
        self.texts = texts
        self.fields = tuple(fields)
        self._catalog = catalog

    # --- citizens ------------------------------------------------------------------------------------------------

    def my_ideas(self, uow: UnitOfWork, citizen_id: str, lang: str) -> tuple[Outbound, ...]:
        """/meineideen: the citizen's own ideas with status, note and date."""
        ideas = views.my_ideas(uow, citizen_id)
        supported = views.supported_ideas(uow, citizen_id)
        return staff_render.render_my_ideas(ideas, self.texts, lang, self.config.timezone, self.fields, supported)

    # --- staff ---------------------------------------------------------------------------------------------------

    def handle(self, uow: UnitOfWork, request: StaffRequest, sender: Sender, now: datetime) -> tuple[Outbound, ...]:
        """Check, act, audit, render. Never raises for a staff member's mistake: they get a clear answer."""
        role = role_of(self.config.staff, sender.channel, sender.user_id)
        if role is None:  # the core only asks for allowlisted senders; a list changed meanwhile: say nothing
            log.warning("event=staff_request_refused channel=%s reason=not_on_allowlist", sender.channel)
            return ()
        act = _Act(self, uow, request, sender, role, now)
        if request.action in _IDEA_ACTIONS and _INTERNAL_ID.fullmatch(request.target):
            # a button names the idea by its internal id: the audit log names it by its reference, like exports
            act.target = idea_pseudonym(self.config.pseudonym_secret, request.target)
        if request.action not in (*STAFF_VIEWS, *STAFF_CHANGES):
            return act.done("refused", (), reason="unknown_action")
        if request.action in STAFF_CHANGES and role != ROLE_STAFF:
            return act.done("refused", (act.say("staff.needs_staff"),), reason="role")
        return act.run()


class _Act:
    """One staff request being answered."""

    def __init__(
        self, desk: StaffDesk, uow: UnitOfWork, request: StaffRequest, sender: Sender, role: str, now: datetime
    ) -> None:
        self.desk, self.uow, self.request, self.sender, self.role, self.now = desk, uow, request, sender, role, now
        self.config = desk.config
        self.full_text = full_text(sender.channel, sender.encrypted)
        self.target = request.target
        self._staff: set[str] | None = None

    # helpers

    def say(self, key: str, **values: Any) -> Outbound:
        return Outbound(text=self.desk.texts.get(key, self.sender.lang, **values))

    @property
    def staff(self) -> set[str]:
        if self._staff is None:
            self._staff = staff_citizens(self.uow, self.config.staff, self.config.pseudonym_secret)
        return self._staff

    def done(self, outcome: str, messages: Sequence[Outbound], **details: Any) -> tuple[Outbound, ...]:
        """Write the audit row (never a citizen's text) and return the answer."""
        audit.record(
            self.uow, actor=self.sender.actor, role=self.role, channel=self.sender.channel,
            action=self.request.action, target=self.target or None, outcome=outcome,
            details={key: value for key, value in details.items() if value not in (None, "")} or None, now=self.now,
        )  # fmt: skip
        return tuple(messages)

    def render_args(self) -> tuple[Texts, str, Any]:
        return self.desk.texts, self.sender.lang, self.config.timezone

    def campaign_id(self) -> int | None:
        return int(self.target) if CAMPAIGN_NUMBER.fullmatch(self.target) else None

    def idea_id(self) -> str | tuple[Outbound, ...]:
        """The idea the request names (a reference i_… typed by staff, or the internal id of a button: looked up
        directly, not through its reference, which `handle` already put into `target` for the audit log), or the
        answer saying why there is none."""
        try:
            idea_id = idea_status.resolve_idea(self.uow, self.request.target, self.config.pseudonym_secret)
        except IdeaStatusError as exc:
            key = "staff.ambiguous_idea" if exc.code == "ambiguous" else "staff.not_found_idea"
            return self.done(audit.OUTCOME_NOT_FOUND, (self.say(key, ref=clip(self.target, 40)),), reason=exc.code)
        self.target = idea_pseudonym(self.config.pseudonym_secret, idea_id)  # the audit names the reference
        return idea_id

    # actions

    def run(self) -> tuple[Outbound, ...]:
        action = self.request.action
        if action == "campaigns":
            lines = views.campaign_lines(self.uow, self.staff, self.now)
            return self.done(
                audit.OUTCOME_OK, staff_render.render_campaigns(lines, *self.render_args()), count=len(lines)
            )
        if action in ("campaign", "launch_preview", "close_preview", "launch", "close"):
            return self.campaign(action)
        if action == "new_ideas":
            return self.new_ideas()
        if action in moderation.ACTIONS:
            return moderation.run(self)
        return self.idea(action)

    def campaign(self, action: str) -> tuple[Outbound, ...]:
        campaign_id = self.campaign_id()
        missing = (self.say("staff.not_found_campaign", id=self.target),)
        if campaign_id is None:
            return self.done(audit.OUTCOME_NOT_FOUND, missing)
        catalog = self.desk._catalog()
        if action == "campaign":
            figures = views.campaign_figures(self.uow, campaign_id, catalog, self.staff, self.now)
            if figures is None:
                return self.done(audit.OUTCOME_NOT_FOUND, missing)
            rendered = staff_render.render_campaign(figures, self.role, *self.render_args(), self.desk.fields, self.now)
            return self.done(audit.OUTCOME_OK, rendered)
        if action in ("launch_preview", "close_preview"):
            preview = views.campaign_preview(
                self.uow, campaign_id, "launch" if action == "launch_preview" else "close", catalog,
                consent_version=self.config.consent_version, staff=self.config.staff,
                secret=self.config.pseudonym_secret, now=self.now,
            )  # fmt: skip
            if preview is None:
                return self.done(audit.OUTCOME_NOT_FOUND, missing)
            return self.done(
                audit.OUTCOME_OK, staff_render.render_preview(preview, *self.render_args()), problem=preview.problem
            )
        try:
            if action == "launch":
                launched = service.launch_campaign(self.uow, campaign_id, catalog, self.now)
                start = local_minute(launched.starts_at, self.sender.lang, self.config.timezone)
                return self.done(audit.OUTCOME_OK, (self.say("staff.launched", id=campaign_id, start=start),),
                                 survey_version=launched.survey_version)  # fmt: skip
            _, cancelled = service.close_campaign(self.uow, campaign_id, self.now)
            return self.done(
                audit.OUTCOME_OK, (self.say("staff.closed", id=campaign_id, cancelled=cancelled),), cancelled=cancelled
            )
        except CampaignError as exc:  # the campaign changed since the preview (or never existed)
            return self.done(audit.OUTCOME_ERROR, (self.say("staff.failed", reason=str(exc)),), reason=str(exc)[:200])

    def new_ideas(self) -> tuple[Outbound, ...]:
        only = None if not self.target else "" if self.target == NO_FIELD_TOKEN else self.target
        keys = [info.key for info in self.desk.fields]
        found = views.new_ideas(
            self.uow, keys, per_field=LATEST_OF_ONE_FIELD if only is not None else LATEST_PER_FIELD,
            full_text=self.full_text, secret=self.config.pseudonym_secret, staff_citizens=self.staff, only_field=only,
        )  # fmt: skip
        rendered = staff_render.render_new_ideas(found, *self.render_args(), self.desk.fields, only_field=only)
        shown = sum(len(group.latest) for group in found.fields)
        return self.done(audit.OUTCOME_OK, rendered, shown=shown, redacted=found.redacted)

    def idea(self, action: str) -> tuple[Outbound, ...]:
        idea_id = self.idea_id()
        if not isinstance(idea_id, str):
            return idea_id
        item = views.idea_item(self.uow, idea_id, full_text=self.full_text, secret=self.config.pseudonym_secret)
        if item is None:
            return self.done(audit.OUTCOME_NOT_FOUND, (self.say("staff.not_found_idea", ref=self.target),))
        request = self.request
        if action == "idea":
            shown = staff_render.render_idea(item, self.role, *self.render_args(), self.desk.fields)
            return self.done(audit.OUTCOME_OK, shown, redacted=item.redacted)
        if action == "idea_status_preview":
            payload = idea_status.news_payload(
                item.idea_id, item.text, item.created_at, request.status, request.note or None, request.note_en or None
            )
            rendered = staff_render.render_status_preview(item, request.status, request.note, request.note_en,
                                                          payload, *self.render_args())  # fmt: skip
            return self.done(audit.OUTCOME_OK, rendered, status=request.status)
        try:
            change = idea_status.set_idea_status(
                self.uow, idea_id, request.status, request.note or None, request.note_en or None, now=self.now,
                source="chat", secret=self.config.pseudonym_secret,
            )  # fmt: skip
        except IdeaStatusError as exc:
            if exc.code == "unchanged":
                return self.done(
                    audit.OUTCOME_UNCHANGED, (self.say("staff.unchanged", ref=self.target),), status=request.status
                )
            return self.done(audit.OUTCOME_ERROR, (self.say("staff.failed", reason=str(exc)),), reason=exc.code)
        label = staff_render.status_label(self.desk.texts, self.sender.lang, change.status)
        return self.done(audit.OUTCOME_OK, (self.say("staff.status_saved", ref=self.target, status=label),),
                         old_status=change.old_status, status=change.status, note=request.note or None,
                         note_en=request.note_en or None)  # fmt: skip
