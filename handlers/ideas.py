"""Submitting an idea: the text (typed, or right after /idee), then the strategy field, then thanks.

A classifier's suggestion slots in as `IdeaDraft.proposed_field`: the field buttons then show it first and
the prompt names it; the citizen still decides.
"""

from __future__ import annotations

from handlers import onboarding
from handlers.events import Button, Decision, FieldInfo, InboundKind, Outbound, SaveIdea
from handlers.state import Flow, IdeaDraft
from handlers.turn import Turn, column

FIELD = "f"
"""Payload prefix of the field buttons: `f:<field key>`, and `f:-` for "Weiß nicht"."""
NOT_SURE = "-"


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
    if len(idea) > turn.ctx.idea_max_length:
        message = turn.t("idea.too_long", length=len(idea), max=turn.ctx.idea_max_length)
        return turn.reply(Outbound(text=message), flow=Flow.IDEA_TEXT)
    return _ask_field(turn, IdeaDraft(text=idea))


def show_fields(turn: Turn) -> Decision:
    """The field buttons again (the field step's prompt)."""
    draft = turn.data.idea
    return show_prompt(turn) if draft is None else _ask_field(turn, draft)


def _ordered_fields(turn: Turn, proposed: str | None) -> list[FieldInfo]:
    fields = list(turn.ctx.fields)
    return sorted(fields, key=lambda f: f.key != proposed) if proposed else fields


def _ask_field(turn: Turn, draft: IdeaDraft) -> Decision:
    fields = _ordered_fields(turn, draft.proposed_field)
    text = turn.t("idea.choose_field")
    proposal = next((f for f in fields if f.key == draft.proposed_field), None)
    if proposal is not None:
        text = f"{text}\n{turn.t('idea.proposal', field=proposal.label(turn.lang))}"
    buttons = [Button(f"{FIELD}:{f.key}", f.label(turn.lang)) for f in fields]
    buttons.append(Button(f"{FIELD}:{NOT_SURE}", turn.t("idea.not_sure")))
    return turn.reply(
        Outbound(text=text, buttons=column(buttons)), flow=Flow.IDEA_FIELD, data=turn.data.evolve(idea=draft)
    )


def on_field(turn: Turn, key: str) -> Decision | None:
    """`f:<key>`: store the idea with the chosen field (`f:-`: none), thank the citizen, show the menu."""
    draft = turn.data.idea
    if draft is None:
        return None
    if key == NOT_SURE:
        field, label = None, turn.t("idea.not_sure")
    else:
        chosen = next((f for f in turn.ctx.fields if f.key == key), None)
        if chosen is None:
            return None
        field, label = chosen.key, chosen.label(turn.lang)
    edit = turn.edit_answered(turn.t("idea.field_label"), label)
    return onboarding.menu(
        turn,
        *edit,
        lead=turn.t("idea.thanks"),
        data=turn.data.evolve(idea=None),
        effects=[SaveIdea(idea_id=turn.ctx.new_id, text=draft.text, field=field)],
    )


def cancel(turn: Turn) -> Decision:
    """/abbrechen while writing an idea: forget the draft."""
    return onboarding.menu(turn, lead=turn.t("idea.cancelled"), data=turn.data.evolve(idea=None))
