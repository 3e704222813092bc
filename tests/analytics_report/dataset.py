"""A report dataset with known counts: some cells far above k = 5, some below, a branch, skips, drop-outs.

Expected figures (k = 5) are spelled out next to the data so the tests can check the tables cell by cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.storage.db import Database, UnitOfWork
from handlers.events import CitizenState, FieldInfo, FieldScores
from surveys.schema import Survey

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
K = 5
FIELD_KEYS = ("verwaltung", "mobilitaet", "umwelt")
FIELDS = (
    FieldInfo("verwaltung", {"de": "Smarte Verwaltung", "en": "Smart administration"}),
    FieldInfo("mobilitaet", {"de": "Smarte Mobilität", "en": "Smart mobility"}),
    FieldInfo("umwelt", {"de": "Umwelt und Klima", "en": "Environment and climate"}),
)
SECRET_WORD = "xyzzy"  # in every free-text answer: must never reach the report
RARE_WORD = "einhornbrücke"  # in fewer than k ideas: must not be a top term

SURVEY: dict[str, Any] = {
    "id": "mobil",
    "title": {"de": "Mobil in Wuppertal", "en": "Getting around Wuppertal"},
    "questions": [
        {"id": "modus", "type": "single_choice", "text": {"de": "Wie fahren Sie meistens?", "en": "How do you travel?"},
         "options": [{"id": "bus", "text": {"de": "Bus", "en": "Bus"}},
                     {"id": "rad", "text": {"de": "Fahrrad", "en": "Bicycle"}},
                     {"id": "auto", "text": {"de": "Auto", "en": "Car"}},
                     {"id": "zug", "text": {"de": "Zug", "en": "Train"}}],
         "jumps": [{"when": {"question": "modus", "equals": "auto"}, "to": "zufrieden"}]},
        {"id": "linien", "type": "multiple_choice", "text": {"de": "Welche Linien nutzen Sie?", "en": "Which lines?"},
         "options": [{"id": "l1", "text": {"de": "Linie 1", "en": "Line 1"}},
                     {"id": "l2", "text": {"de": "Linie 2", "en": "Line 2"}},
                     {"id": "l3", "text": {"de": "Linie 3", "en": "Line 3"}}],
         "required": False},
        {"id": "zufrieden", "type": "scale", "text": {"de": "Wie zufrieden sind Sie?", "en": "How satisfied are you?"},
         "scale": {"min": 1, "max": 5, "labels": {1: {"de": "gar nicht", "en": "not at all"},
                                                  5: {"de": "sehr", "en": "very"}}}},
        {"id": "rad_gut", "type": "yes_no", "text": {"de": "Sind die Radwege gut?", "en": "Are cycle paths good?"},
         "show_if": {"question": "modus", "equals": "rad"}},
        {"id": "alter", "type": "number", "text": {"de": "Wie alt sind Sie?", "en": "How old are you?"},
         "integer": True, "min": 14, "max": 99, "required": False},
        {"id": "wunsch", "type": "free_text", "text": {"de": "Was wünschen Sie sich?", "en": "What do you wish for?"},
         "required": False},
    ],
}


@dataclass
class Spec:
    answers: dict[str, Any]
    done: bool = True
    day: int = 0
    wish_field: str = "mobilitaet"


@dataclass
class Expected:
    """What the report must show for the dataset (k = 5); None = suppressed."""

    responses: int = 39
    completed: int = 31
    modus: dict[str, int | None] = field(default_factory=lambda: {
        "bus": 26, "rad": None, "auto": None, "zug": 0, "skipped": 0, "total": 37})
    linien: dict[str, int | None] = field(default_factory=lambda: {
        "l1": 24, "l2": 6, "l3": None, "respondents": 26})
    zufrieden: dict[str, int | None] = field(default_factory=lambda: {
        "1": None, "2": None, "3": 8, "4": 10, "5": 6, "skipped": 0, "total": 31})
    rad_gut: dict[str, int | None] = field(default_factory=lambda: {
        "yes": None, "no": None, "skipped": 0, "total": 8})  # 6 and 2: the 2 takes the 6 with it
    funnel_reached: dict[str, int | None] = field(default_factory=lambda: {
        "modus": 39, "linien": None, "zufrieden": None, "rad_gut": 31, "alter": 31, "wunsch": 31})
    funnel_dropped: dict[str, int | None] = field(default_factory=lambda: {
        "modus": None, "linien": 0, "zufrieden": None, "rad_gut": 0, "alter": 0, "wunsch": 0, "completed": 31})


def specs() -> list[Spec]:
    result: list[Spec] = []
    satisfaction = [4] * 10 + [5] * 6 + [2] * 4
    lines = [["l1"]] * 12 + [["l1", "l2"]] * 6 + [["l3"]] * 2
    for i in range(20):  # bus riders
        result.append(Spec({"modus": "bus", "linien": lines[i], "zufrieden": satisfaction[i], "alter": 20 + i,
                            "wunsch": f"Geheimer Wunsch {i} {SECRET_WORD} mit Herrn Huber"},
                           day=i % 10, wish_field="mobilitaet" if i < 15 else "umwelt"))
    for i in range(8):  # cyclists: lines skipped, the branch question asked
        result.append(Spec({"modus": "rad", "linien": None, "zufrieden": 3, "rad_gut": i < 6, "alter": None,
                            "wunsch": None}, day=2 + i % 3))
    for i in range(3):  # drivers jump to the satisfaction question
        result.append(Spec({"modus": "auto", "zufrieden": 1, "alter": 40 + i, "wunsch": None}, day=5))
    for i in range(6):  # unfinished at the satisfaction question
        result.append(Spec({"modus": "bus", "linien": ["l1"]}, done=False, day=i % 2))
    for _ in range(2):  # unfinished before the first answer
        result.append(Spec({}, done=False, day=9))
    return result


IDEAS: list[tuple[str, str | None, tuple[str, ...], str | None]] = (
    # (text, field, chosen fields, proposed field)
    [(f"Ein sicherer Radweg an der Talachse, Vorschlag {i}", "mobilitaet", ("mobilitaet",), "mobilitaet")
     for i in range(6)]
    + [(f"Der Bus sollte öfter fahren, Idee {i}", "mobilitaet", ("mobilitaet",), "mobilitaet") for i in range(6)]
    + [(f"Bus und Bahn besser takten {i}", "mobilitaet", ("mobilitaet",), "umwelt") for i in range(3)]
    + [(f"Mehr Bäume pflanzen im Quartier {i}", "umwelt", ("umwelt",), "umwelt") for i in range(8)]
    + [(f"Die {RARE_WORD} begrünen, schreibt anna{i}@example.org", "umwelt", ("umwelt",), "verwaltung")
       for i in range(2)]
    + [(f"Online-Termine im Bürgerbüro {i}", "verwaltung", ("verwaltung",), "verwaltung") for i in range(3)]
    + [("Weiß nicht wohin", None, (), None) for _ in range(2)]
)


def scores(best: str) -> FieldScores:
    return FieldScores({key: (0.8 if key == best else 0.1) for key in FIELD_KEYS}, True, "fields-test-1")


def _citizen(uow: UnitOfWork, citizen_id: str) -> None:
    uow.citizens.save_state(citizen_id, CitizenState(language="de", consent_version="1", consent_at=START), START)
    uow.contacts.upsert(citizen_id, "telegram", f"user-{citizen_id}", f"chat-{citizen_id}")


def fill(database: Database) -> None:
    with database.unit_of_work() as uow:
        definition = Survey.model_validate(SURVEY).model_dump(mode="json")
        uow.surveys.import_survey("mobil", definition, "hash-mobil", "Mobil", "mobil.yaml", START)
        for index, spec in enumerate(specs()):
            citizen = f"c_{index:03d}"
            _citizen(uow, citizen)
            start = START + timedelta(days=spec.day, minutes=index)
            rid = f"r{index:03d}"
            uow.responses.start(rid, citizen, "mobil", 1, start)
            for position, (qid, value) in enumerate(spec.answers.items()):
                classification = scores(spec.wish_field) if qid == "wunsch" and value else None
                uow.responses.save_answer(rid, qid, value, start + timedelta(seconds=position), classification)
            if spec.done:
                uow.responses.complete(rid, start + timedelta(minutes=5))
        for index, (text, first, chosen, proposed) in enumerate(IDEAS):
            citizen = f"c_{index % 30:03d}"
            uow.ideas.add(f"idea-{index:03d}", citizen, text, first, START + timedelta(days=index % 12, hours=1),
                          fields=chosen, classification=scores(proposed) if proposed else None)
