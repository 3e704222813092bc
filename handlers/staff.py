"""Staff in the chat: campaigns with live figures, the newest ideas, idea statuses — for allowlisted accounts only.

The runtime tells the core the sender's role (`Context.staff_role`, from `STADTDIALOG_STAFF`). For anyone else
`route` returns None and the event takes the citizen's path: a staff command is then an unknown command, a staff
button a stale one — exactly what a citizen sees for any other unknown command or old button. Staff commands
need no consent and store nothing about the staff member beyond the conversation step.

Figures and ideas live in the database, so the core never renders them itself: it asks with a `StaffRequest`
effect and the runtime (bot/staffdesk) checks the role again, reads or changes, writes the audit log and renders
the answer with `handlers.staff_render`. The core owns the steps: which request a command or button means, the
public note of a status change (`Flow.STAFF_NOTE`) and the confirmation before anything reaches a citizen
(`Flow.STAFF_CONFIRM`).

Roles: `analyst` sees figures and ideas; `staff` may also launch and close campaigns and set idea statuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

from handlers import moderation
from handlers.events import (
    IDEA_STATUSES,
    NOTE_REQUIRED,
    ROLE_ANALYST,
    ROLE_STAFF,
    Button,
    Decision,
    InboundKind,
    Outbound,
    StaffRequest,
)
from handlers.staff_render import NO_FIELD_TOKEN as NO_FIELD
from handlers.staff_render import PREFIX, status_label
from handlers.state import DialogueData, Flow, StaffDraft
from handlers.turn import Turn, column, with_lead
from surveys.engine import fold

STAFF_FLOWS = frozenset({Flow.STAFF_NOTE, Flow.STAFF_CONFIRM})
NOTE_MAX = 500
"""Longest public note (the same limit the CLI applies)."""
_EN_LINE = re.compile(r"^\s*EN\s*:\s*", re.IGNORECASE)
_IDEA_ID = re.compile(r"[0-9a-f]{8,64}")
CAMPAIGN_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only ("²".isdigit() is true), fits any database
_FIELD = re.compile(r"[a-z0-9_]{1,40}")
PREVIEW_VALID = timedelta(hours=1)
"""How long a launch/close preview's confirm button acts; after that the preview must be opened again."""

Handler = Callable[[Turn], Decision]
ButtonHandler = Callable[[Turn, str], Decision]


def route(turn: Turn) -> Decision | None:
    """The decision for a staff member's command, button or note; None when the event is not staff business (or
    the sender is not on the allowlist) and takes the citizen's path."""
    role = turn.ctx.staff_role
    if role not in (ROLE_STAFF, ROLE_ANALYST):
        return None
    inbound = turn.inbound
    if inbound.kind is InboundKind.COMMAND:
        command = COMMANDS.get(inbound.command)
        if command is not None:
            return command(turn)
        if turn.flow in STAFF_FLOWS and inbound.command in ("abbrechen", "cancel"):
            return cancel(turn)
        return None
    if inbound.kind is InboundKind.BUTTON:
        return press(turn, inbound.payload)
    if inbound.kind in (InboundKind.MEDIA, InboundKind.EDITED) and turn.flow in STAFF_FLOWS:
        return show_pending(turn, lead=turn.t("common.media" if inbound.kind is InboundKind.MEDIA else "common.edited"))
    if inbound.kind is InboundKind.TEXT and turn.flow in STAFF_FLOWS:
        typed = turn.data.offered.match(inbound.text)
        if typed is not None and typed.startswith(f"{PREFIX}:"):
            return press(turn, typed)
        if turn.flow is Flow.STAFF_NOTE:
            return on_note(turn, inbound.text)
        if _EN_LINE.match(inbound.text) and turn.data.staff is not None:  # the English note sent on its own
            return on_note(turn, f"{turn.data.staff.note}\n{inbound.text}")
        return show_pending(turn)
    return None


def leave(turn: Turn) -> Turn:
    """Someone taken off the allowlist while in a staff step goes back to where a citizen would be."""
    if turn.flow not in STAFF_FLOWS or turn.ctx.staff_role is not None:
        return turn
    base = Flow.MENU if turn.consented else Flow.NEW
    data = turn.data.evolve(staff=None)
    return turn.with_state(turn.state.evolve(flow=base.value, data=data.to_dict()))


# ------------------------------------------------------------------------------------------------------- commands


def _request(turn: Turn, action: str, target: str = "", **values: str) -> Decision:
    """Ask the runtime for `action`. A change asked for by an analyst is passed on too: the runtime refuses it with
    "needs the staff role" and writes the refused attempt to the audit log."""
    return turn.reply(effects=(StaffRequest(action, target, **values),))


def show_help(turn: Turn) -> Decision:
    """/team: the staff commands of the sender's role."""
    key = "staff.help_staff" if turn.ctx.staff_role == ROLE_STAFF else "staff.help_analyst"
    return turn.reply(Outbound(text=turn.t(key, role=turn.ctx.staff_role or "")))


def _campaign_id(turn: Turn) -> str | None:
    args = turn.inbound.args.strip().removeprefix("#")
    return args if CAMPAIGN_NUMBER.fullmatch(args) else None


def campaigns(turn: Turn) -> Decision:
    """/kampagnen: the list of campaigns with their figures."""
    return _request(turn, "campaigns")


def campaign(turn: Turn) -> Decision:
    """/kampagne N: one campaign's live figures (without a number: the list)."""
    number = _campaign_id(turn)
    if number is None:
        return _usage(turn, "staff.usage_campaign") if turn.inbound.args.strip() else campaigns(turn)
    return _request(turn, "campaign", number)


def _preview(action: str, usage: str) -> Handler:
    def command(turn: Turn) -> Decision:
        number = _campaign_id(turn)
        if number is None:
            return _usage(turn, usage)
        return _preview_of(turn, action, number)

    return command


def new_ideas(turn: Turn) -> Decision:
    """/ideen_neu [field]: the latest ideas of every field, or more of one field."""
    wanted = turn.inbound.args.strip()
    if not wanted:
        return _request(turn, "new_ideas")
    field = _field_key(turn, wanted)
    if field is None:
        names = ", ".join(f"{info.key} ({info.label(turn.lang)})" for info in turn.ctx.fields)
        return turn.reply(Outbound(text=turn.t("staff.unknown_field", fields=names)))
    return _request(turn, "new_ideas", field)


def _field_key(turn: Turn, text: str) -> str | None:
    typed = fold(text)
    for info in turn.ctx.fields:
        if typed in (fold(info.key), *(fold(name) for name in info.name.values())):
            return info.key
    return None


def idea(turn: Turn) -> Decision:
    """/status REF: one idea with its status; staff get a button per status they can set."""
    ref = turn.inbound.args.strip()
    if not ref:
        return _usage(turn, "staff.usage_status")
    return _request(turn, "idea", ref[:100])


def _usage(turn: Turn, key: str) -> Decision:
    return turn.reply(Outbound(text=turn.t(key)))


def _commands(*entries: tuple[tuple[str, ...], Handler]) -> Mapping[str, Handler]:
    return MappingProxyType({name: handler for names, handler in entries for name in names})


COMMANDS: Mapping[str, Handler] = _commands(
    (("team", "staff"), show_help),
    (("kampagnen", "campaigns"), campaigns),
    (("kampagne", "campaign"), campaign),
    (("starten", "launch"), _preview("launch", "staff.usage_launch")),
    (("schliessen", "close"), _preview("close", "staff.usage_close")),
    (("ideen_neu", "new_ideas", "ideenneu"), new_ideas),
    (("status", "idea_status"), idea),
    (("freigabe", "moderation"), moderation.queue),
    (("zusammenfuehren", "merge"), moderation.merge),
)
"""Staff commands (German names and English aliases); they exist only for senders on the allowlist."""


# -------------------------------------------------------------------------------------------------------- buttons


def press(turn: Turn, payload: str) -> Decision | None:
    """A staff button (pressed, or picked by typing its number or label); None for any other payload."""
    if turn.ctx.staff_role not in (ROLE_STAFF, ROLE_ANALYST):
        return None
    prefix, _, rest = payload.partition(":")
    if prefix != PREFIX:
        return None
    action, _, argument = rest.partition(":")
    handler = BUTTONS.get(action)
    if handler is None:
        return None
    return handler(turn, argument)


def _on_campaign(action: str) -> ButtonHandler:
    def press(turn: Turn, argument: str) -> Decision:
        if not CAMPAIGN_NUMBER.fullmatch(argument):
            return stale(turn)
        if action in ("launch_preview", "close_preview"):
            return _preview_of(turn, action.removesuffix("_preview"), argument)
        return _request(turn, action, argument)

    return press


def _preview_of(turn: Turn, action: str, number: str) -> Decision:
    """Ask for the dry run of launching or closing campaign `number`; its confirm button acts only for a while
    after this (an old preview in the chat history launches nothing days later)."""
    token = f"{action}:{number}:{turn.ctx.now.isoformat()}"
    return turn.reply(data=turn.data.evolve(staff_preview=token), effects=(StaffRequest(f"{action}_preview", number),))


def _on_confirm(action: str) -> ButtonHandler:
    """"Ja, starten" / "Ja, beenden": acts only right after this staff member's own preview of that campaign."""

    def press(turn: Turn, number: str) -> Decision:
        token = turn.data.staff_preview or ""
        kind, _, rest = token.partition(":")
        previewed, _, at = rest.partition(":")
        try:
            fresh = turn.ctx.now - datetime.fromisoformat(at) <= PREVIEW_VALID
        except ValueError:
            fresh = False
        if not CAMPAIGN_NUMBER.fullmatch(number) or kind != action or previewed != number or not fresh:
            return turn.reply(Outbound(text=turn.t("staff.preview_first", id=number[:9])))
        return turn.reply(data=turn.data.evolve(staff_preview=None), effects=(StaffRequest(action, number),))

    return press


def _on_new_ideas(turn: Turn, field: str) -> Decision:
    if field == NO_FIELD:
        return _request(turn, "new_ideas", NO_FIELD)
    return _request(turn, "new_ideas", field) if _FIELD.fullmatch(field) else stale(turn)


def _on_idea(turn: Turn, idea_id: str) -> Decision:
    return _request(turn, "idea", idea_id) if _IDEA_ID.fullmatch(idea_id) else stale(turn)


def _on_status(turn: Turn, argument: str) -> Decision:
    """A status button: ask for the public note (mandatory for "nicht umsetzbar")."""
    idea_id, _, status = argument.partition(":")
    if not _IDEA_ID.fullmatch(idea_id) or status not in IDEA_STATUSES:
        return stale(turn)
    if turn.ctx.staff_role != ROLE_STAFF:  # refused (and logged) by the runtime; no note step for nothing
        return _request(turn, "idea_status", idea_id, status=status)
    data = turn.data.evolve(staff=StaffDraft(idea_id, status))
    return _ask_note(turn, data)


def _ask_note(turn: Turn, data: DialogueData) -> Decision:
    draft = data.staff
    assert draft is not None
    label = status_label(turn.ctx.texts, turn.lang, draft.status)
    buttons = [Button(f"{PREFIX}:no", turn.t("staff.cancel"))]
    if draft.status not in NOTE_REQUIRED:
        buttons.insert(0, Button(f"{PREFIX}:nn:{draft.idea_id}:{draft.status}", turn.t("staff.without_note")))
    key = "staff.note_required" if draft.status in NOTE_REQUIRED else "staff.note_optional"
    text = turn.t(key, status=label, limit=NOTE_MAX)
    return turn.reply(Outbound(text=text, buttons=column(buttons)), flow=Flow.STAFF_NOTE, data=data)


def on_note(turn: Turn, text: str) -> Decision:
    """The typed public note: German, optionally a line "EN: …" with the English note; then the preview."""
    draft = turn.data.staff
    if draft is None:
        return cancel(turn)
    if draft.status in moderation.STEPS:  # the public wording or the reason of a rejection (handlers.moderation)
        return moderation.on_text(turn, draft, text)
    german: list[str] = []
    english: list[str] = []
    target = german
    for line in text.splitlines():
        if _EN_LINE.match(line):
            target = english
            line = _EN_LINE.sub("", line, count=1)
        target.append(line)
    note = "\n".join(german).strip()
    note_en = "\n".join(english).strip()
    if not note:
        return turn.reply(Outbound(text=turn.t("staff.note_german_missing")))
    if len(note) > NOTE_MAX or len(note_en) > NOTE_MAX:
        return turn.reply(
            Outbound(text=turn.t("staff.note_too_long", limit=NOTE_MAX, length=max(len(note), len(note_en))))
        )
    return _confirm(turn, StaffDraft(draft.idea_id, draft.status, note, note_en))


def _on_no_note(turn: Turn, argument: str) -> Decision:
    draft = turn.data.staff
    if turn.flow is not Flow.STAFF_NOTE or draft is None or argument != f"{draft.idea_id}:{draft.status}":
        return stale(turn)
    if draft.status in NOTE_REQUIRED:
        return _ask_note(turn, turn.data)
    return _confirm(turn, StaffDraft(draft.idea_id, draft.status))


def _confirm(turn: Turn, draft: StaffDraft) -> Decision:
    """Show the staff member exactly what the idea's author would receive, then wait for "Speichern"."""
    data = turn.data.evolve(staff=draft)
    request = StaffRequest("idea_status_preview", draft.idea_id, status=draft.status, note=draft.note,
                           note_en=draft.note_en)  # fmt: skip
    return turn.reply(flow=Flow.STAFF_CONFIRM, data=data, effects=(request,))


def _on_save(turn: Turn, argument: str) -> Decision:
    draft = turn.data.staff
    # the button names its change: "Speichern" under an older preview never saves a newer draft
    if turn.flow is not Flow.STAFF_CONFIRM or draft is None or argument != f"{draft.idea_id}:{draft.status}":
        return stale(turn)
    request = StaffRequest("idea_status", draft.idea_id, status=draft.status, note=draft.note, note_en=draft.note_en)
    return _back(turn, effects=(request,))


def _on_cancel(turn: Turn, _: str) -> Decision:
    return cancel(turn)


def cancel(turn: Turn) -> Decision:
    """ "Abbrechen" (or /abbrechen in a staff step): nothing changes, nothing is sent."""
    return _back(turn, Outbound(text=turn.t("staff.cancelled")))


def _back(turn: Turn, *messages: Outbound, effects: tuple[StaffRequest, ...] = ()) -> Decision:
    """Leave the staff steps: back to the menu step (or, without consent, to where a new visitor is)."""
    flow = turn.flow
    if flow in STAFF_FLOWS:
        flow = Flow.MENU if turn.consented else Flow.NEW
    return turn.reply(*messages, flow=flow, data=turn.data.evolve(staff=None), effects=effects)


def stale(turn: Turn) -> Decision:
    """An old or unknown staff button: say so; the pending step (if any) is shown again."""
    if turn.flow in STAFF_FLOWS:
        return show_pending(turn, lead=turn.t("common.stale"))
    return turn.reply(Outbound(text=turn.t("staff.stale")))


def show_pending(turn: Turn, lead: str | None = None) -> Decision:
    """The staff step waiting for an answer, shown again (a stray text, sticker or old button)."""
    if turn.flow is Flow.STAFF_NOTE and turn.data.staff is not None and turn.data.staff.status in moderation.STEPS:
        decision = moderation.ask_text(turn, turn.data.staff)
    elif turn.flow is Flow.STAFF_NOTE and turn.data.staff is not None:
        decision = _ask_note(turn, turn.data)
    elif turn.flow is Flow.STAFF_CONFIRM and turn.data.staff is not None:
        decision = _confirm(turn, turn.data.staff)
    else:
        return _back(turn, Outbound(text=turn.t("staff.cancelled")))
    return decision if lead is None else with_lead(decision, lead)


def prompt(turn: Turn) -> Decision:
    """The `Step.prompt` of the staff steps (used when a citizen-side path re-shows the current step)."""
    if turn.ctx.staff_role is None:
        return _back(turn)
    return show_pending(turn)


BUTTONS: Mapping[str, ButtonHandler] = MappingProxyType(
    {
        "c": _on_campaign("campaign"),
        "lp": _on_campaign("launch_preview"),
        "cp": _on_campaign("close_preview"),
        "L": _on_confirm("launch"),
        "C": _on_confirm("close"),
        "n": _on_new_ideas,
        "i": _on_idea,
        "s": _on_status,
        "nn": _on_no_note,
        "S": _on_save,
        "no": _on_cancel,
        "pa": moderation.on_approve,
        "pe": moderation.on_edit,
        "pr": moderation.on_reject,
        "ps": moderation.on_skip,
        "M": moderation.on_merge_confirm,
    }
)
