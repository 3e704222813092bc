"""Moving around in a survey: /zurueck and pruning, pause and resume, detours, versions, reminders."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from handlers.events import DeleteAnswer, InboundKind, SaveAnswer, StartResponse
from handlers.state import Flow
from surveys.catalog import SurveyCatalog, SurveyVersion
from tests.handlers.chat import Chat, catalog_of, current_question
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


def test_back_returns_to_the_previous_question_and_mentions_the_answer(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:no")
    chat.command("zurueck")
    assert current_question(chat) == "rad_gut"
    assert "Ihre bisherige Antwort: Nein" in chat.text
    chat.command("back")
    assert current_question(chat) == "verkehr"
    chat.command("zurueck")
    assert "schon die erste Frage" in chat.text
    assert current_question(chat) == "verkehr"


def test_back_across_a_branch_prunes_answers_no_longer_on_the_route(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.say("1")
    chat.command("zurueck")
    chat.command("zurueck")
    chat.command("zurueck")
    assert current_question(chat) == "verkehr"
    chat.press("a:verkehr:bus")
    # rad_gut is off the route now; themen comes after a question still to be answered, so it is asked again
    assert [e for e in chat.last.effects if isinstance(e, DeleteAnswer)] == [
        DeleteAnswer("id-4", "rad_gut"),
        DeleteAnswer("id-4", "themen"),
    ]
    assert current_question(chat) == "bus_note"
    assert chat.only_response().answers == {"verkehr": "bus"}
    assert chat.data["survey"]["answers"] == {"verkehr": "bus"}


def test_changing_an_answer_to_the_same_branch_keeps_later_answers(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.say("1, 2")
    chat.command("zurueck")
    chat.command("zurueck")
    chat.press("a:rad_gut:no")
    assert not [e for e in chat.last.effects if isinstance(e, DeleteAnswer)]
    assert current_question(chat) == "themen"
    assert "Ihre bisherige Antwort: Sicherheit, Takt" in chat.text
    assert chat.data["survey"]["pending"] == ["sicherheit", "takt"]  # the ticks start from the earlier answer
    assert chat.labels()[:2] == ["✓ Sicherheit", "✓ Takt"]


def test_changing_to_a_jump_prunes_the_skipped_answers(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.press("t:themen:takt")
    chat.press("d:themen")
    for _ in range(3):
        chat.command("zurueck")
    chat.press("a:verkehr:auto")
    deleted = {e.question_id for e in chat.last.effects if isinstance(e, DeleteAnswer)}
    assert deleted == {"rad_gut", "themen"}
    assert current_question(chat) == "minuten"


def test_citizen_can_resume_survey_after_pause_and_restart(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.press("t:themen:takt")
    chat.command("abbrechen")
    assert "Ihre Antworten sind gespeichert. Mit /weiter machen Sie später genau hier weiter." in chat.text
    assert chat.flow == Flow.MENU
    assert chat.labels()[0] == "Weiter mit „Unterwegs in der Stadt“"
    # a restart: only what the runtime stored survives (Chat already round-trips data through JSON)
    chat.state = replace(chat.state, data=json.loads(json.dumps(chat.state.data)))
    chat.command("weiter")
    assert chat.flow == Flow.SURVEY
    assert "Welche Themen sind Ihnen wichtig?" in chat.text
    assert "✓ Takt" in chat.labels()  # the ticks survive the pause too
    chat.press("d:themen")
    assert chat.only_response().answers["themen"] == ["takt"]


def test_resume_from_the_menu_button(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:bus")
    chat.command("cancel")
    chat.press("m:resume")
    assert current_question(chat) == "bus_note" and chat.flow == Flow.SURVEY


def test_a_detour_to_an_idea_keeps_the_survey_for_later(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:bus")
    chat.command("idee", "Mehr Bänke an Haltestellen")
    chat.press("f:mobilitaet")
    chat.publish("no")
    chat.press("tc:no")  # the one-time question after a first idea with a field
    assert chat.menu_labels()[0].startswith("Weiter mit")
    chat.say("1")
    assert current_question(chat) == "bus_note"


def test_pressing_the_paused_question_button_resumes_with_that_answer(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:bus")
    chat.command("abbrechen")
    chat.press("a:bus_note:2")
    assert chat.only_response().answers["bus_note"] == 2
    assert chat.flow == Flow.SURVEY and current_question(chat) == "themen"


def test_weiter_without_an_unfinished_survey_offers_the_list(chat: Chat) -> None:
    chat.command("weiter")
    assert "keine angefangene Umfrage" in chat.text
    assert chat.flow == Flow.SURVEY_LIST


def test_back_and_skip_outside_a_survey_are_explained(chat: Chat) -> None:
    chat.command("zurueck")
    assert "in keiner Umfrage" in chat.text
    chat.command("ueberspringen")
    assert "in keiner Umfrage" in chat.text


def test_finished_survey_is_marked_and_not_started_twice(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("skip")
    chat.command("skip")
    chat.command("umfragen")
    assert "schon teilgenommen" in chat.text
    assert [b.payload for b in chat.last_buttons()] == ["m:resume", "m:surveys", "m:idea", "m:data", "m:help"][1:]
    chat.press("s:verkehr-test", ref="m1")
    assert "schon teilgenommen" in chat.text
    assert len(chat.store.responses) == 1


def test_older_version_in_progress_is_finished_as_started() -> None:
    old = sample_survey()
    new = sample_survey(questions=[q for q in old.model_dump()["questions"] if q["id"] != "wunsch"])
    catalog = SurveyCatalog([SurveyVersion("verkehr-test", 1, old)])
    chat = Chat(catalog)
    chat.agree()
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.catalog = SurveyCatalog(
        [SurveyVersion("verkehr-test", 1, old), SurveyVersion("verkehr-test", 2, new)], active=[("verkehr-test", 2)]
    )
    chat.say("10")
    assert "Was wünschen Sie sich?" in chat.text  # only version 1 has this question
    chat.say("Mehr Busse")
    response = chat.only_response()
    assert response.version == 1 and response.complete and response.answers["wunsch"] == "Mehr Busse"


def test_vanished_version_is_explained_and_leads_to_the_menu(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.catalog = SurveyCatalog([])
    chat.say("10")
    assert "gibt es leider nicht mehr" in chat.text
    assert chat.flow == Flow.MENU and chat.data["survey"] is None
    assert not any(isinstance(e, SaveAnswer) for e in chat.last.effects)


def test_reminder_follow_up_offers_the_unfinished_survey(chat: Chat) -> None:
    chat.opt_in("followups")  # a reminder is unsolicited: only with the follow-ups opt-in
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:bus")
    chat.event(InboundKind.FOLLOW_UP, payload="survey_reminder")
    assert chat.last.messages == (), "not while the citizen is answering that very survey"
    chat.command("abbrechen")
    chat.event(InboundKind.FOLLOW_UP, payload="survey_reminder")
    assert "noch nicht beendet" in chat.text
    assert chat.labels()[0] == "Weiter mit „Unterwegs in der Stadt“"
    chat.press("m:resume")
    assert current_question(chat) == "bus_note"


def test_follow_ups_without_anything_to_say_send_nothing(chat: Chat) -> None:
    chat.event(InboundKind.FOLLOW_UP, payload="survey_reminder")  # no unfinished survey
    assert chat.last.messages == ()
    chat.event(InboundKind.FOLLOW_UP, payload="something_new")
    assert chat.last.messages == ()


def test_starting_a_survey_whose_paused_version_vanished_starts_the_current_one(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:auto")
    chat.command("abbrechen")
    chat.catalog = SurveyCatalog([SurveyVersion("verkehr-test", 2, sample_survey())])
    assert chat.labels()[0].startswith("Weiter mit")  # the old menu message
    chat.command("umfragen")
    assert [b.payload for b in chat.last_buttons()] == ["s:verkehr-test"]
    chat.press("s:verkehr-test")
    assert chat.last.effects == (StartResponse("id-8", "verkehr-test", 2),)
    assert current_question(chat) == "verkehr"
