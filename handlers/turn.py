"""One event being handled: the inbound, the citizen's state and the context, plus the helpers every flow
uses to answer (texts in the citizen's language, buttons, and folding the result into a `Decision`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from handlers.events import Button, CitizenState, Context, Decision, Effect, Inbound, InboundKind, Outbound
from handlers.state import IDEA_FLOWS, DialogueData, Flow, Offered

MAX_TEXT = 4096
"""Longest text one message may carry (Telegram's limit; the strictest of our channels)."""


@dataclass(frozen=True)
class Turn:
    """The event being handled and everything needed to answer it."""

    inbound: Inbound
    state: CitizenState
    data: DialogueData
    ctx: Context

    @property
    def lang(self) -> str:
        return self.state.language

    @property
    def consented(self) -> bool:
        """Consent to the privacy notice in force (`Context.consent_version`): only then is anything new stored."""
        return self.state.consent_version == self.ctx.consent_version

    @property
    def consent_outdated(self) -> bool:
        """Agreed to an earlier version of the privacy notice: their data stays, the new notice must be agreed to."""
        return self.state.consented and not self.consented

    @property
    def flow(self) -> Flow:
        return Flow.of(self.state.flow, self.state.consented)

    def t(self, key: str, **values: Any) -> str:
        """The text `key` in the citizen's language."""
        return self.ctx.texts.get(key, self.lang, **values)

    def with_state(self, state: CitizenState) -> Turn:
        return replace(self, state=state)

    def with_data(self, data: DialogueData) -> Turn:
        return replace(self, data=data)

    def reply(
        self,
        *messages: Outbound,
        flow: Flow | None = None,
        data: DialogueData | None = None,
        effects: Sequence[Effect] = (),
        **state_changes: Any,
    ) -> Decision:
        """The decision: send `messages`, move to `flow`, keep `data` (default: unchanged).

        The buttons of the last message that has any become the ones typed numbers and labels refer to; a move
        to another step without buttons forgets the old ones so a typed "2" cannot press a button from before.
        An idea draft is kept only while the citizen is in the idea steps (it is their text, unsaved).
        """
        new_data = self.data if data is None else data
        new_flow = self.flow if flow is None else flow
        if new_data.idea is not None and new_flow not in IDEA_FLOWS:
            new_data = new_data.evolve(idea=None)
        sent = split_long(messages)
        offered = _offered(sent)
        if offered is not None:
            new_data = new_data.evolve(offered=offered)
        elif new_flow is not self.flow:
            new_data = new_data.evolve(offered=Offered())
        state = self.state.evolve(flow=new_flow.value, data=new_data.to_dict(), **state_changes)
        return Decision(state=state, messages=sent, effects=tuple(effects))

    def edit_answered(self, question: str, answer: str) -> tuple[Outbound, ...]:
        """When a button was pressed: edit its message to show the chosen answer and drop the keyboard."""
        if self.inbound.kind is not InboundKind.BUTTON or self.inbound.message_ref is None:
            return ()
        return (Outbound(text=f"{question} ✓ {answer}", replaces=self.inbound.message_ref),)


def _offered(messages: Sequence[Outbound]) -> Offered | None:
    """The buttons of the last message that has any (None: no message has buttons)."""
    with_buttons = [m for m in messages if m.buttons]
    if not with_buttons:
        return None
    return Offered(tuple((b.payload, b.label) for b in with_buttons[-1].all_buttons()))


def offer(state: CitizenState, messages: Sequence[Outbound]) -> CitizenState:
    """`state` with the buttons of `messages` as the ones typed numbers and labels refer to — for answers the
    runtime renders from stored data after the core decided (staff views)."""
    offered = _offered(messages)
    if offered is None:
        return state
    data = DialogueData.from_dict(state.data).evolve(offered=offered)
    return state.evolve(data=data.to_dict())


def column(buttons: Iterable[Button]) -> tuple[tuple[Button, ...], ...]:
    """One button per row (long labels stay readable on narrow phone screens)."""
    return tuple((b,) for b in buttons)


def clip(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters, marked with "…" when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def with_lead(decision: Decision, lead: str) -> Decision:
    """`decision` with `lead` put in front of its first message (or as a message of its own when that one
    edits an earlier message or there is none), so a hint and the prompt it refers to arrive together."""
    messages = decision.messages
    if messages and messages[0].replaces is None and len(lead) + len(messages[0].text) + 2 <= MAX_TEXT:
        first = replace(messages[0], text=f"{lead}\n\n{messages[0].text}")
        return replace(decision, messages=(first, *messages[1:]))
    return replace(decision, messages=(Outbound(text=lead), *messages))


def split_long(messages: Sequence[Outbound]) -> tuple[Outbound, ...]:
    """Messages longer than `MAX_TEXT` split at paragraph or line breaks; buttons stay on the last part."""
    result: list[Outbound] = []
    for message in messages:
        if len(message.text) <= MAX_TEXT:
            result.append(message)
            continue
        parts = _chunks(message.text)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            result.append(
                Outbound(
                    text=part,
                    buttons=message.buttons if last else (),
                    document=message.document if last else None,
                    replaces=message.replaces if index == 0 else None,
                    question=message.question and last,
                    multi=message.multi and last,
                )
            )
    return tuple(result)


def _chunks(text: str) -> list[str]:
    chunks: list[str] = []
    rest = text
    while len(rest) > MAX_TEXT:
        window = rest[:MAX_TEXT]
        cut = window.rfind("\n\n")
        for separator in ("\n", " "):
            if cut < MAX_TEXT // 2:
                cut = window.rfind(separator)
        if cut < MAX_TEXT // 2:
            cut = MAX_TEXT
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks
