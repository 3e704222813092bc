"""Consent, language, menu, help and /start."""

from __future__ import annotations

import pytest

from handlers.state import Flow
from tests.handlers.chat import START, Chat, catalog_of
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    return Chat(catalog_of(sample_survey()))


def test_first_message_shows_privacy_notice_with_consent_buttons(chat: Chat) -> None:
    chat.say("Hallo")
    assert "Datenschutz" in chat.text
    assert chat.labels() == ["Einverstanden", "Nein, danke"]
    assert [b.payload for b in chat.last_buttons()] == ["consent:yes", "consent:no"]
    assert not chat.state.consented
    assert chat.flow == Flow.CONSENT


def test_notice_says_what_is_stored_why_how_long_and_how_to_delete(chat: Chat) -> None:
    chat.say("Hallo")
    notice = chat.text
    for needed in (
        "Antworten",
        "Ideen",
        "Sprache",
        "pseudonyme Kennung",
        "Smart-City-Strategie",
        "Ende des Strategieprozesses",
        "Telegram",
        "Matrix",
        "/loeschen",
        "24 Stunden",
    ):
        assert needed in notice


def test_agreeing_stores_consent_version_and_time_and_opens_the_menu(chat: Chat) -> None:
    chat.say("Hallo")
    chat.press("consent:yes")
    assert chat.state.consent_version == "2025-1"
    assert chat.state.consent_at == START + chat.step
    assert chat.flow == Flow.MENU
    assert chat.labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]
    # the notice loses its buttons: the press cannot be repeated by accident
    assert chat.last.messages[0].replaces is not None and not chat.last.messages[0].buttons


@pytest.mark.parametrize("typed", ["ja", "Einverstanden", "1", "OK", "yes"])
def test_typing_agreement_gives_consent(chat: Chat, typed: str) -> None:
    chat.say("Hallo")
    chat.say(typed)
    assert chat.state.consented
    assert chat.flow == Flow.MENU


def test_the_first_message_ja_shows_the_notice_instead_of_consenting(chat: Chat) -> None:
    chat.say("ja")
    assert not chat.state.consented
    assert "Datenschutz" in chat.text


@pytest.mark.parametrize("typed", ["Nein, danke", "nein", "2"])
def test_declining_says_goodbye_and_points_to_start(chat: Chat, typed: str) -> None:
    chat.say("Hallo")
    chat.say(typed)
    assert not chat.state.consented
    assert "/start" in chat.text
    assert chat.flow == Flow.DECLINED
    chat.say("Doch noch eine Frage")
    assert "Datenschutz" in chat.text  # any message brings the notice back


def test_declined_citizen_can_agree_later_with_start(chat: Chat) -> None:
    chat.say("Hallo")
    chat.press("consent:no")
    chat.command("start")
    chat.press("consent:yes")
    assert chat.state.consented


def test_declined_citizen_whose_client_kept_the_buttons_can_still_agree(chat: Chat) -> None:
    chat.say("Hallo")
    chat.press("consent:no")
    chat.press("consent:yes", ref="m1")  # clients that cannot edit keep the old keyboard
    assert chat.state.consented


@pytest.mark.parametrize("command", ["umfragen", "idee", "meinedaten", "weiter", "menu", "gibtsnicht"])
def test_commands_before_consent_show_the_notice(chat: Chat, command: str) -> None:
    chat.command(command)
    assert "Datenschutz" in chat.text
    assert chat.store.exports == 0 and not chat.store.responses


def test_media_and_menu_buttons_before_consent_show_the_notice(chat: Chat) -> None:
    from handlers.events import InboundKind

    chat.event(InboundKind.MEDIA, media="photo")
    assert "Datenschutz" in chat.text
    chat.press("m:surveys", ref="old")
    assert "Datenschutz" in chat.text
    assert not chat.state.consented


def test_help_works_before_consent(chat: Chat) -> None:
    chat.command("hilfe")
    assert "/umfragen" in chat.text and "/loeschen" in chat.text
    assert not chat.state.consented


@pytest.mark.parametrize(
    ("hint", "language"), [("de", "de"), ("de-AT", "de"), (None, "de"), ("en", "en"), ("en-GB", "en"), ("fr", "en")]
)
def test_first_event_sets_language_from_client_hint(hint: str | None, language: str) -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint=hint)
    chat.say("Hello")
    assert chat.state.language == language
    expected = "Do you agree?" if language == "en" else "Sind Sie einverstanden?"
    assert expected in chat.text


def test_english_citizen_gets_english_buttons() -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint="en")
    chat.say("Hi")
    assert chat.labels() == ["I agree", "No, thanks"]
    chat.press("consent:yes")
    assert chat.labels() == ["Surveys", "Submit an idea", "My data", "Help"]


def test_sprache_toggles_language_and_shows_the_step_again(chat: Chat) -> None:
    chat.agree()
    chat.command("sprache")
    assert chat.state.language == "en" and chat.state.language_chosen
    assert chat.labels() == ["Surveys", "Submit an idea", "My data", "Help"]
    chat.command("language")
    assert chat.state.language == "de"
    assert "Deutsch" in chat.text


def test_sprache_with_argument_sets_that_language(chat: Chat) -> None:
    chat.agree()
    chat.command("sprache", "english")
    assert chat.state.language == "en"
    chat.command("sprache", "english")
    assert chat.state.language == "en"


def test_sprache_works_before_consent_and_translates_the_notice(chat: Chat) -> None:
    chat.say("Hallo")
    chat.command("language")
    assert "Do you agree?" in chat.text
    assert chat.labels() == ["I agree", "No, thanks"]


def test_chosen_language_beats_the_client_hint_after_deletion(chat: Chat) -> None:
    chat.agree()
    chat.command("sprache", "en")
    chat.command("loeschen")
    chat.press("del:yes")
    chat.say("Hallo again")
    assert chat.state.language == "en"


def test_menu_items_by_typed_number_and_label(chat: Chat) -> None:
    chat.agree()
    chat.say("1")
    assert chat.flow == Flow.SURVEY_LIST
    chat.command("menu")
    chat.say("idee einreichen")
    assert chat.flow == Flow.IDEA_TEXT


def test_unmatched_text_in_menu_asks_to_choose(chat: Chat) -> None:
    chat.agree()
    chat.say("Was kann ich hier machen?")
    assert "Knöpfe" in chat.text
    assert chat.labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]


def test_start_after_consent_greets_and_shows_menu(chat: Chat) -> None:
    chat.agree()
    chat.command("start")
    assert "Willkommen zurück" in chat.text
    assert chat.flow == Flow.MENU


def test_help_button_shows_help_with_menu(chat: Chat) -> None:
    chat.agree()
    chat.press("m:help")
    assert "/zurueck" in chat.text
    assert chat.labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]


def test_datenschutz_shows_notice_and_date_of_consent(chat: Chat) -> None:
    chat.agree()
    chat.command("datenschutz")
    assert "pseudonyme Kennung" in chat.text
    assert "01.03.2025" in chat.text
