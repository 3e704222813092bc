"""What may reach a citizen unasked: /abo, /pause, /stop, and when the bot asks for an opt-in (once, never stacked)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.events import PauseOutreach, SetOptIn, StopOutreach
from handlers.outreach import parse_pause
from handlers.state import Flow
from tests.handlers.chat import Chat, catalog_of
from tests.handlers.sample import sample_survey

MENU = ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]
INVITE_QUESTION = "Darf ich Ihnen Bescheid geben, wenn die Stadt eine neue Umfrage startet?"
IDEA_NEWS_QUESTION = "Neuigkeiten zu Ihren Ideen gibt?"


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


def finish_by_car(chat: Chat) -> None:
    """The shortest route through the sample survey (no follow-ups in it)."""
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.say("15")
    chat.press("k:wunsch")


def opt_in_effects(chat: Chat) -> list[SetOptIn]:
    return [e for e in chat.last.effects if isinstance(e, SetOptIn)]


# --------------------------------------------------------------------------------------------------- /abo


def test_abo_shows_the_three_opt_ins_all_off_for_a_new_citizen(chat: Chat) -> None:
    chat.command("abo")
    assert "Einladungen zu neuen Umfragen: aus" in chat.text
    assert "Nachfragen zu Umfragen, an denen Sie teilgenommen haben: aus" in chat.text
    assert "Neuigkeiten zu Ihren Ideen: aus" in chat.text
    assert chat.labels() == [
        "Umfragen einschalten",
        "Themen für Umfragen wählen",
        "Nachfragen einschalten",
        "Ideen-Neuigkeiten einschalten",
        "Fertig",
    ]
    assert chat.flow == Flow.ABO


@pytest.mark.parametrize("alias", ["abo", "abos", "subscriptions"])
def test_abo_has_its_aliases(chat: Chat, alias: str) -> None:
    chat.command(alias)
    assert chat.flow == Flow.ABO


@pytest.mark.parametrize(
    ("topic", "on_label", "off_label", "confirmation"),
    [
        ("surveys", "Umfragen einschalten", "Umfragen ausschalten", "Einladungen zu neuen Umfragen, alle Themen"),
        ("followups", "Nachfragen einschalten", "Nachfragen ausschalten", "kurze Nachfragen zu Ihren Umfragen"),
        ("idea_news", "Ideen-Neuigkeiten einschalten", "Ideen-Neuigkeiten ausschalten", "Neuigkeiten zu Ihren Ideen"),
    ],
)
def test_abo_switches_each_opt_in_on_and_off_and_says_what_changed(
    chat: Chat, topic: str, on_label: str, off_label: str, confirmation: str
) -> None:
    chat.command("abo")
    chat.press_label(on_label)
    assert opt_in_effects(chat) == [SetOptIn(topic, True, (), "abo")]
    assert chat.text.startswith(f"Eingeschaltet: {confirmation}")
    assert chat.state.opt_ins == {topic: ()}
    assert off_label in chat.labels()
    assert chat.last.messages[0].replaces is not None, "the /abo message is updated in place"
    chat.press_label(off_label)
    assert opt_in_effects(chat) == [SetOptIn(topic, False, (), "abo")]
    assert chat.text.startswith("Ausgeschaltet:")
    assert chat.state.opt_ins == {}


def test_a_double_tapped_switch_changes_nothing_twice(chat: Chat) -> None:
    chat.command("abo")
    chat.press("ab:followups:on")
    chat.press("ab:followups:on", ref="m3")  # the /abo message (edited in place), tapped twice
    assert opt_in_effects(chat) == []
    assert "Das war schon so eingestellt." in chat.text


def test_abo_field_choice_ticks_fields_and_saves_them_with_fertig(chat: Chat) -> None:
    chat.command("abo")
    chat.press_label("Themen für Umfragen wählen")
    assert chat.flow == Flow.ABO_FIELDS
    assert "Alle Felder" in chat.labels() and "Fertig" in chat.labels()
    chat.press("af:mobilitaet")
    chat.press("af:umwelt")
    chat.press("af:umwelt")  # untick
    chat.press("af:verwaltung")
    assert len([label for label in chat.labels() if label.startswith("✓ ")]) == 2
    chat.press("af:.")
    assert opt_in_effects(chat) == [SetOptIn("surveys", True, ("verwaltung", "mobilitaet"), "abo")]
    assert chat.text.startswith("Eingeschaltet: Einladungen zu neuen Umfragen, nur zu ")
    assert "Einladungen zu neuen Umfragen: an, nur zu" in chat.text
    assert chat.flow == Flow.ABO


def test_abo_all_fields_and_fertig_without_a_tick(chat: Chat) -> None:
    chat.command("abo")
    chat.press("ab:fields")
    chat.press("af:.")
    assert "mindestens ein Thema" in chat.text and opt_in_effects(chat) == []
    chat.say("Alle Felder")  # typed instead of tapped
    assert opt_in_effects(chat) == [SetOptIn("surveys", True, (), "abo")]
    assert "Einladungen zu neuen Umfragen: an (alle Themen)" in chat.text


def test_abo_fertig_and_abbrechen_return_to_the_menu(chat: Chat) -> None:
    chat.command("abo")
    chat.press("ab:done")
    assert chat.flow == Flow.MENU and chat.labels() == MENU
    chat.command("abo")
    chat.command("abbrechen")
    assert chat.flow == Flow.MENU


# --------------------------------------------------------------------------------------------------- /pause, /stop


@pytest.mark.parametrize(
    ("typed", "length"),
    [
        ("2 Wochen", 14),
        ("14 Tage", 14),
        ("1 Monat", "1m"),
        ("einen Monat", "1m"),
        ("eine Woche", 7),
        ("3 weeks", 21),
        ("10", 10),
        ("2w", 14),
        ("aus", "off"),
        ("off", "off"),
        ("bald", None),
        ("0 Tage", None),
        ("400 Tage", None),
    ],
)
def test_pause_lengths_are_understood(typed: str, length: int | str | None) -> None:
    assert parse_pause(typed) == length


def test_pause_says_until_when_in_the_city_time_zone_and_how_to_resume(chat: Chat) -> None:
    chat.now = datetime.fromisoformat("2025-03-01T23:30:00+00:00")  # already 2 March in Berlin
    chat.command("pause", "2 Wochen")
    (pause,) = chat.store.pauses
    assert pause.until == chat.now - chat.step + timedelta(days=14)
    assert "Bis zum 16.03.2025" in chat.text
    assert "/pause aus" in chat.text and "/abo" in chat.text
    assert chat.state.paused_until == pause.until


def test_pause_one_month_is_a_calendar_month(chat: Chat) -> None:
    chat.now = datetime.fromisoformat("2025-01-31T10:00:00+00:00")
    chat.command("pause", "1 Monat")
    assert "28.02.2025" in chat.text


def test_pause_without_argument_offers_buttons(chat: Chat) -> None:
    chat.command("pause")
    assert chat.labels() == ["1 Woche", "2 Wochen", "1 Monat"]
    chat.press_label("1 Woche")
    (pause,) = chat.store.pauses
    assert pause.until is not None and pause.until - chat.now > timedelta(days=6)
    chat.command("pause")
    assert "Zurzeit pausiert bis" in chat.text and "Pause beenden" in chat.labels()
    chat.press_label("Pause beenden")
    assert chat.store.pauses[-1] == PauseOutreach(None) and chat.state.paused_until is None


def test_pause_aus_ends_the_pause_and_an_unknown_length_is_explained(chat: Chat) -> None:
    chat.command("pause", "aus")
    assert "keine Pause" in chat.text and chat.store.pauses == []
    chat.command("pause", "bis Ostern")
    assert "/pause 2 Wochen" in chat.text and chat.store.pauses == []
    chat.command("pause", "14 Tage")
    chat.command("pause", "aus")
    assert chat.store.pauses[-1] == PauseOutreach(None) and "Die Pause ist beendet" in chat.text


def test_pause_inside_a_survey_answers_without_leaving_it(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.command("pause", "1 Woche")
    assert chat.flow == Flow.SURVEY
    chat.press("a:verkehr:bus")
    assert chat.data["survey"]["current"] == "bus_note"


def test_stop_switches_everything_off_and_says_the_data_stays(chat: Chat) -> None:
    chat.opt_in("surveys")
    chat.opt_in("followups")
    chat.command("stop")
    assert chat.last.effects == (StopOutreach(),)
    assert chat.state.opt_ins == {}
    assert "/abo" in chat.text and "/meinedaten" in chat.text and "/loeschen" in chat.text
    assert "bleiben gespeichert" in chat.text


# --------------------------------------------------------------------------------------------------- when to ask


def test_consent_alone_asks_nothing_more(chat: Chat) -> None:
    assert INVITE_QUESTION not in chat.text and chat.labels() == MENU
    chat.command("menu")
    assert INVITE_QUESTION not in chat.text


def test_the_first_completed_survey_asks_for_invitations_once(chat: Chat) -> None:
    finish_by_car(chat)
    assert "Danke fürs Mitmachen!" in chat.text and chat.text.endswith(
        "Höchstens eine Nachricht am Tag, abbestellen jederzeit mit /abo."
    )
    assert chat.menu_labels() == MENU
    assert chat.labels() == ["Ja, zu allen Themen", "Nur zu bestimmten Themen", "Nein, danke"]
    chat.press_label("Ja, zu allen Themen")
    assert opt_in_effects(chat) == [SetOptIn("surveys", True, (), "after_survey")]
    assert chat.labels() == MENU
    chat.command("menu")
    assert INVITE_QUESTION not in chat.text


def test_no_means_never_asked_again(chat: Chat) -> None:
    chat.command("idee", "Mehr Bänke")
    chat.press("f:-")  # no field: no training question
    assert IDEA_NEWS_QUESTION not in chat.text, "never stacked on the publication question"
    chat.publish("no")
    assert chat.text.endswith(IDEA_NEWS_QUESTION)
    chat.press("oi:idea_news:no:idea_filed")
    assert "/abo" in chat.text and opt_in_effects(chat) == []
    assert INVITE_QUESTION in chat.text, "the next question waited for this turn"
    chat.press_label("Nein, danke")
    chat.command("idee", "Noch mehr Bänke")
    chat.press("f:-")
    chat.publish("yes")
    assert IDEA_NEWS_QUESTION not in chat.text and INVITE_QUESTION not in chat.text
    assert chat.store.opt_ins == []


def test_only_some_topics_opens_the_field_choice(chat: Chat) -> None:
    finish_by_car(chat)
    chat.press_label("Nur zu bestimmten Themen")
    assert chat.flow == Flow.ABO_FIELDS
    chat.press("af:umwelt")
    chat.press("af:.")
    assert opt_in_effects(chat) == [SetOptIn("surveys", True, ("umwelt",), "abo")]


def test_never_stacked_on_the_training_question(chat: Chat) -> None:
    from tests.handlers.test_idea_classification import CONFIDENT

    chat.command("idee", "Ein Radweg entlang der Talachse", classification=CONFIDENT)
    chat.press("fc:yes")
    chat.publish("yes")
    assert chat.flow == Flow.TRAINING_CONSENT
    assert IDEA_NEWS_QUESTION not in chat.text and INVITE_QUESTION not in chat.text
    chat.press("tc:no")
    assert chat.text.endswith(IDEA_NEWS_QUESTION) and INVITE_QUESTION not in chat.text
    chat.press("oi:idea_news:yes:idea_filed")
    assert opt_in_effects(chat) == [SetOptIn("idea_news", True, (), "idea_filed")]
    assert INVITE_QUESTION in chat.text


def test_citizens_who_agreed_before_opt_ins_existed_are_asked_once_on_their_next_message() -> None:
    chat = Chat(catalog_of(sample_survey()), consent_version="1")
    chat.agree()
    chat.command("umfragen")
    chat.press("s:verkehr-test")  # a survey running when the new notice comes
    # What a bot without opt-ins stored: no "asked" entry in the conversation data.
    chat.state = chat.state.evolve(data={k: v for k, v in chat.state.data.items() if k not in ("asked", "to_ask")})
    chat.consent_version = "2"
    chat.say("Hallo")
    assert "Datenschutzhinweise haben sich geändert" in chat.text
    chat.press("consent:yes")
    assert INVITE_QUESTION not in chat.text, "never on top of the consent"
    chat.command("weiter")
    assert chat.flow == Flow.SURVEY and INVITE_QUESTION not in chat.text, "never inside a running survey"
    chat.say("1")  # a typed answer is still an answer
    assert chat.data["survey"]["answers"] == {"verkehr": "rad"}
    chat.command("abbrechen")
    assert INVITE_QUESTION in chat.text and chat.menu_labels()[0].startswith("Weiter mit")
    chat.press_label("Ja, zu allen Themen")
    assert opt_in_effects(chat) == [SetOptIn("surveys", True, (), "invite_prompt")]
    chat.command("menu")
    assert INVITE_QUESTION not in chat.text


@given(st.text(max_size=40))
def test_any_pause_argument_is_understood_or_refused_never_crashes(typed: str) -> None:
    length = parse_pause(typed)
    assert length is None or length in ("off", "1m") or (isinstance(length, int) and 1 <= length <= 365)
