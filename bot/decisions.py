"""One event through the dialogue core, stored: the citizen's state, the decision's effects, its messages and what
became of the follow-up the event brought — all inside the caller's transaction (DESIGN.md, "Acknowledge after
commit"). The runtime owns the transactions, the workers and the channels; this module owns what one event
writes."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.campaigns.audience import staff_citizens
from bot.config import Config
from bot.ideaboard import publication
from bot.ideaboard import store as ideaboard_store
from bot.ideaboard.board import IdeaBoard
from bot.ideaboard.search import decode_vector
from bot.identity import pseudonym
from bot.staffdesk.desk import Sender, StaffDesk
from bot.staffdesk.roles import role_of
from bot.storage.db import UnitOfWork
from bot.storage.items import (
    FOLLOW_UP_SKIPPED,
    OUTCOME_NOT_NEEDED,
    OUTCOME_STOPPED,
    PRIORITY_BULK,
    PRIORITY_INTERACTIVE,
)
from handlers.dialogue import handle
from handlers.events import (
    FOLLOW_UP_HELD,
    FOLLOW_UP_SENT,
    CitizenState,
    CompleteResponse,
    Context,
    DeleteAnswer,
    DeleteCitizen,
    Effect,
    ExportData,
    FieldInfo,
    FindSimilar,
    FollowUpOutcome,
    IdeaRequest,
    Inbound,
    InboundKind,
    Outbound,
    OutreachSettings,
    PauseOutreach,
    ReleaseHeld,
    SaveAnswer,
    SaveIdea,
    ScheduleFollowUp,
    SetOptIn,
    SetPublication,
    ShowMyIdeas,
    StaffRequest,
    StartResponse,
    StopOutreach,
    Texts,
)
from handlers.my_data import render_export
from handlers.state import IDLE_FLOWS, Flow
from handlers.turn import offer
from surveys.catalog import SurveyCatalog

log = logging.getLogger(__name__)

RUNTIME_PROMPTED = IDLE_FLOWS | {Flow.STAFF_NOTE, Flow.STAFF_CONFIRM}
"""Steps in which an answer the runtime rendered is what the citizen answers next (at the menu; a staff member's
preview): only there do its buttons become the ones typed numbers press."""

PAUSED = "paused"
"""`FollowUpOutcome.reason` of a row the core did not send because the citizen paused (it waits for the end)."""


def follow_up_id_of(event: Inbound) -> int | None:
    """The follow_ups row a FOLLOW_UP event brings (its id travels in the event's JSON `args`)."""
    if event.kind is not InboundKind.FOLLOW_UP:
        return None
    try:
        value = json.loads(event.args or "{}").get("follow_up_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _embedding_bytes(encoded: str | None) -> bytes | None:
    """The stored form of `SaveIdea.embedding` (base64 of 384 float32); None when absent or not a vector (the
    idea is then stored without one rather than lost)."""
    if encoded is None:
        return None
    try:
        return decode_vector(encoded).astype("<f4").tobytes()
    except ValueError:
        log.warning("event=idea_embedding_invalid")
        return None


class DecisionStore:
    """Runs the pure core for one event and writes everything it decided into the caller's unit of work."""

    def __init__(
        self,
        config: Config,
        texts: Texts,
        fields: Sequence[FieldInfo],
        catalog: Callable[[], SurveyCatalog],
        *,
        similar_search: bool = False,
    ) -> None:
        self.config = config
        self.similar_search = similar_search
        """Whether the core may ask for similar-idea searches (the runtime has an embedder)."""
        self.board = IdeaBoard(config, texts, fields)
        self._searches = threading.local()
        """Per database thread: whether a `FindSimilar` row was stored in the batch that thread runs (several
        batches run at once; the runtime kicks its search worker after that batch's commit: `take_searches_added`)."""
        self.texts = texts
        self.fields = tuple(fields)
        self._catalog = catalog  # the runtime's current catalog (reloaded when the CLI changed surveys)
        self.desk = StaffDesk(config, texts, self.fields, catalog)
        self.unsent: list[tuple[str, int]] = []
        """(channel, follow_up_id) of claimed rows that sent nothing (held, skipped, rescheduled): the runtime
        tells the pacer, which counted them as bulk on their way (appended from database threads, drained in
        the event loop)."""

    @property
    def searches_added(self) -> bool:
        """Whether this thread stored a `FindSimilar` row since its last `take_searches_added`."""
        return bool(getattr(self._searches, "added", False))

    def take_searches_added(self) -> bool:
        """`searches_added`, reset for this thread (the runtime calls it on the database thread of one batch)."""
        added = self.searches_added
        self._searches.added = False
        return added

    def context(self, now: datetime, staff_role: str | None = None) -> Context:
        """What the core may consult besides the citizen's state, for an event handled at `now` (`staff_role`: the
        sender's role on the staff allowlist)."""
        quiet = self.config.quiet_hours
        return Context(
            catalog=self._catalog(),
            texts=self.texts,
            fields=self.fields,
            now=now,
            new_id=uuid.uuid4().hex,
            consent_version=self.config.consent_version,
            outreach=OutreachSettings(
                timezone=self.config.timezone,
                quiet_start=None if quiet is None else quiet.start,
                quiet_end=None if quiet is None else quiet.end,
                daily_cap=self.config.daily_cap,
                close_grace=self.config.survey_close_grace,
            ),
            controller=self.config.controller,
            complaints=self.config.complaints,
            staff_role=staff_role,
            similar_search=self.similar_search,
        )

    def process(self, uow: UnitOfWork, event: Inbound, now: datetime) -> bool:
        """Run the core for one event inside the caller's transaction; True if messages were queued."""
        citizen = pseudonym(self.config.pseudonym_secret, event.channel, event.user_id)
        stored = uow.citizens.load_state(citizen)
        follow_up_id = follow_up_id_of(event)
        bots_own = event.kind in (InboundKind.FOLLOW_UP, InboundKind.SIMILAR)  # not something the citizen did
        if bots_own and stored is None:
            # The citizen deleted everything meanwhile: nothing to send, and nothing of them is stored again.
            if follow_up_id is not None:
                uow.follow_ups.finish(follow_up_id, FOLLOW_UP_SKIPPED, OUTCOME_NOT_NEEDED, now)
            return False
        before = stored or CitizenState()
        role = None if bots_own else role_of(self.config.staff, event.channel, event.user_id)
        decision = handle(event, before, self.context(now, role))
        uow.citizens.save_state(citizen, decision.state, now)
        if not bots_own:  # a citizen who writes is reachable (again)
            uow.contacts.upsert(citizen, event.channel, event.user_id, event.chat_id)
        elif event.kind is InboundKind.FOLLOW_UP and before.last_active_at is not None:
            # the bot's own follow-up is no activity of the citizen
            uow.citizens.set_last_seen(citizen, before.last_active_at)
        messages = list(decision.messages)
        outcome: FollowUpOutcome | None = None
        loaded: list[Outbound] = []  # answers the runtime rendered from stored data (their buttons count as offered)
        for effect in decision.effects:
            if isinstance(effect, FollowUpOutcome):
                outcome = effect
            elif isinstance(effect, StaffRequest):
                sender = Sender(event.channel, event.user_id, decision.state.language, event.encrypted)
                loaded.extend(self.desk.handle(uow, effect, sender, now))
            elif isinstance(effect, IdeaRequest):
                loaded.extend(self.board.handle(uow, effect, citizen, decision.state.language, now))
            elif isinstance(effect, ShowMyIdeas):
                loaded.extend(self.desk.my_ideas(uow, citizen, decision.state.language))
            elif isinstance(effect, ExportData):
                export = uow.citizens.export(citizen)
                messages.extend(
                    render_export(
                        export, decision.state.language, self.texts, self.fields, self.config.timezone,
                        self._catalog(),
                    )
                )
            else:
                self._apply(uow, citizen, before, effect, now, event.channel)
        if loaded:
            messages.extend(loaded)
            # Typed numbers and labels press these buttons too — unless the citizen is in a step with buttons of its
            # own (a field question, a survey): /ideen in between must not take over the step's numbers.
            flow = Flow.of(decision.state.flow, decision.state.consented)
            if flow in RUNTIME_PROMPTED and any(message.buttons for message in loaded):
                uow.citizens.save_state(citizen, offer(decision.state, loaded), now)
        delete = any(isinstance(effect, DeleteCitizen) for effect in decision.effects)
        if delete and messages:  # the goodbye: the channel may then drop what it keeps of the chat itself
            messages[-1] = replace(messages[-1], farewell=True)
        delivers = self._settle_follow_up(uow, citizen, before, follow_up_id, outcome, bool(messages), now)
        if follow_up_id is not None and delivers is None:
            self.unsent.append((event.channel, follow_up_id))
        self._queue(uow, event, messages, delivers, now)
        if delete:
            counts = uow.citizens.delete_everything(citizen)
            log.info("event=citizen_deleted rows=%s", sum(counts.values()))
        return bool(messages)

    def _apply(
        self, uow: UnitOfWork, citizen: str, before: CitizenState, effect: Effect, now: datetime, channel: str = ""
    ) -> None:
        """Store one effect of the core's decision (DeleteCitizen is done last, by `process`)."""
        match effect:
            case StartResponse(response_id, key, version, campaign_id):
                uow.responses.start(response_id, citizen, key, version, now, campaign_id=campaign_id)
            case SaveAnswer(response_id, question_id, value, classification):
                uow.responses.save_answer(response_id, question_id, value, now, classification)
            case DeleteAnswer(response_id, question_id):
                uow.responses.delete_answer(response_id, question_id)
            case CompleteResponse(response_id):
                uow.responses.complete(response_id, now)
            case SaveIdea(idea_id, text, field, fields, classification, embedding, embedding_model):
                uow.ideas.add(
                    idea_id, citizen, text, field, now, fields=fields, classification=classification,
                    embedding=_embedding_bytes(embedding), embedding_model=embedding_model,
                )  # fmt: skip
            case FindSimilar(draft_id, text):
                ideaboard_store.add_search(uow, citizen, channel, draft_id, text, now)
                self._searches.added = True
            case ScheduleFollowUp(due_at, kind, payload, response_id, campaign_id, unsolicited):
                uow.follow_ups.add(
                    citizen, due_at, kind, dict(payload), now=now, response_id=response_id,
                    campaign_id=campaign_id, unsolicited=unsolicited,
                )  # fmt: skip
            case SetOptIn(topic, on, fields, source):
                uow.opt_ins.set(
                    citizen, topic, on, fields=fields, source=source or "chat",
                    notice_version=self.config.consent_version, now=now,
                )  # fmt: skip
            case PauseOutreach(until):
                uow.citizens.set_paused(citizen, until)
                if before.paused_until is not None and before.paused_until != until:  # rows waiting for its end
                    uow.follow_ups.move_paused(citizen, before.paused_until, max(until or now, now), now)
            case StopOutreach():
                uow.opt_ins.withdraw_all(citizen, now)
                uow.follow_ups.cancel_unsolicited(citizen, OUTCOME_STOPPED, now)
            case ReleaseHeld():
                uow.follow_ups.release_held(citizen, now)
            case SetPublication(idea_id, consent):
                staff = staff_citizens(uow, self.config.staff, self.config.pseudonym_secret)
                publication.set_consent(uow, citizen, idea_id, consent, now, staff)

    def _settle_follow_up(
        self,
        uow: UnitOfWork,
        citizen: str,
        before: CitizenState,
        follow_up_id: int | None,
        outcome: FollowUpOutcome | None,
        has_messages: bool,
        now: datetime,
    ) -> int | None:
        """Record what became of the follow_ups row a FOLLOW_UP event brought; the row id if this decision's
        messages deliver it (they are then queued as bulk and the row counts as sent once they were sent)."""
        if follow_up_id is None:
            return None
        if outcome is None:  # a kind the core handles without saying: its messages are the delivery
            outcome = FollowUpOutcome(follow_up_id, FOLLOW_UP_SENT if has_messages else FOLLOW_UP_SKIPPED)
        if outcome.outcome == FOLLOW_UP_HELD:
            uow.follow_ups.hold(follow_up_id, now)
            return None
        paused = before.paused_until
        if outcome.reason == PAUSED and paused is not None and paused > now:  # a pause holds, it never drops
            uow.follow_ups.retry_at(follow_up_id, paused)
            return None
        if outcome.outcome != FOLLOW_UP_SENT or not has_messages:
            uow.follow_ups.finish(follow_up_id, FOLLOW_UP_SKIPPED, outcome.reason or OUTCOME_NOT_NEEDED, now)
            return None
        uow.follow_ups.mark_queued(follow_up_id, now)
        row = uow.follow_ups.get(follow_up_id)
        if row is not None and row.unsolicited:  # counts towards the daily cap
            uow.citizens.count_outreach(citizen, now.astimezone(self.config.timezone).date().isoformat())
        return follow_up_id

    @staticmethod
    def _queue(
        uow: UnitOfWork, event: Inbound, messages: Sequence[Outbound], delivers: int | None, now: datetime
    ) -> None:
        """Queue the messages in the outbox: as bulk carrying the follow-up's id on the last part when they deliver
        a follow-up (it counts as sent once all went out), as interactive replies otherwise."""
        for index, message in enumerate(messages):
            uow.outbox.enqueue(
                event.channel,
                event.chat_id,
                message.to_dict(),
                now=now,
                priority=PRIORITY_BULK if delivers is not None else PRIORITY_INTERACTIVE,
                follow_up_id=delivers if index == len(messages) - 1 else None,
            )
