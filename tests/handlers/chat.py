"""A simulated citizen for dialogue tests: feeds events to `handle`, keeps the state the way the runtime
does (JSON round trip of `data`), applies effects to an in-memory store and tracks message ids for edits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from handlers.dialogue import handle
from handlers.events import (
    Button,
    CitizenState,
    CompleteResponse,
    Context,
    Decision,
    DeleteAnswer,
    DeleteCitizen,
    ExportData,
    FieldInfo,
    FieldScores,
    FindSimilar,
    FollowUpOutcome,
    IdeaRequest,
    Inbound,
    InboundKind,
    Outbound,
    PauseOutreach,
    ReleaseHeld,
    SaveAnswer,
    SaveIdea,
    ScheduleFollowUp,
    SetOptIn,
    SetPublication,
    ShowMyIdeas,
    SimilarIdea,
    SimilarResult,
    StaffRequest,
    StartResponse,
    StopOutreach,
)
from handlers.fields import field_infos
from handlers.texts import TextCatalog, load_texts
from surveys.catalog import SurveyCatalog, SurveyVersion
from surveys.schema import Survey

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@cache
def texts() -> TextCatalog:
    return load_texts()


@cache
def fields() -> tuple[FieldInfo, ...]:
    return field_infos()


def catalog_of(*surveys: Survey) -> SurveyCatalog:
    return SurveyCatalog([SurveyVersion(s.id, 1, s) for s in surveys])


@dataclass
class Response:
    key: str
    version: int
    answers: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    campaign_id: int | None = None


@dataclass
class Store:
    """What the runtime would have stored, built from the effects."""

    responses: dict[str, Response] = field(default_factory=dict)
    ideas: list[SaveIdea] = field(default_factory=list)
    answer_classifications: dict[tuple[str, str], FieldScores | None] = field(default_factory=dict)
    exports: int = 0
    deletions: int = 0
    opt_ins: list[SetOptIn] = field(default_factory=list)
    scheduled: list[ScheduleFollowUp] = field(default_factory=list)
    outcomes: list[FollowUpOutcome] = field(default_factory=list)
    releases: int = 0
    staff_requests: list[StaffRequest] = field(default_factory=list)
    my_ideas: int = 0
    pauses: list[PauseOutreach] = field(default_factory=list)
    stops: int = 0
    searches: list[FindSimilar] = field(default_factory=list)
    publications: list[SetPublication] = field(default_factory=list)
    idea_requests: list[IdeaRequest] = field(default_factory=list)

    def apply(self, decision: Decision) -> None:
        for effect in decision.effects:
            if isinstance(effect, StartResponse):
                response = Response(effect.survey_key, effect.survey_version, campaign_id=effect.campaign_id)
                self.responses[effect.response_id] = response
            elif isinstance(effect, SetOptIn):
                self.opt_ins.append(effect)
            elif isinstance(effect, ScheduleFollowUp):
                self.scheduled.append(effect)
            elif isinstance(effect, FollowUpOutcome):
                self.outcomes.append(effect)
            elif isinstance(effect, ReleaseHeld):
                self.releases += 1
            elif isinstance(effect, PauseOutreach):
                self.pauses.append(effect)
            elif isinstance(effect, StopOutreach):
                self.stops += 1
            elif isinstance(effect, SaveAnswer):
                self.responses[effect.response_id].answers[effect.question_id] = effect.value
                self.answer_classifications[(effect.response_id, effect.question_id)] = effect.classification
            elif isinstance(effect, DeleteAnswer):
                self.responses[effect.response_id].answers.pop(effect.question_id, None)
            elif isinstance(effect, CompleteResponse):
                self.responses[effect.response_id].complete = True
            elif isinstance(effect, SaveIdea):
                self.ideas.append(effect)
            elif isinstance(effect, ExportData):
                self.exports += 1
            elif isinstance(effect, StaffRequest):
                self.staff_requests.append(effect)
            elif isinstance(effect, ShowMyIdeas):
                self.my_ideas += 1
            elif isinstance(effect, FindSimilar):
                self.searches.append(effect)
            elif isinstance(effect, SetPublication):
                self.publications.append(effect)
            elif isinstance(effect, IdeaRequest):
                self.idea_requests.append(effect)
            elif isinstance(effect, DeleteCitizen):
                self.responses.clear()
                self.ideas.clear()
                self.deletions += 1


def matching_payload(payloads: Sequence[str], wanted: str) -> str | None:
    """`wanted` if offered, else the offered `wanted:<draft id>` (idea buttons end in their draft's id)."""
    if wanted in payloads:
        return wanted
    prefix = wanted + ":"
    return next((p for p in payloads if p.startswith(prefix) and ":" not in p[len(prefix) :]), None)


def button_payload(message: Outbound, payload: str) -> str | None:
    """The payload of the message's button `payload`, or of `payload:<draft id>`."""
    return matching_payload([button.payload for button in message.all_buttons()], payload)


class Chat:
    """One citizen talking to the core."""

    def __init__(
        self,
        catalog: SurveyCatalog,
        *,
        language_hint: str | None = "de",
        step: timedelta = timedelta(seconds=5),
        idea_max_length: int = 2000,
        consent_version: str = "2025-1",
        controller: str = "",
        complaints: str = "",
        staff_role: str | None = None,
        similar_search: bool = False,
    ) -> None:
        self.catalog = catalog
        self.similar_search = similar_search  # whether the runtime could search similar ideas
        self.staff_role = staff_role  # the sender's role on the staff allowlist (None: a citizen)
        self.controller = controller
        self.complaints = complaints
        self.consent_version = consent_version  # the privacy notice in force; tests may change it mid-chat
        self.language_hint = language_hint
        self.step = step
        self.idea_max_length = idea_max_length
        self.state = CitizenState()
        self.now = START
        self.last_active: datetime | None = None
        self.count = 0
        self.store = Store()
        self.decisions: list[Decision] = []
        self.messages: dict[str, Outbound] = {}  # message ref → message as it looks now

    # -------------------------------------------------------------------------------------------- sending
    def event(self, kind: InboundKind, **values: Any) -> Decision:
        self.count += 1
        inbound = Inbound(
            kind=kind,
            channel="test",
            user_id="u1",
            chat_id="c1",
            event_id=f"e{self.count}",
            received_at=self.now,
            language_hint=self.language_hint,
            **values,
        )
        ctx = Context(
            catalog=self.catalog,
            texts=texts(),
            fields=fields(),
            now=self.now,
            new_id=f"id-{self.count}",
            consent_version=self.consent_version,
            idea_max_length=self.idea_max_length,
            controller=self.controller,
            complaints=self.complaints,
            staff_role=self.staff_role,
            similar_search=self.similar_search,
        )
        state = self.state
        if kind is InboundKind.FOLLOW_UP:  # as the runtime loads it: when the citizen last wrote
            state = state.evolve(last_active_at=self.last_active)
        decision = handle(inbound, state, ctx)
        # The runtime stores `data` as JSON: whatever survives this round trip is what the next event sees.
        self.state = replace(decision.state, data=json.loads(json.dumps(decision.state.data)))
        if kind is not InboundKind.FOLLOW_UP:
            self.last_active = inbound.received_at
        self.store.apply(decision)
        for message in decision.messages:
            if message.replaces is not None:
                self.messages[message.replaces] = message
            else:
                self.messages[f"m{len(self.messages) + 1}"] = message
        self.decisions.append(decision)
        self.now += self.step
        return decision

    def say(self, text: str, classification: FieldScores | None = None) -> Decision:
        """Type `text`; `classification` stands in for what the runtime's classifier made of it."""
        return self.event(InboundKind.TEXT, text=text, classification=classification)

    def command(self, name: str, args: str = "", classification: FieldScores | None = None) -> Decision:
        """Send /name args; `classification` stands in for what the runtime's classifier made of `args`."""
        text = f"/{name} {args}".strip()
        return self.event(InboundKind.COMMAND, command=name, args=args, text=text, classification=classification)

    def press(self, payload: str, ref: str | None = None) -> Decision:
        """Press the button with `payload` on the newest message that has it (or on message `ref`).

        Idea buttons end in the draft's id (`f:umwelt:<id>`); "f:umwelt" presses the newest such button.
        """
        for message_ref, message in reversed(self.messages.items()):
            if ref is not None and message_ref != ref:
                continue
            found = button_payload(message, payload)
            if found is not None:
                return self.event(InboundKind.BUTTON, payload=found, message_ref=message_ref)
        if ref is None:
            raise AssertionError(f"no message has a button {payload!r}")
        return self.event(InboundKind.BUTTON, payload=payload, message_ref=ref)  # a button long gone

    def press_label(self, label: str) -> Decision:
        """Press the button labelled `label` on the newest message with buttons."""
        button = next(b for b in self.last_buttons() if b.label.removeprefix("✓ ") == label)
        return self.press(button.payload)

    def follow_up(self, kind: str, follow_up_id: int | None = 1, **payload: Any) -> Decision:
        """The scheduler feeds a due follow_ups row of `kind` back (as the runtime does: id plus row payload)."""
        args = dict(payload) if follow_up_id is None else {"follow_up_id": follow_up_id, **payload}
        return self.event(InboundKind.FOLLOW_UP, payload=kind, args=json.dumps(args))

    def similar(self, *matches: SimilarIdea, vector: str | None = "AAAA", draft_id: str | None = None) -> Decision:
        """The runtime's answer to the last `FindSimilar` (for its draft unless `draft_id` is given)."""
        draft = draft_id if draft_id is not None else self.store.searches[-1].draft_id
        result = SimilarResult(draft, tuple(matches), vector, "test-embedder" if vector else None)
        return self.event(InboundKind.SIMILAR, args=result.to_json())

    def publish(self, answer: str = "no") -> Decision:
        """Answer the publication question asked after an idea was filed ("yes", "keep" or "no")."""
        return self.press(f"pb:{answer}:{self.store.ideas[-1].idea_id}")

    def opt_in(self, topic: str, *fields: str) -> None:
        """What the runtime would load after a stored opt-in (as if given earlier, e.g. in /abo)."""
        self.state = self.state.evolve(opt_ins={**self.state.opt_ins, topic: tuple(fields)})

    def agree(self) -> Decision:
        self.say("Hallo")
        return self.press("consent:yes")

    # -------------------------------------------------------------------------------------------- reading
    @property
    def last(self) -> Decision:
        return self.decisions[-1]

    @property
    def text(self) -> str:
        """All texts the last decision sent, one after the other."""
        return "\n---\n".join(m.text for m in self.last.messages)

    @property
    def flow(self) -> str:
        return self.state.flow

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.state.data)

    def last_buttons(self) -> list[Button]:
        message = next(m for m in reversed(self.messages.values()) if m.buttons)
        return message.all_buttons()

    def labels(self) -> list[str]:
        return [b.label for b in self.last_buttons()]

    def menu_labels(self) -> list[str]:
        """The labels of the newest main menu sent (an opt-in question may follow it)."""
        message = next(
            m for m in reversed(self.messages.values()) if any(b.payload.startswith("m:") for b in m.all_buttons())
        )
        return [b.label for b in message.all_buttons()]

    def only_response(self) -> Response:
        (response,) = self.store.responses.values()
        return response


def current_question(chat: Chat) -> str:
    """Id of the question the citizen is at in the unfinished survey."""
    return str(chat.data["survey"]["current"])
