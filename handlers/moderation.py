"""Staff moderate proposals for publication and merge ideas in the chat (issue 13), pure like `handlers.staff`.

/freigabe (/moderation) asks the runtime for the oldest pending proposal (shown redacted, always); its buttons
approve it, ask for staff's own public wording or for the reason of a rejection (typed in the `Flow.STAFF_NOTE`
step, the draft's `status` telling which), or skip to the next one. /zusammenfuehren i_A i_B (/merge) asks for the
merge's dry run; its "Ja, zusammenführen" button acts only right after that staff member's own preview.

StaffRequest actions (bot/staffdesk checks the role again and audits each):
    moderation            view  target: "" or the id of the proposal skipped (shows the next one)
    publication_approve   staff target: idea id; note: staff's public wording ("" = the redacted text)
    publication_reject    staff target: idea id; note: the reason told to the author
    merge_preview         staff target: "<REF FROM> <REF INTO>" as typed
    merge                 staff target: "<i_ref FROM>:<i_ref INTO>" from the preview's button
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from handlers.events import ROLE_STAFF, Button, Decision, Outbound, StaffRequest
from handlers.state import Flow, StaffDraft
from handlers.turn import Turn, column

PREFIX = "sf"
WORDING = "@wording"
"""`StaffDraft.status` while staff type the public wording of a proposal."""
REASON = "@reason"
"""`StaffDraft.status` while staff type the reason of a rejection."""
STEPS = frozenset({WORDING, REASON})
WORDING_MAX = 1000
REASON_MAX = 500
PREVIEW_VALID = timedelta(hours=1)
_IDEA_ID = re.compile(r"[0-9a-f]{32}")
_REF = re.compile(r"i_[0-9a-f]{6,16}", re.IGNORECASE)
_FULL_REF = re.compile(r"i_[0-9a-f]{16}")


def _request(turn: Turn, action: str, target: str = "", note: str = "") -> Decision:
    return turn.reply(effects=(StaffRequest(action, target, note=note),))


def _stale(turn: Turn) -> Decision:
    return turn.reply(Outbound(text=turn.t("staff.stale")))


def queue(turn: Turn) -> Decision:
    """/freigabe: the oldest proposal waiting for approval (analysts may look, only staff decide)."""
    return _request(turn, "moderation")


def merge(turn: Turn) -> Decision:
    """/zusammenfuehren i_A i_B: the preview of merging A into B (staff only; the runtime refuses analysts)."""
    refs = turn.inbound.args.split()
    if len(refs) != 2 or not all(_REF.fullmatch(ref) for ref in refs) or refs[0].casefold() == refs[1].casefold():
        return turn.reply(Outbound(text=turn.t("moderation.usage_merge")))
    token = f"merge:{refs[0].casefold()} {refs[1].casefold()}:{turn.ctx.now.isoformat()}"
    data = turn.data.evolve(staff_preview=token)
    return turn.reply(data=data, effects=(StaffRequest("merge_preview", f"{refs[0]} {refs[1]}"),))


def on_merge_confirm(turn: Turn, argument: str) -> Decision:
    """"Ja, zusammenführen": acts only right after this staff member's own preview of these two ideas."""
    source, _, target = argument.partition(":")
    kind, _, rest = (turn.data.staff_preview or "").partition(":")
    typed, _, at = rest.partition(":")
    try:
        fresh = turn.ctx.now - datetime.fromisoformat(at) <= PREVIEW_VALID
    except ValueError:
        fresh = False
    wanted = typed.split()
    matches = (
        len(wanted) == 2 and _FULL_REF.fullmatch(source) is not None and _FULL_REF.fullmatch(target) is not None
        and _same(wanted[0], source) and _same(wanted[1], target)
    )  # fmt: skip
    if kind != "merge" or not fresh or not matches:
        return turn.reply(Outbound(text=turn.t("moderation.preview_first")))
    return turn.reply(data=turn.data.evolve(staff_preview=None), effects=(StaffRequest("merge", argument),))


def _same(typed: str, ref: str) -> bool:
    """The preview's typed reference (a reference or a prefix of one) names the button's idea."""
    return ref.casefold().startswith(typed.casefold())


def on_approve(turn: Turn, idea_id: str) -> Decision:
    return _request(turn, "publication_approve", idea_id) if _IDEA_ID.fullmatch(idea_id) else _stale(turn)


def on_skip(turn: Turn, idea_id: str) -> Decision:
    return _request(turn, "moderation", idea_id) if _IDEA_ID.fullmatch(idea_id) else _stale(turn)


def _ask(step: str) -> Callable[[Turn, str], Decision]:
    def press(turn: Turn, idea_id: str) -> Decision:
        if not _IDEA_ID.fullmatch(idea_id):
            return _stale(turn)
        if turn.ctx.staff_role != ROLE_STAFF:  # refused (and logged) by the runtime; no typing step for nothing
            return _request(turn, "publication_approve" if step == WORDING else "publication_reject", idea_id)
        return ask_text(turn, StaffDraft(idea_id, step))

    return press


on_edit = _ask(WORDING)
on_reject = _ask(REASON)


def ask_text(turn: Turn, draft: StaffDraft) -> Decision:
    """Ask for the public wording or the reason (the step waits for a typed text; /abbrechen leaves it)."""
    key, limit = ("moderation.ask_wording", WORDING_MAX) if draft.status == WORDING else ("moderation.ask_reason",
                                                                                          REASON_MAX)  # fmt: skip
    cancel = Button(f"{PREFIX}:no", turn.t("moderation.cancel"))
    return turn.reply(Outbound(text=turn.t(key, limit=limit), buttons=column([cancel])), flow=Flow.STAFF_NOTE,
                      data=turn.data.evolve(staff=draft))  # fmt: skip


def on_text(turn: Turn, draft: StaffDraft, text: str) -> Decision:
    """The typed wording or reason: too long → asked again; else the change is requested and the step ends."""
    typed = text.strip()
    limit = WORDING_MAX if draft.status == WORDING else REASON_MAX
    if not typed or len(typed) > limit:
        lead = turn.t("staff.note_too_long", limit=limit, length=len(typed)) if typed else None
        decision = ask_text(turn, draft)
        if lead is None:
            return decision
        return turn.reply(Outbound(text=lead), *decision.messages, flow=Flow.STAFF_NOTE, data=turn.data)
    action = "publication_approve" if draft.status == WORDING else "publication_reject"
    flow = Flow.MENU if turn.consented else Flow.NEW
    request = StaffRequest(action, draft.idea_id, note=typed)
    return turn.reply(flow=flow, data=turn.data.evolve(staff=None), effects=(request,))
