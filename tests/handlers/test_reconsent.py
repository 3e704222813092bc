"""A new privacy notice (another `consent_version`): agreed again before anything new is stored, nothing lost."""

from __future__ import annotations

import pytest

from handlers.events import ExportData, SaveAnswer, SaveIdea
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of, current_question
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    """A citizen who agreed to notice "2025-1", is halfway through a survey, when notice "2026-1" comes in force."""
    chat = Chat(catalog_of(sample_survey()), consent_version="2025-1")
    chat.agree()
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.consent_version = "2026-1"
    return chat


def test_the_next_message_shows_the_new_notice_and_stores_nothing(chat: Chat) -> None:
    chat.press("a:rad_gut:yes")
    assert not any(isinstance(e, SaveAnswer) for e in chat.last.effects)
    assert chat.text.startswith("Unsere Datenschutzhinweise haben sich geändert")
    assert "bleiben gespeichert" in chat.text and "Datenschutz in Kürze" in chat.text
    assert chat.labels() == ["Einverstanden", "Nein, danke"]
    assert chat.flow == Flow.CONSENT
    assert chat.state.consent_version == "2025-1", "the earlier consent stays on record until replaced"
    chat.command("idee", "Mehr Bänke")
    assert chat.last.effects == () and "Datenschutzhinweise haben sich geändert" in chat.text


def test_agreeing_records_the_new_version_and_the_survey_goes_on(chat: Chat) -> None:
    chat.say("Hallo")
    chat.press("consent:yes")
    assert chat.state.consent_version == "2026-1" and chat.state.consent_at is not None
    assert chat.flow == Flow.MENU
    assert chat.last_buttons()[0].payload == "m:resume", "the unfinished survey is offered first"
    chat.press("m:resume")
    assert current_question(chat) == "rad_gut"
    chat.press("a:rad_gut:yes")
    assert any(isinstance(e, SaveAnswer) and e.question_id == "rad_gut" for e in chat.last.effects)
    assert chat.only_response().answers["verkehr"] == "rad", "the answer given before the change is kept"


def test_typed_agreement_works_too(chat: Chat) -> None:
    chat.say("Hallo")
    chat.say("ja")
    assert chat.state.consent_version == "2026-1"


def test_declining_keeps_what_is_stored_and_stores_nothing_new(chat: Chat) -> None:
    chat.say("Hallo")
    chat.press("consent:no")
    assert chat.flow == Flow.DECLINED
    assert "nichts Neues" in chat.text and "/loeschen" in chat.text and "/meinedaten" in chat.text
    assert chat.state.consent_version == "2025-1"
    assert chat.only_response().answers == {"verkehr": "rad"}
    chat.command("idee", "Mehr Bänke")
    assert not any(isinstance(e, SaveIdea) for e in chat.last.effects)
    assert "Datenschutzhinweise haben sich geändert" in chat.text


def test_seeing_and_deleting_the_stored_data_do_not_wait_for_the_new_notice(chat: Chat) -> None:
    chat.command("meinedaten")
    assert chat.last.effects == (ExportData(),)
    chat.command("loeschen")
    chat.press("del:yes")
    assert chat.store.responses == {} and chat.state.consent_version is None


def test_a_citizen_who_never_agreed_sees_the_plain_notice() -> None:
    chat = Chat(catalog_of(sample_survey()), consent_version="2026-1")
    chat.say("Hallo")
    assert chat.text.startswith("Willkommen") and "geändert" not in chat.text
    chat.command("meinedaten")
    assert chat.last.effects == (), "nothing of theirs is stored yet beyond what is needed to reply"


def test_the_same_version_asks_nothing_again() -> None:
    chat = Chat(catalog_of(sample_survey()), consent_version="2025-1")
    chat.agree()
    chat.command("idee", "Mehr Bänke")
    assert chat.flow == Flow.IDEA_FIELD


def test_switching_the_language_shows_the_new_notice_in_that_language(chat: Chat) -> None:
    chat.command("language")
    assert "Our privacy notice has changed" in chat.text and chat.flow == Flow.CONSENT
    assert chat.labels()[0] != "Einverstanden"


def test_keeping_the_data_after_all_leads_back_to_the_new_notice(chat: Chat) -> None:
    chat.command("loeschen")
    chat.press("del:no")
    assert "bleibt alles" in chat.text and "Datenschutzhinweise haben sich geändert" in chat.text
    assert chat.flow == Flow.CONSENT and chat.state.language == "de"
    chat.press("consent:yes")
    assert chat.state.consent_version == "2026-1"
