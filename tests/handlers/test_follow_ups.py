"""Follow-up questions and invitations as the citizen receives them: offered at the end of a survey, held while
busy, skipped without opt-in, answered into the original response; invitations start the pinned version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from handlers.events import (
    FOLLOW_UP_HELD,
    FOLLOW_UP_SENT,
    FOLLOW_UP_SKIPPED,
    Button,
    FollowUpOutcome,
    ScheduleFollowUp,
    SetOptIn,
)
from handlers.state import Flow
from surveys.catalog import SurveyCatalog, SurveyVersion
from tests.handlers.chat import Chat, catalog_of
from tests.handlers.sample import sample_survey

FOLLOW_UPS: list[dict[str, Any]] = [
    {
        "id": "bus_besser",
        "after_days": 3,
        "show_if": {"question": "verkehr", "equals": "bus"},
        "topic": {"de": "ob der Bus inzwischen besser fährt", "en": "whether the bus runs better now"},
        "question": {"type": "yes_no", "text": {"de": "Fährt der Bus inzwischen besser?", "en": "Is the bus better?"}},
    },
    {
        "id": "minuten_jetzt",
        "after_days": 30,
        "show_if": {"question": "verkehr", "equals": "auto"},
        "topic": {"de": "wie lange Ihr Weg jetzt dauert", "en": "how long your way takes now"},
        "intro": {"de": "Eine Nachfrage zu Ihrem Arbeitsweg:", "en": "A question on your way to work:"},
        "question": {
            "type": "number",
            "text": {"de": "Wie viele Minuten brauchen Sie jetzt?", "en": "How many minutes now?"},
            "integer": True,
            "min": 0,
            "max": 120,
        },
    },
]
SURVEY = sample_survey(follow_ups=FOLLOW_UPS, field="mobilitaet")
KEY = SURVEY.id


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(SURVEY))
    chat.agree()
    return chat


def finish_by_bus(chat: Chat) -> str:
    """Complete the sample survey on the bus route; returns the response id."""
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    chat.press("a:verkehr:bus")
    chat.press("a:bus_note:4")
    chat.press("t:themen:takt")
    chat.press("d:themen")
    chat.say("20")
    chat.press("k:wunsch")
    (response_id,) = chat.store.responses
    assert chat.store.responses[response_id].complete
    return response_id


def outcome(chat: Chat) -> str:
    (result,) = [e for e in chat.last.effects if isinstance(e, FollowUpOutcome)]
    return result.outcome


def followup_row(response_id: str, followup_id: str = "bus_besser") -> dict[str, Any]:
    return {"response_id": response_id, "survey_key": KEY, "survey_version": 1, "followup_id": followup_id}


# --------------------------------------------------------------------------------------------------- the offer


def test_the_end_of_a_survey_asks_when_and_what_and_yes_schedules_it(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    assert "Danke fürs Mitmachen!" in chat.text
    assert chat.text.endswith("Darf ich Sie in 3 Tagen noch einmal kurz fragen, ob der Bus inzwischen besser fährt?")
    assert chat.labels() == ["Ja, gern", "Nein, danke"]
    assert chat.menu_labels()[0] == "Umfragen", "the menu as after every survey, the question below it"
    assert "neue Umfrage startet" not in chat.text, "one question per turn"
    asked_at = chat.now
    chat.press_label("Ja, gern")
    assert [e for e in chat.last.effects if isinstance(e, SetOptIn)] == [SetOptIn("followups", True, (), "survey_end")]
    assert chat.store.scheduled == [
        ScheduleFollowUp(
            due_at=asked_at + timedelta(days=3),
            kind="survey_followup",
            payload=followup_row(response_id),
            response_id=response_id,
            unsolicited=True,
        )
    ]
    assert "/abo" in chat.text
    # The invitation question waited: one question per turn.
    assert "neue Umfrage startet" in chat.text and chat.menu_labels()[0] == "Umfragen"


def test_no_thanks_schedules_nothing(chat: Chat) -> None:
    finish_by_bus(chat)
    chat.press_label("Nein, danke")
    assert chat.store.scheduled == [] and chat.store.opt_ins == []
    assert "ich frage nicht nach" in chat.text


def test_with_the_opt_in_on_it_is_scheduled_directly_and_said_in_one_line(chat: Chat) -> None:
    chat.opt_in("followups")
    finish_by_bus(chat)
    kinds = [s.kind for s in chat.store.scheduled]
    assert kinds == ["survey_reminder", "survey_followup"] and chat.store.opt_ins == []
    assert "Ich frage Sie in 3 Tagen noch einmal kurz, ob der Bus inzwischen besser fährt." in chat.text
    assert "Abbestellen mit /abo" in chat.text


def test_only_follow_ups_whose_condition_matches_are_offered(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:yes")
    chat.press("t:themen:preis")
    chat.press("d:themen")
    chat.press("k:minuten")
    chat.press("k:wunsch")
    assert "Darf ich Sie" not in chat.text and chat.store.scheduled == []


def test_an_old_offer_is_answered_as_outdated(chat: Chat) -> None:
    finish_by_bus(chat)
    chat.press("fa:yes:0123456789abcdef", ref=list(chat.messages)[-1])  # a question of another survey
    assert "nicht mehr aktuell" in chat.text and chat.store.scheduled == []


# --------------------------------------------------------------------------------------------------- delivery


def test_the_follow_up_question_answered_by_button_is_stored_with_the_original_response(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.press_label("Ja, gern")
    chat.opt_in("followups")
    chat.now += timedelta(days=3)
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    assert outcome(chat) == FOLLOW_UP_SENT
    assert chat.text.startswith("Vor 3 Tagen haben Sie an „Unterwegs in der Stadt“ teilgenommen. Eine kurze Nachfrage:")
    assert "Fährt der Bus inzwischen besser?" in chat.text and "Frage 1 von" not in chat.text
    assert chat.labels() == ["Ja", "Nein"] and chat.flow == Flow.FOLLOW_UP
    chat.press("a:bus_besser:yes")
    assert chat.store.responses[response_id].answers["bus_besser"] is True
    assert "Danke für Ihre Antwort" in chat.text and chat.flow == Flow.MENU


def test_the_follow_up_question_answered_by_typing_and_wrong_input_explained(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    chat.press("a:verkehr:auto")
    chat.say("15")
    chat.press("k:wunsch")
    (response_id,) = chat.store.responses
    chat.opt_in("followups")
    chat.follow_up("survey_followup", 7, **followup_row(response_id, "minuten_jetzt"))
    assert chat.text.startswith("Eine Nachfrage zu Ihrem Arbeitsweg:")
    chat.say("viel")
    assert "nicht als Zahl erkannt" in chat.text and chat.flow == Flow.FOLLOW_UP
    chat.say("500")
    assert "zwischen 0 und 120" in chat.text
    chat.say("12")
    assert chat.store.responses[response_id].answers["minuten_jetzt"] == 12


def test_cancelling_the_follow_up_question_stores_nothing(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.opt_in("followups")
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    chat.command("abbrechen")
    assert "bus_besser" not in chat.store.responses[response_id].answers
    assert "Danke trotzdem" in chat.text and chat.flow == Flow.MENU
    chat.press("a:bus_besser:yes", ref="m" + str(len(chat.messages) - 1))  # the question, tapped too late
    assert "bus_besser" not in chat.store.responses[response_id].answers


def test_a_follow_up_falling_due_while_busy_is_held_and_released_when_idle(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.opt_in("followups")
    chat.command("idee")
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    assert outcome(chat) == FOLLOW_UP_HELD and chat.last.messages == ()
    assert chat.flow == Flow.IDEA_TEXT
    chat.say("Mehr Busse am Abend")
    assert chat.store.releases == 0, "still busy: choosing the field"
    chat.press("f:-")
    assert chat.store.releases == 0 and chat.flow == Flow.IDEA_PUBLISH, "still busy: the publication question"
    chat.publish("no")
    assert chat.store.releases == 1 and chat.flow == Flow.MENU
    chat.command("menu")
    assert chat.store.releases == 1, "released once"


def test_a_follow_up_is_held_inside_a_running_survey(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.opt_in("followups")
    other = sample_survey(id="zweite")
    chat.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY), SurveyVersion("zweite", 1, other)])
    chat.command("umfragen")
    chat.press("s:zweite")
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    assert outcome(chat) == FOLLOW_UP_HELD and chat.flow == Flow.SURVEY
    chat.command("abbrechen")
    assert chat.store.releases == 1


def test_a_citizen_who_walked_away_from_a_survey_is_not_busy_and_gets_the_reminder(chat: Chat) -> None:
    chat.opt_in("followups")
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    [reminder] = chat.store.scheduled
    chat.follow_up("survey_reminder", 7, **reminder.payload)
    assert outcome(chat) == FOLLOW_UP_SKIPPED, "answering it right now: no reminder needed"
    chat.now += timedelta(days=3)  # walked away mid-survey, never wrote again
    chat.follow_up("survey_reminder", 8, **reminder.payload)
    assert outcome(chat) == FOLLOW_UP_SENT and chat.flow == Flow.MENU
    assert chat.data["survey"] is not None, "the answers so far stay, /weiter resumes"
    chat.command("weiter")
    assert chat.flow == Flow.SURVEY


def test_an_invitation_reaches_a_citizen_who_left_a_follow_up_question_unanswered(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.opt_in("followups")
    chat.opt_in("surveys")
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    assert chat.flow == Flow.FOLLOW_UP
    chat.now += timedelta(hours=1, minutes=1)
    other = sample_survey(id="zweite")
    chat.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY), SurveyVersion("zweite", 1, other)])
    chat.follow_up("invitation", 42, campaign_id=3, survey_key="zweite", survey_version=1)
    assert outcome(chat) == FOLLOW_UP_SENT and "zweite" not in chat.data.get("completed", [])


@pytest.mark.parametrize(
    ("reason", "stored_reason"),
    [
        ("no_opt_in", "no_opt_in"),
        ("paused", "paused"),
        ("closed", "closed"),
        ("no_consent", "no_opt_in"),
        ("unknown_follow_up", "not_needed"),
    ],
)
def test_follow_ups_are_skipped_and_nothing_is_sent(chat: Chat, reason: str, stored_reason: str) -> None:
    response_id = finish_by_bus(chat)
    row = followup_row(response_id)
    if reason != "no_opt_in":
        chat.opt_in("followups")
    if reason == "paused":
        chat.state = chat.state.evolve(paused_until=chat.now + timedelta(days=1))
    if reason == "closed":
        closed_at = chat.now - timedelta(days=3)
        chat.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY)], closed={KEY: closed_at})
    if reason == "no_consent":
        chat.consent_version = "a-newer-notice"
    if reason == "unknown_follow_up":
        row["followup_id"] = "gibt_es_nicht"
    chat.follow_up("survey_followup", 41, **row)
    assert outcome(chat) == FOLLOW_UP_SKIPPED and chat.last.messages == ()
    assert chat.store.outcomes[-1] == FollowUpOutcome(41, FOLLOW_UP_SKIPPED, stored_reason)


def test_a_follow_up_of_a_survey_closed_within_the_grace_period_is_still_asked(chat: Chat) -> None:
    response_id = finish_by_bus(chat)
    chat.opt_in("followups")
    chat.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY)], closed={KEY: chat.now - timedelta(hours=1)})
    chat.follow_up("survey_followup", 41, **followup_row(response_id))
    assert outcome(chat) == FOLLOW_UP_SENT


# --------------------------------------------------------------------------------------------------- invitations

V2 = sample_survey(follow_ups=FOLLOW_UPS, field="mobilitaet", title={"de": "Unterwegs 2", "en": "Getting around 2"})


def invitation(campaign_id: int = 12, version: int = 1) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "survey_key": KEY, "survey_version": version}


@pytest.fixture
def invited() -> Chat:
    chat = Chat(SurveyCatalog([SurveyVersion(KEY, 1, SURVEY), SurveyVersion(KEY, 2, V2)]))
    chat.agree()
    chat.opt_in("surveys")
    return chat


def test_an_invitation_starts_the_pinned_version_with_the_campaign(invited: Chat) -> None:
    invited.follow_up("invitation", 5, **invitation())
    assert outcome(invited) == FOLLOW_UP_SENT
    assert invited.text.startswith("Neue Umfrage der Stadt: „Unterwegs in der Stadt“ (ca. 6 Fragen, 3 Minuten).")
    assert invited.labels() == ["Jetzt teilnehmen", "Später", "Keine Einladungen mehr"]
    invited.press_label("Jetzt teilnehmen")
    response = invited.only_response()
    assert (response.key, response.version, response.campaign_id) == (KEY, 1, 12)
    assert invited.flow == Flow.SURVEY


def test_later_and_no_more_invitations(invited: Chat) -> None:
    invited.follow_up("invitation", 5, **invitation())
    invited.press_label("Später")
    assert "/umfragen" in invited.text and invited.store.opt_ins == []
    invited.press("i:n:12")  # the invitation is still on screen
    assert invited.store.opt_ins == [SetOptIn("surveys", False, (), "invitation")]
    assert "/abo" in invited.text and invited.state.opt_ins == {}
    invited.follow_up("invitation", 6, **invitation(campaign_id=13))
    assert outcome(invited) == FOLLOW_UP_SKIPPED


def test_invitations_respect_the_chosen_fields(invited: Chat) -> None:
    invited.opt_in("surveys", "umwelt")
    invited.follow_up("invitation", 5, **invitation())
    assert outcome(invited) == FOLLOW_UP_SKIPPED
    invited.opt_in("surveys", "umwelt", "mobilitaet")
    invited.follow_up("invitation", 6, **invitation())
    assert outcome(invited) == FOLLOW_UP_SENT


def test_no_invitation_to_a_survey_already_taken_or_closed(invited: Chat) -> None:
    invited.state = invited.state.evolve(data={**invited.state.data, "completed": [KEY]})
    invited.follow_up("invitation", 5, **invitation())
    assert outcome(invited) == FOLLOW_UP_SKIPPED
    invited.state = invited.state.evolve(data={**invited.state.data, "completed": []})
    invited.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY)], closed={KEY: invited.now})
    invited.follow_up("invitation", 6, **invitation())
    assert outcome(invited) == FOLLOW_UP_SKIPPED


def test_an_old_invitation_pressed_after_the_survey_closed_says_so(invited: Chat) -> None:
    invited.follow_up("invitation", 5, **invitation())
    invited.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY)], closed={KEY: invited.now})
    invited.press_label("Jetzt teilnehmen")
    assert "läuft leider nicht mehr" in invited.text and invited.store.responses == {}


def test_a_campaign_reminder_resumes_a_started_survey(invited: Chat) -> None:
    invited.follow_up("invitation", 5, **invitation())
    invited.press_label("Jetzt teilnehmen")
    invited.press("a:verkehr:bus")
    invited.command("abbrechen")
    invited.follow_up("campaign_reminder", 9, **invitation())
    assert outcome(invited) == FOLLOW_UP_SENT
    assert invited.text.startswith("Erinnerung: Sie haben die Umfrage „Unterwegs in der Stadt“ angefangen.")
    invited.press_label("Weitermachen")
    assert invited.data["survey"]["current"] == "bus_note"


def test_an_invitation_while_busy_is_held(invited: Chat) -> None:
    invited.command("loeschen")
    invited.follow_up("invitation", 5, **invitation())
    assert outcome(invited) == FOLLOW_UP_HELD and invited.last.messages == ()


def test_invitation_buttons_fit_telegram_for_the_longest_key_and_campaign_id() -> None:
    payload = f"i:g:{2**31}:9999:{'k' * 40}"
    assert Button(payload, "Jetzt teilnehmen").payload == payload


# --------------------------------------------------------------------------------------------------- closed surveys


def test_a_closed_survey_is_not_offered_but_can_be_finished_within_the_grace_period(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    chat.press("a:verkehr:bus")
    chat.catalog = SurveyCatalog([SurveyVersion(KEY, 1, SURVEY)], closed={KEY: chat.now})
    chat.press("a:bus_note:4")
    assert chat.data["survey"]["current"] == "themen"
    chat.command("abbrechen")
    chat.command("umfragen")
    assert "keine offenen Umfragen" in chat.text or f"s:{KEY}" not in [b.payload for b in chat.last_buttons()]
    chat.now += timedelta(days=3)
    chat.command("weiter")
    assert "ist beendet" in chat.text and "bleiben gespeichert" in chat.text
    assert chat.data["survey"] is None
    assert chat.only_response().answers == {"verkehr": "bus", "bus_note": 4}


def test_a_started_survey_schedules_one_reminder_only_for_citizens_who_allowed_follow_ups(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press(f"s:{KEY}")
    assert chat.store.scheduled == [], "no opt-in: no reminder row at all"
    chat.command("abbrechen")
    chat.opt_in("followups")
    chat.command("weiter")
    assert chat.store.scheduled == [], "resuming is not a new start"
    other = Chat(catalog_of(SURVEY))
    other.agree()
    other.opt_in("followups")
    other.command("umfragen")
    other.press(f"s:{KEY}")
    [reminder] = other.store.scheduled
    assert reminder.kind == "survey_reminder" and reminder.unsolicited
    assert timedelta(days=3) - other.step <= reminder.due_at - other.now <= timedelta(days=3)
    assert reminder.payload["response_id"] == reminder.response_id
