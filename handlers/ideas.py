"""Submitting an idea: the text (typed, or right after /idee), then the strategy field(s), then thanks.

The runtime classifies the text before the event reaches the core (`Inbound.classification`); the core only
proposes, the citizen decides:

- confident classification → "Das klingt nach „…“ – stimmt das?" with Ja / Anderes Feld / Mehrere Felder;
- not confident → the likeliest two or three fields (see `likely_fields`) plus Anderes Feld / Mehrere Felder;
- no classification → every field plus "Weiß nicht" (also what "Anderes Feld" shows).

Button payloads (all ≤ 64 bytes), each ending in `:<draft id>` (`IdeaDraft.id`), so that a keyboard of an earlier
idea still on screen is answered as outdated instead of acting on the idea being written now:
    f:<field>:<id>   this field (`f:-:<id>`: "Weiß nicht")
    fc:yes:<id>      the proposed field is right
    fc:other:<id>    show every field
    fc:multi:<id>    tick several fields
    ft:<field>:<id>  tick/untick a field under "Mehrere Felder" (the message is edited in place)
    fd:<id>          "Fertig" under "Mehrere Felder"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from handlers import onboarding, outreach, training
from handlers.events import Button, Decision, FieldInfo, FieldScores, InboundKind, Outbound, SaveIdea
from handlers.state import FieldView, Flow, IdeaDraft
from handlers.turn import Turn, column

FIELD = "f"
NOT_SURE = "-"
CHOICE = "fc"
TOGGLE = "ft"
DONE = "fd"

LIKELY_COVERAGE = 0.8
"""The likeliest two fields are offered; the third too when the two together are below this probability.

The scores are calibrated, so this offers the smallest set (two or three) that contains the right field in
about four of five cases, without a third button when the top two already carry nearly all the probability.
"""


def start(turn: Turn) -> Decision:
    """/idee [text] or the menu's button: take the text right away when given, otherwise ask for it."""
    given = turn.inbound.args if turn.inbound.kind is InboundKind.COMMAND else ""
    if given.strip():
        return on_text(turn, given)
    return show_prompt(turn)


def show_prompt(turn: Turn) -> Decision:
    """Ask for the idea's text."""
    return turn.reply(Outbound(text=turn.t("idea.prompt", max=turn.ctx.idea_max_length)), flow=Flow.IDEA_TEXT)


def on_text(turn: Turn, text: str) -> Decision:
    """The idea's text: too long or empty texts are not kept; otherwise ask for the field."""
    idea = text.strip()
    if not idea:
        return turn.reply(Outbound(text=turn.t("idea.empty")), flow=Flow.IDEA_TEXT)
    if not any(character.isalpha() for character in idea):  # "👍", "123", "!!!": nothing anyone could act on
        return turn.reply(Outbound(text=turn.t("idea.no_words")), flow=Flow.IDEA_TEXT)
    if len(idea) > turn.ctx.idea_max_length:
        message = turn.t("idea.too_long", length=len(idea), max=turn.ctx.idea_max_length)
        return turn.reply(Outbound(text=message), flow=Flow.IDEA_TEXT)
    scores = turn.inbound.classification
    draft = IdeaDraft(text=idea, classification=scores, view=_first_view(turn, scores), id=turn.ctx.new_id[-8:])
    return _ask_field(turn, draft)


def _payload(draft: IdeaDraft, *parts: str) -> str:
    """A button payload of this draft: the parts, then the draft's id (none for drafts of an older bot)."""
    return ":".join([*parts, draft.id] if draft.id else parts)


def _of_this_draft(turn: Turn, rest: str) -> tuple[IdeaDraft, str] | None:
    """The current draft and what the button says (`rest` without the draft id); None when the button belongs
    to no draft or to another one (an older keyboard still on screen)."""
    draft = turn.data.idea
    if draft is None:
        return None
    if not draft.id:
        return draft, rest
    value, separator, given = rest.rpartition(":")
    if not separator:  # "fd:<id>" carries only the id
        value, given = "", rest
    return (draft, value) if given == draft.id else None


def likely_fields(scores: FieldScores, known: Sequence[str]) -> list[str]:
    """The two likeliest known fields, and the third when the two leave more than `1 - LIKELY_COVERAGE` open."""
    ranked = [key for key in scores.top(len(scores.scores)) if key in known]
    if len(ranked) > 2 and scores.scores[ranked[0]] + scores.scores[ranked[1]] < LIKELY_COVERAGE:
        return ranked[:3]
    return ranked[:2]


def _first_view(turn: Turn, scores: FieldScores | None) -> FieldView:
    known = [f.key for f in turn.ctx.fields]
    if scores is None or len(likely_fields(scores, known)) < 2:
        return FieldView.ALL  # no classification, or one for another taxonomy
    return FieldView.PROPOSAL if scores.confident and scores.best in known else FieldView.LIKELY


def show_fields(turn: Turn) -> Decision:
    """The field question again, as it was last shown (the prompt of both field steps)."""
    draft = turn.data.idea
    if draft is None:
        return show_prompt(turn)
    if turn.flow is Flow.IDEA_FIELDS:
        return _ask_several(turn, draft)
    return _ask_field(turn, draft)


def _field(turn: Turn, key: str) -> FieldInfo | None:
    return next((f for f in turn.ctx.fields if f.key == key), None)


def _replaces(turn: Turn) -> str | None:
    """Switching views edits the message the button sat on, so only one set of field buttons is live."""
    return turn.inbound.message_ref if turn.inbound.kind is InboundKind.BUTTON else None


def _ask_field(turn: Turn, draft: IdeaDraft, replaces: str | None = None) -> Decision:
    other = Button(_payload(draft, CHOICE, "other"), turn.t("idea.other_field"))
    several = Button(_payload(draft, CHOICE, "multi"), turn.t("idea.several_fields"))
    scores = draft.classification
    if draft.view is FieldView.PROPOSAL and scores is not None and (best := _field(turn, scores.best)) is not None:
        text = _with_hints(turn, turn.t("idea.proposal", field=best.label(turn.lang)), [best])
        buttons = [Button(_payload(draft, CHOICE, "yes"), turn.t("idea.yes_field")), other, several]
    elif draft.view is FieldView.LIKELY and scores is not None:
        keys = likely_fields(scores, [f.key for f in turn.ctx.fields])
        likely = [f for f in (_field(turn, key) for key in keys) if f is not None]
        text = _with_hints(turn, turn.t("idea.choose_likely"), likely)
        buttons = [*(Button(_payload(draft, FIELD, f.key), f.label(turn.lang)) for f in likely), other, several]
    else:
        text = _with_hints(turn, turn.t("idea.choose_field"), turn.ctx.fields)
        buttons = [Button(_payload(draft, FIELD, f.key), f.label(turn.lang)) for f in turn.ctx.fields]
        buttons.append(Button(_payload(draft, FIELD, NOT_SURE), turn.t("idea.not_sure")))
    message = Outbound(text=text, buttons=column(buttons), replaces=replaces)
    return turn.reply(message, flow=Flow.IDEA_FIELD, data=turn.data.evolve(idea=draft))


def _with_hints(turn: Turn, question: str, fields: Sequence[FieldInfo]) -> str:
    """The field question under one line per field saying what belongs there (a citizen cannot guess what
    "Smarte Wuppertaler*innen" means); the question comes last, where Matrix takes a poll's heading from."""
    hints = [
        turn.t("idea.field_hint", field=f.label(turn.lang), hint=f.hint(turn.lang)) for f in fields if f.hint(turn.lang)
    ]
    return "\n".join(hints) + f"\n\n{question}" if hints else question


def _ask_several(turn: Turn, draft: IdeaDraft, replaces: str | None = None, lead: str | None = None) -> Decision:
    buttons = [
        Button(_payload(draft, TOGGLE, f.key), ("✓ " if f.key in draft.picked else "") + f.label(turn.lang))
        for f in turn.ctx.fields
    ]
    buttons.append(Button(_payload(draft, DONE), turn.t("survey.done")))
    text = _with_hints(turn, turn.t("idea.choose_several"), turn.ctx.fields)
    text = text if lead is None else f"{lead}\n\n{text}"
    message = Outbound(text=text, buttons=column(buttons), replaces=replaces, multi=True)
    return turn.reply(message, flow=Flow.IDEA_FIELDS, data=turn.data.evolve(idea=draft))


def on_choice(turn: Turn, rest: str) -> Decision | None:
    """`fc:yes` saves the proposed field; `fc:other` shows every field; `fc:multi` switches to ticking."""
    found = _of_this_draft(turn, rest)
    if found is None:
        return None
    draft, choice = found
    if choice == "yes":
        scores = draft.classification
        best = None if scores is None or not scores.confident else _field(turn, scores.best)
        return None if best is None else _save(turn, draft, [best])
    if choice == "other":
        return _ask_field(turn, replace(draft, view=FieldView.ALL, picked=()), _replaces(turn))
    if choice == "multi":
        return _ask_several(turn, replace(draft, picked=()), _replaces(turn))
    return None


def on_field(turn: Turn, rest: str) -> Decision | None:
    """`f:<key>`: store the idea with the chosen field (`f:-`: none)."""
    found = _of_this_draft(turn, rest)
    if found is None:
        return None
    draft, key = found
    if key == NOT_SURE:
        return _save(turn, draft, [])
    chosen = _field(turn, key)
    return None if chosen is None else _save(turn, draft, [chosen])


def on_toggle(turn: Turn, rest: str) -> Decision | None:
    """`ft:<key>`: tick or untick a field; the message is edited in place."""
    found = _of_this_draft(turn, rest)
    if found is None or _field(turn, found[1]) is None:
        return None
    draft, key = found
    picked = tuple(k for k in draft.picked if k != key) if key in draft.picked else (*draft.picked, key)
    return _ask_several(turn, replace(draft, picked=picked), _replaces(turn))


def on_done(turn: Turn, rest: str) -> Decision | None:
    """`fd`: store the idea with every ticked field (at least one), in the order they were ticked."""
    found = _of_this_draft(turn, rest)
    if found is None or found[1]:
        return None
    draft = found[0]
    chosen = [f for f in (_field(turn, key) for key in draft.picked) if f is not None]
    if not chosen:
        return _ask_several(turn, draft, lead=turn.t("idea.several_none"))
    return _save(turn, draft, chosen)


def _save(turn: Turn, draft: IdeaDraft, chosen: Sequence[FieldInfo]) -> Decision:
    """Store the idea, thank the citizen; then the one-time training question, or the menu."""
    label = ", ".join(f.label(turn.lang) for f in chosen) if chosen else turn.t("idea.not_sure")
    edit = turn.edit_answered(turn.t("idea.field_label"), label)
    keys = tuple(f.key for f in chosen)
    effect = SaveIdea(
        idea_id=turn.ctx.new_id,
        text=draft.text,
        field=keys[0] if keys else None,
        fields=keys,
        classification=draft.classification,
    )
    data = turn.data.evolve(idea=None)
    # Asked at the next calm moment, one per turn: right after this when no training question comes now.
    data = outreach.want_to_ask(data, turn, outreach.IDEA_NEWS, "idea_filed")
    data = outreach.want_to_ask(data, turn, outreach.SURVEYS, "after_idea")
    # The thanks name where the idea was filed, so a citizen who corrected the proposal sees it took.
    thanks = turn.t("idea.thanks_field", fields=label) if chosen else turn.t("idea.thanks_no_field")
    if chosen and turn.state.training_consent is None:
        # Only ideas with a field the citizen confirmed can teach the classifier, so only then is it worth asking.
        return training.ask(turn, *edit, lead=thanks, data=data, effects=[effect])
    return onboarding.menu(turn, *edit, lead=thanks, data=data, effects=[effect])


def cancel(turn: Turn) -> Decision:
    """/abbrechen while writing an idea: forget the draft."""
    return onboarding.menu(turn, lead=turn.t("idea.cancelled"), data=turn.data.evolve(idea=None))
