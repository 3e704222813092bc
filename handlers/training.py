"""May confirmed idea texts (without names, phone numbers and e-mail addresses) train the classifier?

Asked once, after the first idea saved with a field the citizen chose (`CitizenState.training_consent` is None
until then); `/training` switches it on or off at any time and says the new setting.

Button payloads: `tc:yes`, `tc:no`.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers import onboarding
from handlers.events import Button, Decision, Effect, Outbound
from handlers.state import DialogueData, Flow
from handlers.turn import Turn
from surveys.engine import fold

CONSENT = "tc"


def _question(turn: Turn, lead: str | None = None) -> Outbound:
    text = turn.t("training.question")
    buttons = (
        (Button(f"{CONSENT}:yes", turn.t("training.agree")), Button(f"{CONSENT}:no", turn.t("training.decline"))),
    )
    return Outbound(text=text if lead is None else f"{lead}\n\n{text}", buttons=buttons)


def ask(
    turn: Turn, *before: Outbound, lead: str | None = None, data: DialogueData | None = None, effects: Sequence[Effect]
) -> Decision:
    """Send `before`, then the training question (with `lead` on top)."""
    return turn.reply(*before, _question(turn, lead), flow=Flow.TRAINING_CONSENT, data=data, effects=effects)


def show_question(turn: Turn) -> Decision:
    """The training question again (the step's prompt)."""
    return turn.reply(_question(turn), flow=Flow.TRAINING_CONSENT)


def on_answer(turn: Turn, answer: str) -> Decision | None:
    """`tc:yes` / `tc:no`: remember the answer, say how to change it, back to the menu."""
    if answer not in ("yes", "no"):
        return None
    allowed = answer == "yes"
    edit = turn.edit_answered(turn.t("training.question"), turn.t("training.agree" if allowed else "training.decline"))
    return onboarding.menu(turn, *edit, lead=_setting(turn, allowed), training_consent=allowed)


def on_text(turn: Turn, text: str) -> Decision:
    """Typed "ja"/"nein" (or a button's number or label) answers the question; anything else asks again."""
    typed = fold(text)
    payload = turn.data.offered.match(text)
    if payload is None and typed in (fold(turn.t("common.word_yes")), fold(turn.t("common.word_no"))):
        payload = f"{CONSENT}:{'yes' if typed == fold(turn.t('common.word_yes')) else 'no'}"
    decision = None if payload is None else on_answer(turn, payload.removeprefix(f"{CONSENT}:"))
    if decision is not None:
        return decision
    return turn.reply(_question(turn, turn.t("common.choose")), flow=Flow.TRAINING_CONSENT)


def not_now(turn: Turn) -> Decision:
    """/abbrechen on the question: nothing is decided, so it is asked again after the next idea."""
    return onboarding.menu(turn)


def toggle(turn: Turn) -> Decision:
    """/training: switch the setting (not asked yet counts as off) and say what it is now."""
    allowed = not turn.state.training_consent
    if turn.flow is Flow.TRAINING_CONSENT:
        return onboarding.menu(turn, lead=_setting(turn, allowed), training_consent=allowed)
    return turn.reply(Outbound(text=_setting(turn, allowed)), training_consent=allowed)


def _setting(turn: Turn, allowed: bool) -> str:
    return turn.t("training.on" if allowed else "training.off")
