"""May other citizens see the idea? Asked right after an idea is filed, in the thanks message.

Three answers: "Ja, zeigen" (published after staff approve it; it disappears when the author deletes their data),
"Ja, dauerhaft" (the same, and an approved public text that has supporters stays when the author deletes their
data — without any link to them) and "Nein" (only the city sees it). Nothing is shown to anyone before staff
approve the wording; the author can withdraw at any time in /meineideen.

Button payloads: `pb:<yes|keep|no>:<idea id>` (the idea's internal id; valid later too, from an older message).
After the answer: the one-time training question when it is due (`PublishQuestion.then_training`), else the menu.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers import onboarding, training
from handlers.events import (
    PUBLISH_CONSENTS,
    PUBLISH_KEEP,
    PUBLISH_NO,
    PUBLISH_YES,
    Button,
    Decision,
    Effect,
    Outbound,
    SetPublication,
)
from handlers.state import DialogueData, Flow
from handlers.turn import Turn, column, with_lead
from surveys.engine import fold

PUBLISH = "pb"
IDEA_ID = re.compile(r"[0-9A-Za-z_-]{1,48}")
"""What an idea id in a payload may look like (the core makes 32-hex ids from `Context.new_id`); the runtime
checks that the idea exists and what the citizen may do with it."""

_LABELS = {PUBLISH_YES: "publish.show", PUBLISH_KEEP: "publish.keep", PUBLISH_NO: "publish.private"}


def _question(turn: Turn, idea_id: str, lead: str | None = None) -> Outbound:
    text = turn.t("publish.question")
    buttons = [Button(f"{PUBLISH}:{answer}:{idea_id}", turn.t(_LABELS[answer])) for answer in PUBLISH_CONSENTS]
    return Outbound(text=text if lead is None else f"{lead}\n\n{text}", buttons=column(buttons))


def ask(turn: Turn, *before: Outbound, lead: str, data: DialogueData, effects: Sequence[Effect]) -> Decision:
    """Send `before`, then the thanks (`lead`) with the publication question of `data.publish`."""
    assert data.publish is not None
    message = _question(turn, data.publish.idea_id, lead)
    return turn.reply(*before, message, flow=Flow.IDEA_PUBLISH, data=data, effects=effects)


def show_question(turn: Turn) -> Decision:
    """The question again (the step's prompt)."""
    if turn.data.publish is None:
        return onboarding.menu(turn)
    return turn.reply(_question(turn, turn.data.publish.idea_id), flow=Flow.IDEA_PUBLISH)


def on_answer(turn: Turn, rest: str) -> Decision | None:
    """`pb:<answer>:<idea id>`: record the answer, say what happens next, then go on."""
    answer, _, idea_id = rest.partition(":")
    if answer not in PUBLISH_CONSENTS or not IDEA_ID.fullmatch(idea_id):
        return None
    edit = turn.edit_answered(turn.t("publish.question"), turn.t(_LABELS[answer]))
    effect = SetPublication(idea_id=idea_id, consent=answer)
    said = turn.t("publish.said_no" if answer == PUBLISH_NO else "publish.said_yes")
    pending = turn.data.publish
    if pending is None or pending.idea_id != idea_id or turn.flow is not Flow.IDEA_PUBLISH:
        # A button of an earlier idea's message: recorded; the citizen stays where they are.
        return turn.reply(*edit, Outbound(text=said), effects=[effect])
    return _go_on(turn, edit, said, [effect])


def on_text(turn: Turn, text: str) -> Decision:
    """Typed "ja"/"nein" (or a button's number or label) answers; anything else asks again."""
    pending = turn.data.publish
    payload = turn.data.offered.match(text)
    typed = fold(text)
    if payload is None and pending is not None:
        if typed == fold(turn.t("common.word_yes")):
            payload = f"{PUBLISH}:{PUBLISH_YES}:{pending.idea_id}"
        elif typed == fold(turn.t("common.word_no")):
            payload = f"{PUBLISH}:{PUBLISH_NO}:{pending.idea_id}"
    if payload is not None and payload.startswith(f"{PUBLISH}:"):
        decision = on_answer(turn, payload.removeprefix(f"{PUBLISH}:"))
        if decision is not None:
            return decision
    return with_lead(show_question(turn), turn.t("common.choose"))


def not_now(turn: Turn) -> Decision:
    """/abbrechen on the question: nothing is published; go on."""
    return _go_on(turn, (), turn.t("publish.said_no"), [])


def _go_on(turn: Turn, edit: Sequence[Outbound], said: str, effects: Sequence[Effect]) -> Decision:
    pending = turn.data.publish
    data = turn.data.evolve(publish=None)
    if pending is not None and pending.then_training and turn.state.training_consent is None:
        return training.ask(turn, *edit, lead=said, data=data, effects=effects)
    return onboarding.menu(turn, *edit, lead=said, data=data, effects=effects)
