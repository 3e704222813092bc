"""A small hand-made dataset: one survey in two versions with branching, a skip, an unfinished response and
follow-ups — every cell status occurs. Tests check the exports cell by cell against what is written here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.storage.db import Database, UnitOfWork
from handlers.events import CitizenState, FieldScores
from surveys.schema import Survey

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FIELDS = ("mobilitaet", "umwelt", "verwaltung")
SECRET = b"analytics-test-secret-0123456789"

_MODES = [
    {"id": "bus", "text": {"de": "Bus", "en": "Bus"}},
    {"id": "rad", "text": {"de": "Fahrrad", "en": "Bicycle"}},
    {"id": "auto", "text": {"de": "Auto", "en": "Car"}},
]
_LINES = [{"id": f"l{i}", "text": {"de": f"Linie {i}"}} for i in (1, 2, 3)]
_FOLLOW_UP = {
    "id": "nachher",
    "after_days": 30,
    "topic": {"de": "ob sich etwas verbessert hat"},
    "question": {"type": "scale", "text": {"de": "Hat sich etwas verbessert?", "en": "Did it get better?"}},
}


def _questions(version: int) -> list[dict[str, Any]]:
    modes = _MODES + ([{"id": "zug", "text": {"de": "Zug", "en": "Train"}}] if version == 2 else [])
    lines = _LINES + ([{"id": "l4", "text": {"de": "Linie 4"}}] if version == 2 else [])
    questions: list[dict[str, Any]] = [
        {"id": "modus", "type": "single_choice", "text": {"de": "Wie fahren Sie?", "en": "How do you travel?"},
         "options": modes, "jumps": [{"when": {"question": "modus", "equals": "auto"}, "to": "zufrieden"}]},
        {"id": "linien", "type": "multiple_choice", "text": {"de": "Welche Linien?"}, "options": lines,
         "required": False},
        {"id": "zufrieden", "type": "scale", "text": {"de": "Wie zufrieden?", "en": "How satisfied?"},
         "scale": {"min": 1, "max": 5, "labels": {1: {"de": "gar nicht", "en": "not at all"},
                                                  5: {"de": "sehr", "en": "very"}}}},
        {"id": "2-rad", "type": "yes_no", "text": {"de": "Zweitrad?"},
         "show_if": {"question": "modus", "equals": "rad"}},
    ]
    if version == 1:
        questions.append({"id": "alter", "type": "number", "text": {"de": "Alter?"}, "integer": True, "min": 14,
                          "max": 99, "required": False})
    else:
        questions.append({"id": "stadtteil", "type": "single_choice", "text": {"de": "Stadtteil?"},
                          "options": [{"id": "barmen", "text": {"de": "Barmen"}, "code": 10},
                                      {"id": "elberfeld", "text": {"de": "Elberfeld"}, "code": 20}]})
    questions.append({"id": "wunsch", "type": "free_text", "text": {"de": "Was wünschen Sie sich?"},
                      "required": False})
    return questions


def definition(version: int) -> dict[str, Any]:
    """The survey `verkehr` as version 1 or 2 stores it."""
    survey = Survey.model_validate(
        {"id": "verkehr", "title": {"de": "Verkehr", "en": "Transport"}, "questions": _questions(version),
         "follow_ups": [_FOLLOW_UP]}
    )
    return survey.model_dump(mode="json")


def scores(best: str) -> FieldScores:
    return FieldScores({key: (0.8 if key == best else 0.1) for key in FIELDS}, True, "fields-test-1")


def _citizen(uow: UnitOfWork, citizen_id: str, channel: str) -> None:
    uow.citizens.save_state(citizen_id, CitizenState(language="de", consent_version="1", consent_at=NOW), NOW)
    uow.contacts.upsert(citizen_id, channel, f"user-{citizen_id}", f"chat-{citizen_id}")


def _response(uow: UnitOfWork, rid: str, citizen: str, version: int, start: datetime, answers: dict[str, Any],
              *, done: bool = True, campaign: int | None = None) -> None:
    uow.responses.start(rid, citizen, "verkehr", version, start, campaign_id=campaign)
    for position, (qid, value) in enumerate(answers.items()):
        classification = scores("mobilitaet") if qid == "wunsch" and isinstance(value, str) else None
        uow.responses.save_answer(rid, qid, value, start + timedelta(minutes=position), classification)
    if done:
        uow.responses.complete(rid, start + timedelta(minutes=10))


def _follow_up(uow: UnitOfWork, citizen: str, rid: str, *, sent: bool) -> None:
    row = uow.follow_ups.add(citizen, NOW + timedelta(days=30), "survey_followup",
                             {"response_id": rid, "survey_key": "verkehr", "survey_version": 1,
                              "followup_id": "nachher"}, now=NOW, response_id=rid)
    if sent:
        uow.follow_ups.mark_sent(row, NOW + timedelta(days=30))


def fill(database: Database) -> None:
    """Five citizens, five responses to `verkehr` (v1: bus, car, bicycle, unfinished; v2: train), three ideas."""
    with database.unit_of_work() as uow:
        uow.surveys.import_survey("verkehr", definition(1), "hash-v1", "Verkehr", "verkehr.yaml", NOW)
        uow.surveys.import_survey("verkehr", definition(2), "hash-v2", "Verkehr", "verkehr.yaml", NOW)
        campaign = uow.campaigns.create(name="Frühjahr", survey_key="verkehr", audience={}, starts_at=NOW,
                                        ends_at=NOW + timedelta(days=30), reminder_after_days=None,
                                        created_by=None, now=NOW)
        for citizen, channel in (("c_anna", "telegram"), ("c_bert", "matrix"), ("c_carla", "terminal"),
                                 ("c_dora", "telegram"), ("c_emil", "matrix")):
            _citizen(uow, citizen, channel)
        _response(uow, "resp-bus", "c_anna", 1, NOW, {
            "modus": "bus", "linien": ["l1", "l3"], "zufrieden": 4, "alter": 35,
            "wunsch": "Mehr Busse, Mail an anna@example.org", "nachher": 5}, campaign=campaign)
        _follow_up(uow, "c_anna", "resp-bus", sent=True)
        _response(uow, "resp-auto", "c_bert", 1, NOW + timedelta(hours=1), {
            "modus": "auto", "zufrieden": 2, "alter": None, "wunsch": None})
        _follow_up(uow, "c_bert", "resp-auto", sent=True)
        _response(uow, "resp-rad", "c_emil", 1, NOW + timedelta(hours=2), {
            "modus": "rad", "linien": None, "zufrieden": 3, "2-rad": True, "alter": 14, "wunsch": "=1+1"})
        _follow_up(uow, "c_emil", "resp-rad", sent=False)
        _response(uow, "resp-open", "c_carla", 1, NOW + timedelta(days=1), {"modus": "rad", "linien": ["l2"]},
                  done=False)
        _response(uow, "resp-v2", "c_dora", 2, NOW + timedelta(days=2), {
            "modus": "zug", "linien": ["l4"], "zufrieden": 5, "stadtteil": "barmen", "wunsch": "Mehr Züge"})
        uow.ideas.add("idea-1", "c_anna", "Nachtbus bis Ronsdorf, ruft 0202 1234567 an", "mobilitaet", NOW,
                      fields=("mobilitaet",), classification=scores("mobilitaet"))
        uow.ideas.add("idea-2", "c_bert", "Mehr Bäume", "umwelt", NOW + timedelta(days=1),
                      fields=("umwelt", "verwaltung"), classification=scores("verwaltung"))
        uow.ideas.add("idea-3", "c_dora", "Weiß nicht", None, NOW + timedelta(days=3))
