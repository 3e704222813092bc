"""Submitting an idea: text, strategy field, thanks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.events import InboundKind, SaveIdea, SetPublication
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of, fields, texts
from tests.handlers.sample import sample_survey

FIELD_LABELS = [f.label("de") for f in fields()]


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()), idea_max_length=100)
    chat.agree()
    return chat


def test_citizen_submits_an_idea_and_picks_a_field(chat: Chat) -> None:
    chat.press("m:idea")
    assert chat.flow == Flow.IDEA_TEXT
    assert "höchstens 100 Zeichen" in chat.text
    chat.say("  Sitzbänke an der Schwebebahn-Haltestelle Ohligsmühle  ")
    assert chat.flow == Flow.IDEA_FIELD
    assert chat.labels() == [*FIELD_LABELS, "Weiß nicht"]
    assert len(chat.labels()) == 7
    assert not chat.last.effects  # nothing stored before the field is chosen
    chat.press("f:mobilitaet")
    assert chat.last.effects == (
        SaveIdea(
            idea_id="id-5",
            text="Sitzbänke an der Schwebebahn-Haltestelle Ohligsmühle",
            field="mobilitaet",
            fields=("mobilitaet",),
        ),
    )
    assert "Vielen Dank für Ihre Idee" in chat.text
    assert chat.data["idea"] is None
    assert chat.flow == Flow.IDEA_PUBLISH and "ohne Ihren Namen" in chat.text
    chat.publish("no")
    assert chat.store.publications == [SetPublication("id-5", "no")]
    chat.press("tc:no")  # asked once, after the first idea with a field
    assert chat.flow == Flow.MENU
    assert chat.menu_labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]


def test_idea_text_can_follow_the_command(chat: Chat) -> None:
    chat.command("idee", "Mehr Trinkbrunnen in der Innenstadt")
    assert chat.flow == Flow.IDEA_FIELD
    chat.say("Weiß nicht")
    (idea,) = chat.store.ideas
    assert idea.text == "Mehr Trinkbrunnen in der Innenstadt" and idea.field is None


def test_field_can_be_chosen_by_typing_its_number(chat: Chat) -> None:
    chat.command("idee", "Freies WLAN im Bürgerbüro")
    chat.say("1")
    assert chat.store.ideas[0].field == fields()[0].key


def test_too_long_idea_is_not_stored_and_the_step_stays(chat: Chat) -> None:
    chat.command("idee")
    chat.say("x" * 101)
    assert chat.text == "Ihre Nachricht ist zu lang (101 Zeichen). Bitte kürzen Sie auf höchstens 100 Zeichen."
    assert chat.flow == Flow.IDEA_TEXT and chat.data["idea"] is None
    assert "x" * 101 not in str(chat.state.data)
    chat.say("x" * 100)
    assert chat.flow == Flow.IDEA_FIELD


def test_too_long_idea_after_the_command_is_not_stored_either(chat: Chat) -> None:
    chat.command("idee", "y" * 150)
    assert "zu lang (150 Zeichen)" in chat.text
    assert "y" * 150 not in str(chat.state.data)
    assert chat.flow == Flow.IDEA_TEXT


def test_unmatched_text_while_choosing_a_field_shows_the_fields_again(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.say("Keine Ahnung, was das heißt")
    assert "Knöpfe" in chat.text and chat.labels() == [*FIELD_LABELS, "Weiß nicht"]
    assert chat.store.ideas == []


def test_double_tapped_field_stores_the_idea_once(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    ref = chat.press("f:umwelt").messages[0].replaces
    chat.press("f:umwelt", ref=ref)
    assert len(chat.store.ideas) == 1
    assert "früheren Nachricht" in chat.text


def test_cancel_forgets_the_draft(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.command("abbrechen")
    assert "nicht gespeichert" in chat.text
    assert chat.data["idea"] is None and chat.flow == Flow.MENU
    chat.press("f:umwelt", ref="m5")
    assert chat.store.ideas == []


def test_leaving_the_idea_steps_forgets_the_draft(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.command("umfragen")
    assert chat.data["idea"] is None


def test_a_draft_written_by_an_older_bot_shows_every_field() -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    data = dict(chat.state.data, idea={"text": "Radweg Talachse", "proposed_field": "mobilitaet"})
    chat.state = replace(chat.state, flow=Flow.IDEA_FIELD.value, data=data)
    chat.command("sprache", "de")  # shows the current step again
    assert chat.labels() == [*FIELD_LABELS, "Weiß nicht"]
    chat.say("2")
    assert chat.store.ideas[0].field == "mobilitaet"


def test_empty_idea_is_asked_for_again(chat: Chat) -> None:
    chat.command("idee")
    chat.say("   ")
    assert "als Text" in chat.text
    assert chat.flow == Flow.IDEA_TEXT


def test_a_keyboard_of_an_earlier_idea_does_not_act_on_the_next_one(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün am Rathaus")
    first = next(ref for ref, m in reversed(chat.messages.items()) if m.buttons)
    old = next(b.payload for b in chat.messages[first].all_buttons() if b.payload.startswith("f:umwelt:"))
    chat.command("idee", "Ein Bücherschrank im Park")
    assert chat.flow == Flow.IDEA_FIELD
    chat.press(old, ref=first)  # the citizen scrolls up and taps the first idea's keyboard
    assert chat.store.ideas == [], "an outdated keyboard stores nothing"
    assert "früheren Nachricht" in chat.text and chat.flow == Flow.IDEA_FIELD
    chat.press("f:leben")
    (idea,) = chat.store.ideas
    assert idea.text == "Ein Bücherschrank im Park" and idea.field == "leben"


def test_a_draft_of_an_older_bot_without_an_id_still_takes_its_buttons(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.state = replace(chat.state, data={**chat.state.data, "idea": {"text": "Mehr Grün", "view": "all"}})
    # a keyboard sent by the older bot carried no id
    chat.event(InboundKind.BUTTON, payload="f:umwelt", message_ref="sent-by-the-older-bot")
    (idea,) = chat.store.ideas
    assert idea.field == "umwelt"


@pytest.mark.parametrize("typed", ["👍", "123", "!!! ???", "🚲🚲 2"])
def test_an_idea_without_any_word_gets_a_friendly_request_for_words_and_is_not_filed(typed: str) -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    chat.command("idee")
    chat.say(typed)
    assert chat.text == texts().get("idea.no_words", "de")
    assert chat.flow == Flow.IDEA_TEXT.value and chat.store.ideas == []
    chat.say("Mehr Fahrradständer am Bahnhof Vohwinkel")
    assert chat.flow != Flow.IDEA_TEXT.value
