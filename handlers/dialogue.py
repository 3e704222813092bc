"""The dialogue core's entry point: `handle(inbound, state, ctx) -> Decision`.

Every event passes the same gates in this order — crisis phrases (always answered, nothing consumed), the
flood limit, group chats, consent — and then the tables below decide: `STEPS` (what each step shows and does
with typed text and /abbrechen), `BUTTONS` (payload prefix → handler, and in which steps it is valid) and
`COMMANDS` (German names and English aliases).

Staff on the allowlist (`Context.staff_role`) are served by `handlers.staff` first; for everyone else
its commands and buttons do not exist. Due follow_ups rows (FOLLOW_UP events) go to `handlers.followup_flow`;
similar-idea search results (SIMILAR events) to `handlers.ideas.on_similar`.
After every decision, a queued opt-in question is added when the citizen is idle at the menu with nothing else
asked (`outreach.ask_if_due`), and rows held while the citizen was busy are released once they are idle again
(`ReleaseHeld`, see `_settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from handlers import (
    board,
    followup_flow,
    followup_offer,
    ideas,
    onboarding,
    outreach,
    privacy,
    publish,
    questions,
    staff,
    survey_flow,
    training,
)
from handlers.crisis import crisis_reply, is_crisis
from handlers.events import (
    UNDECRYPTABLE,
    CitizenState,
    Context,
    Decision,
    Inbound,
    InboundKind,
    Outbound,
    ReleaseHeld,
)
from handlers.state import IDLE_FLOWS, DialogueData, Flow
from handlers.turn import Turn, with_lead

Handler = Callable[[Turn], Decision]
PayloadHandler = Callable[[Turn, str], Decision | None]  # None: the button does not fit the current step


@dataclass(frozen=True)
class Step:
    """One step of the conversation: how it is shown, what typed text does, what /abbrechen does."""

    prompt: Handler
    on_text: Callable[[Turn, str], Decision] | None = None  # None: typed text picks one of the offered buttons
    on_cancel: Handler | None = None


STEPS: Mapping[Flow, Step] = MappingProxyType(
    {
        Flow.NEW: Step(prompt=onboarding.show_notice),
        Flow.CONSENT: Step(prompt=onboarding.show_notice),
        Flow.DECLINED: Step(prompt=onboarding.show_notice),
        Flow.MENU: Step(prompt=onboarding.show_menu),
        Flow.SURVEY_LIST: Step(prompt=survey_flow.show_list),
        Flow.SURVEY: Step(prompt=survey_flow.show_question, on_text=survey_flow.on_text, on_cancel=survey_flow.pause),
        Flow.IDEA_TEXT: Step(prompt=ideas.show_prompt, on_text=ideas.on_text, on_cancel=ideas.cancel),
        Flow.IDEA_SEARCH: Step(prompt=ideas.waiting, on_text=ideas.waiting_text, on_cancel=ideas.cancel),
        Flow.IDEA_SIMILAR: Step(prompt=ideas.show_similar, on_cancel=ideas.cancel),
        Flow.IDEA_FIELD: Step(prompt=ideas.show_fields, on_cancel=ideas.cancel),
        Flow.IDEA_FIELDS: Step(prompt=ideas.show_fields, on_cancel=ideas.cancel),
        Flow.IDEA_PUBLISH: Step(prompt=publish.show_question, on_text=publish.on_text, on_cancel=publish.not_now),
        Flow.TRAINING_CONSENT: Step(
            prompt=training.show_question, on_text=training.on_text, on_cancel=training.not_now
        ),
        Flow.DELETE_CONFIRM: Step(prompt=privacy.ask_delete, on_cancel=privacy.keep),
        Flow.ABO: Step(prompt=outreach.show_abo, on_cancel=outreach.cancel_abo),
        Flow.ABO_FIELDS: Step(prompt=outreach.show_fields, on_cancel=outreach.cancel_abo),
        Flow.FOLLOW_UP: Step(
            prompt=followup_flow.show_question, on_text=followup_flow.on_text, on_cancel=followup_flow.cancel
        ),
        Flow.STAFF_NOTE: Step(prompt=staff.prompt, on_cancel=staff.cancel),
        Flow.STAFF_CONFIRM: Step(prompt=staff.prompt, on_cancel=staff.cancel),
    }
)


@dataclass(frozen=True)
class ButtonRoute:
    """Where a payload prefix goes. `flows`: the steps it belongs to (None: any step after consent)."""

    handle: PayloadHandler
    flows: frozenset[Flow] | None = None
    before_consent: bool = False


def _question(in_survey: PayloadHandler, in_follow_up: PayloadHandler) -> PayloadHandler:
    """A question button acts on the follow-up question while one is being answered, else on the survey."""

    def route(turn: Turn, rest: str) -> Decision | None:
        return (in_follow_up if turn.flow is Flow.FOLLOW_UP else in_survey)(turn, rest)

    return route


def _on_menu(turn: Turn, item: str) -> Decision | None:
    handler = MENU_ITEMS.get(item)
    return None if handler is None else handler(turn)


MENU_ITEMS: Mapping[str, Handler] = MappingProxyType(
    {
        "surveys": survey_flow.show_list,
        "idea": ideas.start,
        "data": privacy.export,
        "help": onboarding.help_with_menu,
        "resume": survey_flow.resume,
    }
)

BUTTONS: Mapping[str, ButtonRoute] = MappingProxyType(
    {
        onboarding.CONSENT: ButtonRoute(
            onboarding.on_consent, flows=frozenset({Flow.CONSENT, Flow.DECLINED}), before_consent=True
        ),
        onboarding.MENU: ButtonRoute(_on_menu),
        survey_flow.START: ButtonRoute(survey_flow.on_start),
        questions.ANSWER: ButtonRoute(_question(survey_flow.on_answer, followup_flow.on_answer)),
        questions.TOGGLE: ButtonRoute(_question(survey_flow.on_toggle, followup_flow.on_toggle)),
        questions.DONE: ButtonRoute(_question(survey_flow.on_done, followup_flow.on_done)),
        questions.SKIP: ButtonRoute(_question(survey_flow.on_skip, followup_flow.on_skip)),
        ideas.FIELD: ButtonRoute(ideas.on_field, flows=frozenset({Flow.IDEA_FIELD})),
        ideas.CHOICE: ButtonRoute(ideas.on_choice, flows=frozenset({Flow.IDEA_FIELD})),
        ideas.TOGGLE: ButtonRoute(ideas.on_toggle, flows=frozenset({Flow.IDEA_FIELDS})),
        ideas.DONE: ButtonRoute(ideas.on_done, flows=frozenset({Flow.IDEA_FIELDS})),
        ideas.SUPPORT_SIMILAR: ButtonRoute(ideas.on_support_similar, flows=frozenset({Flow.IDEA_SIMILAR})),
        ideas.DIFFERENT: ButtonRoute(ideas.on_different),  # also after a support that failed (the draft set aside)
        publish.PUBLISH: ButtonRoute(publish.on_answer),
        board.BROWSE: ButtonRoute(board.on_browse),
        board.SUPPORT: ButtonRoute(board.on_support),
        board.UNSUPPORT: ButtonRoute(board.on_unsupport),
        board.NEWS: ButtonRoute(board.on_news),
        board.WITHDRAW: ButtonRoute(board.on_withdraw),
        training.CONSENT: ButtonRoute(training.on_answer, flows=frozenset({Flow.TRAINING_CONSENT})),
        privacy.DELETE: ButtonRoute(privacy.on_confirm, flows=frozenset({Flow.DELETE_CONFIRM}), before_consent=True),
        outreach.ABO: ButtonRoute(outreach.on_abo, flows=IDLE_FLOWS),
        outreach.ABO_FIELD: ButtonRoute(outreach.on_field, flows=frozenset({Flow.ABO_FIELDS})),
        outreach.PAUSE: ButtonRoute(outreach.on_pause),
        outreach.ASK: ButtonRoute(outreach.on_ask),
        followup_offer.OFFER: ButtonRoute(followup_offer.on_offer),
        followup_flow.INVITE: ButtonRoute(followup_flow.on_invite),
    }
)


@dataclass(frozen=True)
class Command:
    handle: Handler
    before_consent: bool = False
    with_outdated_consent: bool = False  # also for citizens who agreed to an earlier privacy notice

    def allowed_without_consent(self, turn: Turn) -> bool:
        """Whether the command works without consent to the notice in force (it stores nothing new)."""
        return self.before_consent or (self.with_outdated_consent and turn.consent_outdated)


def _cancel(turn: Turn) -> Decision:
    step = STEPS[turn.flow]
    if step.on_cancel is not None:
        return step.on_cancel(turn)
    return onboarding.menu(turn, lead=turn.t("common.nothing_to_cancel"))


def _language(turn: Turn) -> Decision:
    switched = onboarding.switch_language(turn)
    if switched.consent_outdated:  # the new notice, in the new language, not the step it interrupted
        return with_lead(onboarding.show_notice(switched), switched.t("language.changed"))
    return with_lead(STEPS[switched.flow].prompt(switched), switched.t("language.changed"))


_RIGHTS: tuple[Handler, ...] = (privacy.export, privacy.my_ideas, outreach.stop_command)


def _commands(*entries: tuple[tuple[str, ...], Handler, bool]) -> Mapping[str, Command]:
    # Seeing one's stored data is a right that does not wait for the new notice to be accepted.
    return MappingProxyType(
        {
            name: Command(handler, early, with_outdated_consent=handler in _RIGHTS)
            for names, handler, early in entries
            for name in names
        }
    )


COMMANDS: Mapping[str, Command] = _commands(
    (("start",), onboarding.start, True),
    (("hilfe", "help"), onboarding.show_help, True),
    (("sprache", "language"), _language, True),
    (("datenschutz", "privacy"), onboarding.privacy_info, True),
    (("loeschen", "delete"), privacy.ask_delete, True),
    (("menu", "menue"), onboarding.show_menu, False),
    (("umfragen", "surveys"), survey_flow.show_list, False),
    (("weiter", "resume", "continue"), survey_flow.resume, False),
    (("zurueck", "back"), survey_flow.back, False),
    (("ueberspringen", "skip"), survey_flow.skip_command, False),
    (("abbrechen", "cancel"), _cancel, False),
    (("idee", "idea"), ideas.start, False),
    (("meinedaten", "mydata"), privacy.export, False),
    (("meineideen", "myideas"), privacy.my_ideas, False),
    (("ideen", "ideas"), board.browse, False),
    (("training",), training.toggle, False),
    (("abo", "abos", "subscriptions"), outreach.show_abo, False),
    (("pause",), outreach.pause_command, False),
    (("stop",), outreach.stop_command, False),
)


# --------------------------------------------------------------------------------------------------- entry point


def handle(inbound: Inbound, state: CitizenState, ctx: Context) -> Decision:
    """Decide what happens for one event of one citizen (pure: no I/O)."""
    if inbound.kind is InboundKind.FOLLOW_UP:
        turn = Turn(inbound, state, DialogueData.from_dict(state.data), ctx)
        return _settle(turn, followup_flow.on_follow_up(turn))
    if inbound.kind is InboundKind.SIMILAR:  # the runtime's answer to FindSimilar, not something the citizen did
        return ideas.on_similar(Turn(inbound, state, DialogueData.from_dict(state.data), ctx))
    current = state
    if Flow.of(state.flow, state.consented) is Flow.NEW and not state.language_chosen:
        current = state.evolve(language=onboarding.language_from_hint(inbound.language_hint))
    data = DialogueData.from_dict(current.data)
    if current.consented and DialogueData.written_before_outreach(current.data):
        # Agreed before invitations existed: asked once about them, at their next calm moment.
        data = outreach.want_to_ask(data, Turn(inbound, current, data, ctx), outreach.SURVEYS, "invite_prompt")
    bucket, over_limit = data.flood.register(inbound.received_at)
    turn = Turn(inbound, current, data.evolve(flood=bucket), ctx)
    if is_crisis(_written_text(inbound), ctx.texts):
        # Safety before everything, the flood limit included; the step stays where it was.
        return turn.reply(crisis_reply(ctx.texts, turn.lang))
    if over_limit:
        if bucket.noticed:
            return Decision(state=state)
        return turn.reply(
            Outbound(text=turn.t("common.flood")), data=turn.data.evolve(flood=replace(bucket, noticed=True))
        )
    return _settle(turn, outreach.ask_if_due(turn, _dispatch(turn)))


def _settle(turn: Turn, decision: Decision) -> Decision:
    """Tidy up after any decision: a follow-up question left unanswered is dropped, and rows held while the
    citizen was busy are released (`ReleaseHeld`) once they are idle again."""
    data = DialogueData.from_dict(decision.state.data)
    flow = Flow.of(decision.state.flow, decision.state.consented)
    effects = decision.effects
    changed = data
    if data.answering is not None and flow is not Flow.FOLLOW_UP:
        changed = changed.evolve(answering=None)
    if data.parked is not None and data.parked == turn.data.parked:  # a draft set aside lives one turn only
        changed = changed.evolve(parked=None)
    if data.held and flow in IDLE_FLOWS:
        changed = changed.evolve(held=False)
        effects = (*effects, ReleaseHeld())
    if changed is data:
        return decision
    return replace(decision, state=decision.state.evolve(data=changed.to_dict()), effects=effects)


def _written_text(inbound: Inbound) -> str:
    if inbound.kind is InboundKind.COMMAND:
        return inbound.args
    if inbound.kind in (InboundKind.TEXT, InboundKind.EDITED, InboundKind.GROUP, InboundKind.MEDIA):
        return inbound.text  # a photo's caption included
    return ""


def _dispatch(turn: Turn) -> Decision:
    turn = staff.leave(turn)
    staff_decision = staff.route(turn)  # None for anyone not on the staff allowlist: the citizen's path below
    if staff_decision is not None:
        return staff_decision
    inbound = turn.inbound
    kind = inbound.kind
    if kind is InboundKind.GROUP:
        return turn.reply(Outbound(text=turn.t("common.group")))
    if kind is InboundKind.COMMAND:
        return _command(turn)
    if kind is InboundKind.BUTTON:
        return _button(turn, inbound.payload)
    if not turn.consented:
        if kind is InboundKind.TEXT:
            typed = turn.data.offered.match(inbound.text)
            if typed is None and turn.flow is Flow.CONSENT:
                typed = onboarding.typed_consent(turn, inbound.text)
            if typed is not None:
                return _button(turn, typed)
        return onboarding.show_notice(turn)
    if kind is InboundKind.TEXT:
        return _text(turn, inbound.text)
    if kind is InboundKind.EDITED:
        return turn.reply(Outbound(text=turn.t("common.edited")))
    if inbound.media == UNDECRYPTABLE:
        return with_lead(STEPS[turn.flow].prompt(turn), turn.t("common.undecryptable"))
    if inbound.text.strip():
        # A picture with a caption: the caption is answered as if typed; the picture itself is not kept.
        return with_lead(_text(turn, inbound.text.strip()), turn.t("common.media_caption"))
    return with_lead(STEPS[turn.flow].prompt(turn), turn.t("common.media"))


def _command(turn: Turn) -> Decision:
    command = COMMANDS.get(turn.inbound.command)
    if not turn.consented and (command is None or not command.allowed_without_consent(turn)):
        return onboarding.show_notice(turn)
    if command is None:
        return turn.reply(Outbound(text=turn.t("common.unknown_command")))
    return command.handle(turn)


def _button(turn: Turn, payload: str) -> Decision:
    if turn.ctx.staff_role is not None:  # a staff button picked by typing its number or label
        staff_decision = staff.press(turn, payload)
        if staff_decision is not None:
            return staff_decision
    prefix, _, rest = payload.partition(":")
    route = BUTTONS.get(prefix)
    if (
        route is not None
        and (turn.consented or route.before_consent)
        and (route.flows is None or turn.flow in route.flows)
    ):
        decision = route.handle(turn, rest)
        if decision is not None:
            return decision
    if not turn.consented:
        return onboarding.show_notice(turn)
    # An old or double-tapped button: say so and show the current step again, never act twice.
    return with_lead(STEPS[turn.flow].prompt(turn), turn.t("common.stale"))


def _text(turn: Turn, text: str) -> Decision:
    step = STEPS[turn.flow]
    if step.on_text is not None:
        return step.on_text(turn, text)
    payload = turn.data.offered.match(text)
    if payload is not None:
        return _button(turn, payload)
    return with_lead(step.prompt(turn), turn.t("common.choose"))
