"""The citizen's rights: /meinedaten (see everything stored), /meineideen (what became of their ideas) and
/loeschen (delete everything)."""

from __future__ import annotations

from handlers import onboarding
from handlers.events import Button, CitizenState, Decision, DeleteCitizen, ExportData, Outbound, ShowMyIdeas
from handlers.state import Flow
from handlers.turn import Turn

DELETE = "del"
"""Payload prefix of the deletion buttons: `del:yes`, `del:no`."""


def export(turn: Turn) -> Decision:
    """/meinedaten: ask the runtime for the data; it sends what `render_export` makes of it.

    The only citizen event answered without a message of the core's own: the export is the answer
    (`handlers.my_data.render_export`).
    """
    return turn.reply(effects=[ExportData()])


def my_ideas(turn: Turn) -> Decision:
    """/meineideen: each own idea with its status, the city's note and the date; the runtime loads them and sends
    what `handlers.staff_render.render_my_ideas` makes of them."""
    return turn.reply(effects=[ShowMyIdeas()])


def ask_delete(turn: Turn) -> Decision:
    """/loeschen: ask for confirmation first."""
    buttons = (
        (Button(f"{DELETE}:yes", turn.t("privacy.delete_yes")),),
        (Button(f"{DELETE}:no", turn.t("privacy.delete_no")),),
    )
    return turn.reply(Outbound(text=turn.t("privacy.confirm_delete"), buttons=buttons), flow=Flow.DELETE_CONFIRM)


def on_confirm(turn: Turn, answer: str) -> Decision | None:
    """`del:yes`: goodbye, delete everything, start afresh (language kept); `del:no`: nothing changes."""
    if answer == "yes":
        edit = turn.edit_answered(turn.t("privacy.confirm_delete"), turn.t("privacy.delete_yes"))
        fresh = CitizenState(language=turn.state.language, language_chosen=turn.state.language_chosen)
        return Decision(
            state=fresh, messages=(*edit, Outbound(text=turn.t("privacy.deleted"))), effects=(DeleteCitizen(),)
        )
    if answer == "no":
        return keep(turn)
    return None


def keep(turn: Turn) -> Decision:
    """No deletion after all (the "Nein" button or /abbrechen)."""
    edit = turn.edit_answered(turn.t("privacy.confirm_delete"), turn.t("privacy.delete_no"))
    if turn.consented:
        return onboarding.menu(turn, *edit, lead=turn.t("privacy.kept"))
    if turn.consent_outdated:  # back to the new notice they have not answered yet
        kept = Outbound(text=turn.t("privacy.kept"))
        return turn.reply(*edit, kept, onboarding.notice_message(turn), flow=Flow.CONSENT)
    return turn.reply(*edit, Outbound(text=turn.t("privacy.kept")), flow=Flow.NEW)
