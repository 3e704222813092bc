"""Taking a survey: the list, every question type by button and by typing, branching, invalid answers."""

from __future__ import annotations

import re

import pytest

from handlers.events import CompleteResponse, SaveAnswer, StartResponse
from handlers.state import Flow
from surveys.catalog import SurveyCatalog
from tests.handlers.chat import Chat, catalog_of, current_question
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


def test_survey_list_shows_title_description_and_a_button_per_survey() -> None:
    other = sample_survey(id="zweite", title={"de": "Zweite Umfrage"}, description={"de": "Noch eine."})
    chat = Chat(catalog_of(sample_survey(), other))
    chat.agree()
    chat.press("m:surveys")
    assert "Unterwegs in der Stadt" in chat.text and "Fünf kurze Fragen zum Verkehr." in chat.text
    assert "Zweite Umfrage" in chat.text and "Noch eine." in chat.text
    assert [b.payload for b in chat.last_buttons()] == ["s:verkehr-test", "s:zweite"]


def test_no_active_surveys_is_said_plainly() -> None:
    chat = Chat(SurveyCatalog([]))
    chat.agree()
    chat.command("umfragen")
    assert "keine offenen Umfragen" in chat.text
    assert chat.flow == Flow.MENU


def test_starting_a_survey_shows_intro_and_first_question(chat: Chat) -> None:
    chat.press("m:surveys")
    chat.press("s:verkehr-test")
    assert chat.last.effects == (StartResponse("id-4", "verkehr-test", 1),)
    intro, question = chat.last.messages
    assert "Schön, dass Sie mitmachen." in intro.text and "/abbrechen" in intro.text
    assert "Frage 1 von" in question.text and "Wie sind Sie meistens unterwegs?" in question.text
    assert question.question and [b.label for b in question.all_buttons()] == ["Fahrrad", "Bus", "Auto"]
    assert all(len(row) == 1 for row in question.buttons)  # single choice: one option per row


def test_citizen_completes_survey_with_buttons_on_the_cycling_route(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    assert "Frage 2 von 5" in chat.text and "Radwege" in chat.text
    yes_no = chat.last.messages[-1]
    assert yes_no.question and len(yes_no.buttons) == 1 and [b.label for b in yes_no.all_buttons()] == ["Ja", "Nein"]
    chat.press("a:rad_gut:yes")
    chat.press("t:themen:sicherheit")
    chat.press("t:themen:preis")
    chat.press("d:themen")
    chat.press("k:minuten")
    chat.press("k:wunsch")
    response = chat.only_response()
    assert response.complete
    assert response.answers == {
        "verkehr": "rad",
        "rad_gut": True,
        "themen": ["sicherheit", "preis"],
        "minuten": None,
        "wunsch": None,
    }
    assert "Danke fürs Mitmachen!" in chat.text
    assert "Sicherheit, Preis" in chat.text  # the summary
    assert chat.flow == Flow.MENU and chat.data["survey"] is None
    assert chat.menu_labels() == ["Umfragen", "Idee einreichen", "Meine Daten", "Hilfe"]


def test_citizen_completes_survey_by_typing_numbers_and_texts(chat: Chat) -> None:
    chat.command("umfragen")
    chat.say("1")  # the survey list's first button
    chat.say("2")  # Bus
    assert "Wie zufrieden sind Sie mit dem Bus?" in chat.text
    chat.say("4")
    chat.say("1, 2")
    chat.say("ca. 25 Minuten")
    chat.say("Einen Bus alle 10 Minuten")
    response = chat.only_response()
    assert response.complete
    assert response.answers == {
        "verkehr": "bus",
        "bus_note": 4,
        "themen": ["sicherheit", "takt"],
        "minuten": 25,
        "wunsch": "Einen Bus alle 10 Minuten",
    }


def test_option_text_and_yes_no_words_are_understood(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.say("fahrrad")
    chat.say("Nein")
    chat.say("Takt")
    assert chat.only_response().answers == {"verkehr": "rad", "rad_gut": False, "themen": ["takt"]}


def test_scale_is_one_row_of_numbers_with_the_labels_in_the_text(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:bus")
    scale = chat.last.messages[-1]
    assert [[b.label for b in row] for row in scale.buttons] == [["1", "2", "3", "4", "5"]]
    assert "1 = gar nicht" in scale.text and "5 = sehr" in scale.text
    chat.press("a:bus_note:5")
    assert chat.only_response().answers["bus_note"] == 5


def test_jump_leaves_out_the_questions_in_between(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    assert current_question(chat) == "minuten"
    assert "Frage 2 von 3" in chat.text
    assert "von 0 bis 120 Minuten" in chat.text
    assert [b.payload for b in chat.last_buttons()] == ["k:minuten"]


def test_answering_by_button_edits_the_question_to_show_the_answer(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    ref = next(r for r, m in chat.messages.items() if "Wie sind Sie" in m.text)
    chat.press("a:verkehr:bus")
    edit = chat.last.messages[0]
    assert edit.replaces == ref
    assert edit.text == "Wie sind Sie meistens unterwegs? ✓ Bus"
    assert edit.buttons == ()


def test_double_tap_does_not_advance_twice(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    first = chat.press("a:verkehr:rad")
    ref = first.messages[0].replaces
    chat.press("a:verkehr:rad", ref=ref)  # the second tap of a double tap, on the same (old) message
    assert current_question(chat) == "rad_gut"
    assert "früheren Nachricht" in chat.text and "Sind die Radwege gut?" in chat.text
    assert not chat.last.effects
    saves = [e for d in chat.decisions for e in d.effects if isinstance(e, SaveAnswer)]
    assert len(saves) == 1


def test_old_question_button_after_moving_on_is_stale(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.press("a:verkehr:bus", ref="m1")
    assert chat.only_response().answers == {"verkehr": "rad", "rad_gut": True}
    assert current_question(chat) == "themen"


def test_multiple_choice_toggles_edit_the_same_message(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("zurueck")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:no")
    ref = next(r for r, m in reversed(chat.messages.items()) if "Themen" in m.text)
    chat.press("t:themen:takt", ref=ref)
    (edit,) = chat.last.messages
    assert edit.replaces == ref and edit.multi and edit.question
    assert [b.label for b in edit.all_buttons()] == ["Sicherheit", "✓ Takt", "Preis", "Fertig"]
    chat.press("t:themen:preis", ref=ref)
    chat.press("t:themen:takt", ref=ref)
    assert [b.label for b in chat.last.messages[0].all_buttons()] == ["Sicherheit", "Takt", "✓ Preis", "Fertig"]
    assert not any(chat.last.effects)  # ticking stores nothing yet
    chat.press("d:themen", ref=ref)
    assert chat.only_response().answers["themen"] == ["preis"]


def test_ticking_more_than_allowed_is_refused(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    for option in ("sicherheit", "takt", "preis"):
        chat.press(f"t:themen:{option}")
    assert "höchstens 2" in chat.text
    assert chat.data["survey"]["pending"] == ["sicherheit", "takt"]


def test_done_without_a_choice_is_explained(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.press("d:themen")
    assert "mindestens 1" in chat.text and "Welche Themen" in chat.text
    assert current_question(chat) == "themen"


@pytest.mark.parametrize(
    ("route", "typed", "explanation"),
    [
        (["1"], "vielleicht", "Ja oder Nein"),
        ([], "7", "Nummer von 1 bis 3"),
        ([], "Straßenbahn", "Nummer von 1 bis 3"),
        (["3"], "viele", "nicht als Zahl erkannt"),
        (["3"], "500", "zwischen 0 und 120"),
        (["3"], "12,5", "ganze Zahl"),
        (["3", "10"], "x" * 51, "zu lang (51 Zeichen)"),
        (["2"], "9", "zwischen 1 und 5"),
        (["1", "ja"], "1, 2, 3", "höchstens 2"),
    ],
)
def test_invalid_typed_answers_are_explained_and_the_question_repeated(
    chat: Chat, route: list[str], typed: str, explanation: str
) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    for answer in route:
        chat.say(answer)
    before = current_question(chat)
    answers = dict(chat.only_response().answers)
    chat.say(typed)
    assert explanation in chat.text
    assert current_question(chat) == before
    assert chat.only_response().answers == answers
    assert len(re.findall(r"Frage \d+ von \d+", chat.last.messages[-1].text)) == 1  # the question again
    assert chat.last.effects == ()


def test_required_question_cannot_be_skipped(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.command("ueberspringen")
    assert "Pflicht" in chat.text or "braucht eine Antwort" in chat.text
    assert current_question(chat) == "verkehr"


def test_optional_question_can_be_skipped_by_command_and_by_typing_the_label(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("skip")
    assert current_question(chat) == "wunsch"
    chat.say("Überspringen")
    response = chat.only_response()
    assert response.complete and response.answers == {"verkehr": "auto", "minuten": None, "wunsch": None}


def test_survey_in_english(chat: Chat) -> None:
    chat.command("sprache", "en")
    chat.command("surveys")
    chat.press("s:verkehr-test")
    assert "Question 1 of" in chat.text and "How do you usually get around?" in chat.text
    assert chat.labels() == ["Bicycle", "Bus", "Car"]
    chat.say("car")
    assert "from 0 to 120 minutes" in chat.text
    assert chat.labels() == ["Skip"]


def test_language_switch_in_a_survey_shows_the_question_in_the_new_language(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.command("language")
    assert "How do you usually get around?" in chat.text
    assert chat.flow == Flow.SURVEY


def test_long_option_texts_are_listed_in_full_and_clipped_on_buttons() -> None:
    long = "Eine sehr lange Antwortmöglichkeit, die auf keinen Knopf passt, weil sie so ausführlich ist"
    survey = sample_survey(
        questions=[
            {
                "id": "q",
                "type": "single_choice",
                "text": "Welche?",
                "options": [{"id": "a", "text": long}, {"id": "b", "text": "Kurz"}],
            }
        ]
    )
    chat = Chat(catalog_of(survey))
    chat.agree()
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    assert f"1. {long}" in chat.text
    assert chat.labels()[0].endswith("…") and len(chat.labels()[0]) <= 60
    chat.say("1")
    assert chat.only_response().answers == {"q": "a"} and chat.only_response().complete


def test_completion_is_stored_once(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("skip")
    ref = chat.press("k:wunsch").messages[0].replaces
    chat.press("k:wunsch", ref=ref)  # double tap on the last question
    completions = [e for d in chat.decisions for e in d.effects if isinstance(e, CompleteResponse)]
    assert len(completions) == 1
