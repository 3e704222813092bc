"""First contact and the main menu: privacy notice, consent, language, help, /start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.events import Button, Decision, Effect, InboundKind, Outbound
from handlers.state import DialogueData, Flow
from handlers.turn import Turn, column
from surveys.engine import fold
from surveys.schema import LANGUAGES

CONSENT = "consent"
"""Payload prefix of the consent buttons: `consent:yes`, `consent:no`."""
MENU = "m"
"""Payload prefix of the menu buttons: `m:surveys`, `m:idea`, `m:data`, `m:help`, `m:resume`."""

_LANGUAGE_NAMES = {"de": "de", "deutsch": "de", "german": "de", "en": "en", "english": "en", "englisch": "en"}


def language_from_hint(hint: str | None) -> str:
    """The language a new citizen is greeted in: German unless the client says otherwise."""
    if hint is None or not hint.strip() or hint.strip().lower().startswith("de"):
        return "de"
    return "en"


def notice_text(turn: Turn) -> str:
    """The privacy notice, with the controller and the supervisory authority from the configuration."""
    controller = turn.ctx.controller.strip() or turn.t("consent.controller_default")
    complaints = turn.ctx.complaints.strip() or turn.t("consent.complaints_default")
    return turn.t("consent.notice", controller=controller, complaints=complaints)


def notice_message(turn: Turn) -> Outbound:
    """The privacy notice with its consent buttons."""
    # Someone who agreed to an earlier version is told why they see the notice again and that nothing was lost.
    lead = f"{turn.t('consent.changed')}\n\n" if turn.consent_outdated else ""
    return Outbound(
        text=f"{lead}{notice_text(turn)}\n\n{turn.t('consent.question')}",
        buttons=(
            (Button(f"{CONSENT}:yes", turn.t("consent.agree")), Button(f"{CONSENT}:no", turn.t("consent.decline"))),
        ),
    )


def show_notice(turn: Turn) -> Decision:
    """The privacy notice with the consent buttons (the menu once consent to the notice in force is given)."""
    if turn.consented:
        return show_menu(turn)
    return turn.reply(notice_message(turn), flow=Flow.CONSENT)


def typed_consent(turn: Turn, text: str) -> str | None:
    """The consent payload a typed "ja" / "nein, danke" / "I agree" stands for (words of both languages)."""
    typed = fold(text)
    for answer, key in (("yes", "consent.yes_words"), ("no", "consent.no_words")):
        for lang in LANGUAGES:
            if typed in {fold(word) for word in turn.ctx.texts.get(key, lang).split(",")}:
                return f"{CONSENT}:{answer}"
    return None


def on_consent(turn: Turn, answer: str) -> Decision | None:
    """`consent:yes` stores the consent (version and time) and opens the menu; `consent:no` says goodbye.

    For a citizen who agreed to an earlier notice, "no" keeps what is stored (they can see it with /meinedaten and
    delete it with /loeschen) and stores nothing new.
    """
    if turn.consented:
        return None
    if answer == "yes":
        edit = turn.edit_answered(notice_text(turn), turn.t("consent.agree"))
        return menu(
            turn,
            *edit,
            lead=turn.t("consent.thanks"),
            consent_version=turn.ctx.consent_version,
            consent_at=turn.ctx.now,
        )
    if answer == "no":
        edit = turn.edit_answered(notice_text(turn), turn.t("consent.decline"))
        declined = turn.t("consent.declined_update" if turn.consent_outdated else "consent.declined")
        return turn.reply(*edit, Outbound(text=declined), flow=Flow.DECLINED)
    return None


def start(turn: Turn) -> Decision:
    """/start: the notice for newcomers, a welcome and the menu for everyone else."""
    if not turn.consented:
        return show_notice(turn)
    return menu(turn, lead=turn.t("menu.welcome_back"))


def privacy_info(turn: Turn) -> Decision:
    """/datenschutz: the privacy notice again, with the date of consent."""
    if not turn.consented or turn.state.consent_at is None:
        return show_notice(turn)
    date = turn.state.consent_at.strftime("%d.%m.%Y" if turn.lang == "de" else "%Y-%m-%d")
    return turn.reply(Outbound(text=f"{notice_text(turn)}\n\n{turn.t('consent.given_at', date=date)}"))


def show_help(turn: Turn) -> Decision:
    """/hilfe: every command in one short message; the step stays as it is."""
    return turn.reply(Outbound(text=turn.t("help.text")))


def help_with_menu(turn: Turn) -> Decision:
    """The menu's "Hilfe" button: the help text with the menu under it."""
    return menu(turn, lead=turn.t("help.text"))


def switch_language(turn: Turn) -> Turn:
    """/sprache [de|en]: the named language, or the other one; remembered as the citizen's choice."""
    wanted = _LANGUAGE_NAMES.get(fold(turn.inbound.args)) if turn.inbound.kind is InboundKind.COMMAND else None
    language = wanted or ("en" if turn.lang == "de" else "de")
    return turn.with_state(turn.state.evolve(language=language, language_chosen=True))


def resume_button(turn: Turn, data: DialogueData) -> Button | None:
    """The "Weiter mit „…“" button for the unfinished survey, if its version still exists."""
    progress = data.survey
    version = None if progress is None else turn.ctx.catalog.get(progress.key, progress.version)
    if version is None:
        return None
    return Button(f"{MENU}:resume", turn.t("menu.resume", title=version.survey.title.get(turn.lang)))


def menu_message(turn: Turn, data: DialogueData, lead: str | None = None) -> Outbound:
    """The main menu; an unfinished survey is offered first ("Weiter mit …")."""
    resume = resume_button(turn, data)
    buttons = [] if resume is None else [resume]
    buttons += [
        Button(f"{MENU}:surveys", turn.t("menu.surveys")),
        Button(f"{MENU}:idea", turn.t("menu.idea")),
        Button(f"{MENU}:data", turn.t("menu.data")),
        Button(f"{MENU}:help", turn.t("menu.help")),
    ]
    prompt = turn.t("menu.prompt")
    return Outbound(text=prompt if lead is None else f"{lead}\n\n{prompt}", buttons=column(buttons))


def menu(
    turn: Turn,
    *before: Outbound,
    lead: str | None = None,
    data: DialogueData | None = None,
    effects: Sequence[Effect] = (),
    **state_changes: Any,
) -> Decision:
    """Send `before`, then the menu (with `lead` on top), and return to the menu step."""
    new_data = turn.data if data is None else data
    return turn.reply(
        *before,
        menu_message(turn, new_data, lead),
        flow=Flow.MENU,
        data=new_data,
        effects=effects,
        **state_changes,
    )


def show_menu(turn: Turn) -> Decision:
    """/menu: the main menu."""
    return menu(turn)
