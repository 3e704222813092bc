"""Crisis phrases, media and other events the dialogue cannot take as input, and the flood limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.crisis import is_crisis
from handlers.events import InboundKind
from handlers.state import FLOOD_LIMIT, Flow
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


@pytest.mark.parametrize(
    "text",
    [
        "Ich will mich umbringen",
        "ich bring mich um",
        "Suizid",
        "ich habe suizidgedanken",
        "Ich möchte nicht mehr leben",
        "ich mochte sterben",
        "Selbstmord",
        "NOTFALL!",
        "Das ist ein Notfall",
        "Hilfe es brennt",
        "hilfe, es brennt!!!",
        "lebensmüde",
        "I want to kill myself",
        "i dont want to live anymore",
        "I don't want to live",
        "this is an emergency",
    ],
)
def test_crisis_phrases_are_recognised(text: str) -> None:
    assert is_crisis(text, texts())


@pytest.mark.parametrize(
    "text",
    [
        "Notfallplan für Starkregen",
        "Im Notfall sollte die Stadt per App warnen",
        "Notfallversorgung",
        "Ich lebe gern in Wuppertal",
        "Die Feuerwehr braucht mehr Zufahrten",
        "Mehr Bänke",
        "Hilfe",
        "",
    ],
)
def test_ordinary_texts_are_no_crisis(text: str) -> None:
    assert not is_crisis(text, texts())


def test_crisis_before_consent_gets_the_numbers_and_stores_nothing() -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.say("Ich will nicht mehr leben")
    assert "112" in chat.text and "110" in chat.text
    assert "0800 111 0 111" in chat.text and "0800 111 0 222" in chat.text and "116 123" in chat.text
    assert "nicht live gelesen" in chat.text
    assert not chat.state.consented and chat.last.effects == ()


def test_crisis_in_the_middle_of_a_survey_keeps_the_step_and_is_not_an_answer(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("skip")
    state_before = chat.state
    chat.say("Ich will mich umbringen")
    (reply,) = chat.last.messages
    assert "112" in reply.text and reply.buttons == ()
    assert chat.last.effects == ()
    assert chat.flow == Flow.SURVEY and chat.data["survey"] == state_before.data["survey"]
    assert chat.data["offered"] == state_before.data["offered"]  # typed numbers still refer to the question
    chat.say("Mehr Busse")
    assert chat.only_response().answers["wunsch"] == "Mehr Busse"


def test_crisis_text_is_never_stored_as_an_idea(chat: Chat) -> None:
    chat.command("idee", "ich will sterben")
    assert "112" in chat.text
    chat.command("idee")
    chat.say("Ich habe Suizidgedanken")
    assert "112" in chat.text and chat.flow == Flow.IDEA_TEXT and chat.data["idea"] is None


def test_crisis_in_an_edited_message_is_answered(chat: Chat) -> None:
    chat.event(InboundKind.EDITED, text="ich will mich umbringen")
    assert "112" in chat.text


def test_crisis_reply_in_english_for_english_citizens() -> None:
    chat = Chat(catalog_of(sample_survey()), language_hint="en")
    chat.say("I want to kill myself")
    assert "Emergency" in chat.text and "112" in chat.text


@pytest.mark.parametrize("media", ["sticker", "photo", "voice", "video", "document", "location", "contact"])
def test_media_gets_a_friendly_hint_and_the_current_step_again(chat: Chat, media: str) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.event(InboundKind.MEDIA, media=media)
    assert "nur Text und Knöpfe" in chat.text
    assert "Wie sind Sie meistens unterwegs?" in chat.text
    assert chat.labels() == ["Fahrrad", "Bus", "Auto"]
    assert chat.last.effects == ()


def test_undecryptable_message_asks_to_resend_and_keeps_the_step(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.event(InboundKind.MEDIA, media="undecryptable")
    assert "nicht entschlüsseln" in chat.text
    assert "nur Text und Knöpfe" not in chat.text
    assert "Wie sind Sie meistens unterwegs?" in chat.text
    assert chat.last.effects == ()


def test_edited_message_is_not_taken_into_account(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.event(InboundKind.EDITED, text="Bus")
    assert chat.text == (
        "Bearbeitete Nachrichten kann ich nicht berücksichtigen – bitte schicken Sie die Korrektur als neue Nachricht."
    )
    assert chat.last.effects == () and chat.data["survey"]["current"] == "verkehr"


def test_group_messages_get_a_pointer_to_private_chats(chat: Chat) -> None:
    chat.event(InboundKind.GROUP, text="Hallo Bot")
    assert "nur in privaten Chats" in chat.text
    assert chat.flow == Flow.MENU


def test_unknown_command_points_to_help(chat: Chat) -> None:
    chat.command("foobar")
    assert "Diesen Befehl kenne ich nicht" in chat.text and "/hilfe" in chat.text


def test_unknown_button_payload_is_treated_as_stale(chat: Chat) -> None:
    chat.press("zz:whatever", ref="m1")
    assert "früheren Nachricht" in chat.text
    assert chat.labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]


def test_flood_limit_sends_one_notice_then_stays_silent_until_the_window_passes() -> None:
    chat = Chat(catalog_of(sample_survey()), step=timedelta(seconds=1))
    chat.agree()  # 2 events
    for _ in range(FLOOD_LIMIT - 2):
        chat.say("Hallo")
        assert chat.last.messages
    chat.say("Hallo")  # the 21st event within a minute
    assert "langsamer" in chat.text
    state = chat.state
    for _ in range(5):
        chat.press("m:surveys")
        assert chat.last.messages == () and chat.last.effects == ()
        assert chat.state == state  # nothing stored for ignored events
    chat.now += timedelta(seconds=60)
    chat.press("m:surveys")
    assert chat.flow == Flow.SURVEY_LIST


def test_flood_limit_never_holds_back_the_crisis_reply() -> None:
    chat = Chat(catalog_of(sample_survey()), step=timedelta(seconds=0.5))
    for _ in range(FLOOD_LIMIT + 3):
        chat.say("Hallo")
    chat.say("Notfall")
    assert "112" in chat.text


def test_steady_chatting_is_not_flood() -> None:
    chat = Chat(catalog_of(sample_survey()), step=timedelta(seconds=4))
    chat.agree()
    for _ in range(40):
        chat.say("Hallo")
        assert "langsamer" not in chat.text


def test_a_photo_with_a_caption_is_answered_as_its_text(chat: Chat) -> None:
    chat.command("idee")
    chat.event(InboundKind.MEDIA, media="photo", text="Schlagloch vor der Grundschule, bitte reparieren")
    assert chat.text.startswith("Bilder und Dateien kann ich nicht speichern")
    assert chat.flow == Flow.IDEA_FIELD, "the caption became the idea's text"
    assert chat.data["idea"]["text"] == "Schlagloch vor der Grundschule, bitte reparieren"
    chat.event(InboundKind.MEDIA, media="photo")
    assert "nur Text und Knöpfe" in chat.text and chat.flow == Flow.IDEA_FIELD


def test_a_crisis_phrase_in_a_caption_gets_the_help_numbers(chat: Chat) -> None:
    chat.event(InboundKind.MEDIA, media="photo", text="ich will nicht mehr leben")
    assert "0800 111 0 111" in chat.text
