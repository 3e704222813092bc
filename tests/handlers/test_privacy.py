"""/meinedaten and /loeschen."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers.events import CitizenState, DeleteCitizen, ExportData, FieldInfo
from handlers.my_data import EXPORT_FILENAME, render_export
from handlers.state import Flow
from handlers.turn import MAX_TEXT
from tests.handlers.chat import Chat, catalog_of, texts
from tests.handlers.sample import sample_survey


@pytest.fixture
def chat() -> Chat:
    chat = Chat(catalog_of(sample_survey()))
    chat.agree()
    return chat


FIELDS = (FieldInfo("umwelt", {"de": "Smarte Umwelt", "en": "Smart environment"}),
          FieldInfo("leben", {"de": "Smartes Leben", "en": "Smart living"}))
BERLIN = ZoneInfo("Europe/Berlin")


def stored(ideas: int = 1) -> dict[str, Any]:
    """What the runtime's repository returns for a citizen, in its shape."""
    return {
        "citizen": {"id": "c_7f3a", "language": "de", "language_chosen": False, "consent_version": "1",
                    "consent_at": "2025-03-01T23:30:00+00:00", "training_consent": None,
                    "created_at": "2025-03-01T23:29:00+00:00", "last_seen_at": "2025-03-02T08:00:00+00:00"},
        "contacts": [{"channel": "telegram", "channel_user_id": "4711", "chat_id": "4711"}],
        "conversation": {"flow": "menu", "data": {"offered": [["m:idea", "Idee"]], "flood": {"times": [1.0]}},
                         "updated_at": "2025-03-02T08:00:00+00:00"},
        "responses": [
            {"id": "r1", "survey": {"key": "mobil", "version": 1, "title": "Mobilität in Wuppertal"},
             "status": "completed", "started_at": "2025-03-02T07:00:00+00:00",
             "completed_at": "2025-03-02T07:05:00+00:00",
             "answers": [{"question_id": "q1", "value": "bus"}, {"question_id": "q2", "value": 3}]},
            {"id": "r2", "survey": {"key": "klima", "version": 2, "title": "Klima"}, "status": "in_progress",
             "started_at": "2025-03-02T07:30:00+00:00", "completed_at": None, "answers": []},
        ],
        "ideas": [
            {"id": f"i{n}", "text": f"Mehr Bänke im Park Nummer {n} " + "bitte " * (30 if n else 0),
             "field": "leben", "fields": ["leben", "umwelt"] if n == 0 else ["leben"], "proposed_field": "leben",
             "confident": True, "scores": {"leben": 0.9, "umwelt": 0.1}, "model_version": "fields-x",
             "status": "new", "created_at": "2025-03-02T07:10:00+00:00"}
            for n in range(ideas)
        ],
        "follow_ups": [{"kind": "survey_reminder", "due_at": "2025-03-03T07:00:00+00:00", "status": "pending",
                        "payload": {}, "created_at": "2025-03-02T07:30:00+00:00"}],
    }


def test_meinedaten_asks_the_runtime_for_the_export(chat: Chat) -> None:
    chat.command("meinedaten")
    assert chat.last.effects == (ExportData(),)
    assert chat.last.messages == ()  # the export itself is the answer (render_export)
    chat.press("m:data")
    assert chat.store.exports == 2


def test_the_export_is_a_plain_summary_with_everything_in_the_attached_file() -> None:
    data = stored()
    (message,) = render_export(data, "de", texts(), FIELDS, BERLIN)
    text = message.text
    assert text.startswith("Das ist zu Ihnen gespeichert") and EXPORT_FILENAME in text
    assert "Pseudonym (statt Ihres Namens): c_7f3a" in text and "Sprache: Deutsch" in text
    assert "Version 1, am 02.03.2025" in text, "dates in the city's time zone (23:30 UTC is the next day)"
    assert "noch nicht gefragt" in text and "Erreichbar über: Telegram (4711)" in text
    assert "Ihre Ideen (1):\n1. „Mehr Bänke im Park Nummer 0“ – Smartes Leben, Smarte Umwelt, 02.03.2025" in text
    assert "• Mobilität in Wuppertal: abgeschlossen am 02.03.2025, 2 Antworten" in text
    assert "• Klima: begonnen am 02.03.2025, bisher 0 Antworten" in text
    assert "Geplante Nachrichten: 1\n• Erinnerungen an angefangene Umfragen: 1" in text
    assert text.endswith("Mit /loeschen können Sie alles löschen.")
    for technical in ("offered", "flood", "scores", "model_version", "m:idea", "proposed"):
        assert technical not in text
    assert message.document is not None and message.document.mime_type == "application/json"
    assert json.loads(message.document.content.decode("utf-8")) == data, "the file holds every stored value"


def test_the_summary_in_english_and_for_someone_with_nothing_stored() -> None:
    (message,) = render_export(stored(), "en", texts(), FIELDS, BERLIN)
    assert "Privacy notice accepted: version 1, on 2025-03-02" in message.text
    assert "1. “Mehr Bänke im Park Nummer 0” – Smart living, Smart environment, 2025-03-02" in message.text
    assert "Send /delete" in message.text
    empty = {"citizen": None, "contacts": [], "conversation": None, "responses": [], "ideas": [], "follow_ups": []}
    (nothing,) = render_export(empty, "de", texts())
    assert "nichts gespeichert" in nothing.text and nothing.document is not None


def test_survey_answers_are_shown_as_the_citizen_saw_them(chat: Chat) -> None:
    chat.command("umfragen")
    chat.press("s:verkehr-test")
    chat.press("a:verkehr:rad")
    chat.press("a:rad_gut:no")
    survey = sample_survey()
    data = stored()
    data["responses"] = [
        {"id": "r1", "survey": {"key": survey.id, "version": 1, "title": survey.title.de}, "status": "in_progress",
         "started_at": "2025-03-02T07:00:00+00:00", "completed_at": None,
         "answers": [{"question_id": q, "value": v} for q, v in chat.only_response().answers.items()]
         + [{"question_id": "weg_damit", "value": "alt"}]},
    ]
    (message,) = render_export(data, "de", texts(), FIELDS, BERLIN, catalog_of(survey))
    verkehr, rad_gut = (q for q in survey.questions if q.id in ("verkehr", "rad_gut"))
    option = next(o for o in verkehr.options if o.id == "rad")
    assert f"   – {verkehr.text.de}: {option.text.de}" in message.text
    assert f"   – {rad_gut.text.de}: Nein" in message.text
    assert '   – weg_damit: "alt"' in message.text, "a question no longer in the survey still shows its answer"


def test_full_idea_texts_when_they_fit() -> None:
    data = stored()
    data["ideas"][0]["text"] = "Eine lange Idee. " * 20
    (message,) = render_export(data, "de", texts(), FIELDS, BERLIN)
    assert ("Eine lange Idee. " * 20).strip() in message.text


def test_a_long_history_is_shortened_in_the_summary_but_complete_in_the_file() -> None:
    data = stored(ideas=120)
    data["ideas"][119]["text"] = "ä" * 3000
    (message,) = render_export(data, "de", texts(), FIELDS)
    assert len(message.text) <= MAX_TEXT
    assert "Ihre Ideen (120):" in message.text and "weitere (alle in der Datei)" in message.text
    assert "120. „" + "ä" * 199 + "…“" in message.text, "the newest ideas are shown, long texts cut"
    assert message.document is not None
    parsed = json.loads(message.document.content.decode("utf-8"))
    assert len(parsed["ideas"]) == 120 and parsed["ideas"][119]["text"] == "ä" * 3000


def test_deletion_needs_confirmation_and_then_deletes_everything(chat: Chat) -> None:
    chat.command("idee", "Mehr Grün")
    chat.press("f:umwelt")
    chat.command("loeschen")
    assert chat.flow == Flow.DELETE_CONFIRM
    assert chat.labels() == ["Ja, alles löschen", "Nein"]
    assert not chat.last.effects
    chat.press("del:yes")
    assert chat.last.effects == (DeleteCitizen(),)
    assert "/start" in chat.text and "gelöscht" in chat.text
    assert chat.state == CitizenState(language="de")
    assert chat.store.ideas == []


def test_deletion_keeps_the_language(chat: Chat) -> None:
    chat.command("language")
    chat.command("delete")
    chat.say("1")
    assert chat.state == CitizenState(language="en", language_chosen=True)
    assert "All your data" in chat.text


@pytest.mark.parametrize("how", ["button", "typed", "cancel"])
def test_declining_deletion_keeps_everything(chat: Chat, how: str) -> None:
    chat.command("idee", "Mehr Grün")
    chat.press("f:umwelt")
    chat.command("loeschen")
    if how == "button":
        chat.press("del:no")
    elif how == "typed":
        chat.say("Nein")
    else:
        chat.command("abbrechen")
    assert DeleteCitizen() not in chat.last.effects
    assert "bleibt alles" in chat.text
    assert chat.state.consented and chat.flow == Flow.MENU
    assert len(chat.store.ideas) == 1


def test_typed_ja_does_not_delete(chat: Chat) -> None:
    chat.command("loeschen")
    chat.say("ja")
    assert chat.store.deletions == 0
    assert chat.flow == Flow.DELETE_CONFIRM


def test_deletion_works_before_consent() -> None:
    chat = Chat(catalog_of(sample_survey()))
    chat.say("Hallo")
    chat.command("loeschen")
    chat.press("del:yes")
    assert chat.store.deletions == 1


def test_stale_delete_button_does_nothing(chat: Chat) -> None:
    chat.command("loeschen")
    chat.press("del:no")
    chat.press("del:yes", ref="m3")
    assert chat.store.deletions == 0
    assert "früheren Nachricht" in chat.text
