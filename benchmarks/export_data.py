"""A synthetic survey database for the export benchmark (`benchmarks.exports`), built fast with bulk inserts.

The schema is the real one (`Database.migrate()`, the Alembic migrations); rows go in with SQLAlchemy Core
`executemany` in chunks rather than through the bot's per-message path. What it holds, deterministic for a seed:

- a 12-question survey (`SURVEY_KEY`) in TWO versions: version 1 lacks `sicherheit_nachts`, has one option fewer in
  `unterwegs` and a question (`app_genutzt`) that version 2 dropped, and only version 2 has the follow-up
  `rad_seitdem`. Branching: `oepnv_zufrieden` has a `show_if`, `mehr_rad` jumps over `rad_hindernis`; optional
  questions are skipped now and then; two free-text questions carry the classifier's field, scores and model version;
- one citizen per response with a Telegram or Matrix contact (a few have both), ~10 % unfinished responses, a
  campaign that part of the version-2 responses came through;
- survey follow-up rows (`survey_followup`) for completed responses whose follow-up applies and who opted in, in
  every state (pending, skipped, sent and answered, sent and unanswered, sent and skipped) plus the answers;
- ideas with German texts from a per-field vocabulary (so top terms exist), the chosen field(s), the classifier's
  proposed field, scores and confidence; a few texts hold an e-mail address, phone number or street address.

`build()` returns a `DataSummary` with the counts the generator produced, including the cell status every question
of every response should get in an export (the contract's definitions), so tests can check the data (and an
export) against it. `python -m benchmarks.export_data --responses 200` builds a temporary database and prints the
summary as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert

SURVEY_KEY = "bench-mobilitaet"
CAMPAIGN_NAME = "Mobilitätswochen 2026"
SECRET = "bench-export-secret-0123456789"
MODEL_VERSION = "fields-7ba7d43f-6a448d70"
FIELDS = ("verwaltung", "mobilitaet", "wuppertalerinnen", "umwelt", "leben", "wirtschaft")
START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # first response; version 2 from day 12, the campaign days 20-41
DAYS = 60
NOW = START + timedelta(days=DAYS + 14)  # "today" for the data: later follow-ups are still pending
VERSION2_FROM = START + timedelta(days=12)
CAMPAIGN_START = START + timedelta(days=20)
CAMPAIGN_END = START + timedelta(days=41)
CHUNK = 10_000

# Shares (of responses, or of the group named).
UNFINISHED = 0.10
SKIP_OPTIONAL = 0.15
CAMPAIGN_SHARE = 0.4  # of version-2 responses started while the campaign ran
TWO_CONTACTS = 0.02
MATRIX_SHARE = 0.3
UNCLASSIFIED = 0.03  # free texts stored while the classifier was off
FOLLOW_UP_OPT_IN = 0.6
PERSONAL_DETAIL = 0.03  # texts holding an e-mail address, phone number or street address

STATUSES = ("answered", "skipped", "not_shown", "not_reached", "not_offered", "not_asked")


def _t(de: str, en: str) -> dict[str, str]:
    return {"de": de, "en": en}


def _options(*pairs: tuple[str, str, str]) -> list[dict[str, Any]]:
    return [{"id": oid, "text": _t(de, en)} for oid, de, en in pairs]


_UNTERWEGS_V1 = [
    ("fuss", "Zu Fuß", "On foot"),
    ("schwebebahn", "Schwebebahn", "Schwebebahn"),
    ("bus", "Bus (WSW)", "Bus (WSW)"),
    ("rad", "Fahrrad oder E-Bike", "Bicycle or e-bike"),
    ("auto", "Auto oder Motorrad", "Car or motorbike"),
]
_UNTERWEGS_V2 = [*_UNTERWEGS_V1, ("carsharing", "Carsharing oder Taxi", "Car sharing or taxi")]


def survey_definition(version: int) -> dict[str, Any]:
    """The survey file (as a dict valid for `surveys.schema.Survey`) of version 1 or 2."""
    questions: list[dict[str, Any]] = [
        {"id": "bezirk", "type": "single_choice", "text": _t("In welchem Stadtbezirk wohnen Sie?", "District?"),
         "options": _options(
             ("elberfeld", "Elberfeld", "Elberfeld"), ("barmen", "Barmen", "Barmen"),
             ("oberbarmen", "Oberbarmen", "Oberbarmen"), ("vohwinkel", "Vohwinkel", "Vohwinkel"),
             ("cronenberg", "Cronenberg", "Cronenberg"), ("ronsdorf", "Ronsdorf", "Ronsdorf"),
             ("uellendahl", "Uellendahl-Katernberg", "Uellendahl-Katernberg"),
             ("ausserhalb", "Ich wohne nicht in Wuppertal", "I do not live in Wuppertal"))},
        {"id": "unterwegs", "type": "multiple_choice", "max_choices": 3,
         "text": _t("Wie sind Sie meistens unterwegs? (bis zu 3)", "How do you get around? (up to 3)"),
         "options": _options(*(_UNTERWEGS_V1 if version == 1 else _UNTERWEGS_V2))},
        {"id": "oepnv_zufrieden", "type": "scale",
         "show_if": {"question": "unterwegs", "any_of": ["schwebebahn", "bus"]},
         "text": _t("Wie zufrieden sind Sie mit Bus und Schwebebahn?", "How satisfied are you with public transport?"),
         "scale": {"min": 1, "max": 5, "labels": {1: _t("sehr unzufrieden", "very dissatisfied"),
                                                   5: _t("sehr zufrieden", "very satisfied")}}},
        {"id": "haltestelle_minuten", "type": "number", "integer": True, "min": 0, "max": 120, "required": False,
         "unit": _t("Minuten", "minutes"),
         "text": _t("Wie viele Minuten gehen Sie bis zur Haltestelle?", "Minutes on foot to the nearest stop?")},
        {"id": "mehr_rad", "type": "yes_no",
         "text": _t("Würden Sie mit sicheren Radwegen öfter Rad fahren?", "Would you cycle more with safe paths?"),
         "jumps": [{"when": {"question": "mehr_rad", "equals": False}, "to": "verbesserung"}]},
        {"id": "rad_hindernis", "type": "single_choice",
         "text": _t("Was hält Sie vom Radfahren ab?", "What keeps you from cycling?"),
         "options": _options(
             ("steigung", "Steigungen", "Hills"), ("radwege", "Fehlende Radwege", "Missing cycle paths"),
             ("sicherheit", "Ich fühle mich nicht sicher", "I do not feel safe"),
             ("abstellen", "Kein Abstellplatz", "No place to park"), ("anderes", "Etwas anderes", "Other"))},
        {"id": "verbesserung", "type": "free_text", "required": False, "max_length": 500,
         "text": _t("Was würde Ihre Wege am meisten verbessern?", "What would improve your trips most?")},
    ]
    if version >= 2:
        questions.append(
            {"id": "sicherheit_nachts", "type": "scale",
             "text": _t("Wie sicher fühlen Sie sich abends an Haltestellen?", "Safe at stops at night?"),
             "scale": {"min": 1, "max": 5}})
    questions += [
        {"id": "parken", "type": "yes_no", "text": _t("Finden Sie in Ihrer Straße einen Parkplatz?", "Parking?")},
        {"id": "haushalt", "type": "number", "integer": True, "min": 1, "max": 12,
         "text": _t("Wie viele Personen leben in Ihrem Haushalt?", "How many people live in your household?")},
        {"id": "altersgruppe", "type": "single_choice", "text": _t("Wie alt sind Sie?", "How old are you?"),
         "options": _options(("u18", "unter 18", "under 18"), ("a18_29", "18–29", "18–29"),
                             ("a30_49", "30–49", "30–49"), ("a50_64", "50–64", "50–64"),
                             ("a65", "65 und älter", "65 and over"))},
    ]
    if version == 1:
        questions.append({"id": "app_genutzt", "type": "yes_no",
                          "text": _t("Nutzen Sie die WSW-App?", "Do you use the WSW app?")})
    questions.append({"id": "idee", "type": "free_text", "required": False, "max_length": 1000,
                      "text": _t("Haben Sie eine Idee für Ihr Quartier?", "Any idea for your neighbourhood?")})
    follow_ups: list[dict[str, Any]] = [
        {"id": "oepnv_seitdem", "after_days": 14, "show_if": {"question": "oepnv_zufrieden", "any_of": [1, 2]},
         "topic": _t("ob Bus und Schwebebahn besser geworden sind", "whether public transport got better"),
         "question": {"type": "single_choice", "text": _t("Besser oder schlechter seitdem?", "Better or worse?"),
                      "options": _options(("besser", "Besser", "Better"), ("gleich", "Gleich", "Same"),
                                          ("schlechter", "Schlechter", "Worse"))}},
    ]
    if version >= 2:
        follow_ups.append(
            {"id": "rad_seitdem", "after_days": 30, "show_if": {"question": "mehr_rad", "equals": True},
             "topic": _t("ob Sie inzwischen öfter Rad fahren", "whether you cycle more by now"),
             "question": {"type": "yes_no", "required": False,
                          "text": _t("Fahren Sie inzwischen öfter Rad?", "Do you cycle more often now?")}})
    return {
        "id": SURVEY_KEY, "field": "mobilitaet",
        "title": _t(f"Mobilität im Quartier (Benchmark, v{version})", f"Getting around (benchmark, v{version})"),
        "questions": questions, "follow_ups": follow_ups,
    }


# --------------------------------------------------------------------------------------------------- texts

_VOCABULARY: dict[str, tuple[str, ...]] = {
    "verwaltung": ("Bürgerbüro", "Onlinetermin", "Antragsformular", "Personalausweis", "Wartezeit", "Verwaltung",
                   "E-Government", "Bürgerportal", "Ummeldung", "Bauantrag", "Sprechstunde", "Servicenummer"),
    "mobilitaet": ("Radweg", "Bushaltestelle", "Schwebebahn", "Ampelschaltung", "Parkplatz", "Busverbindung",
                   "Fahrradständer", "Zebrastreifen", "Nachtbus", "Nordbahntrasse", "Gehweg", "Taktung"),
    "wuppertalerinnen": ("Bibliothek", "Schule", "Computerkurs", "Seniorentreff", "Jugendzentrum", "Lernort",
                         "Tablet", "Medienkompetenz", "Volkshochschule", "Nachhilfe", "Sprachkurs", "Hausaufgaben"),
    "umwelt": ("Bäume", "Grünfläche", "Solaranlage", "Mülltrennung", "Hitzeschutz", "Starkregen", "Blühwiese",
               "Trinkbrunnen", "Dachbegrünung", "Wupperufer", "Kompost", "Energiesparen"),
    "leben": ("Spielplatz", "Nachbarschaft", "Stadtteilfest", "Sportplatz", "Parkbank", "Beleuchtung",
              "Sauberkeit", "Quartierstreff", "Kita", "Hundewiese", "Wochenmarkt", "Treffpunkt"),
    "wirtschaft": ("Ladenlokal", "Innenstadt", "Gründerzentrum", "Glasfaser", "Einzelhandel", "Coworking",
                   "Leerstand", "Gewerbegebiet", "Arbeitsplätze", "Handwerk", "Fachkräfte", "Wochenendöffnung"),
}
_PLACES = ("Elberfeld", "Barmen", "Vohwinkel", "Cronenberg", "Ronsdorf", "Oberbarmen", "Heckinghausen",
           "Langerfeld", "am Arrenberg", "am Ölberg", "in Sonnborn", "an der Hardt")
_TEMPLATES = (
    "Ich wünsche mir mehr {a} und eine bessere {b} in {p}.",
    "In {p} fehlt {a}. Auch {b} wäre wichtig.",
    "Bitte {a} und {b} in {p} verbessern, das betrifft viele.",
    "{a} in {p} ist seit Jahren ein Problem, {b} ebenso.",
    "Mehr {a}, weniger Ärger mit {b} – das wäre gut für {p}.",
    "Könnte die Stadt {a} prüfen? In {p} fehlt außerdem {b}.",
)
_PERSONAL = (
    " Melden Sie sich gern: anna.beispiel@example.org",
    " Erreichbar unter 0202 5631234.",
    " Es geht um die Ecke Bahnhofstraße 12.",
    " Mit freundlichen Grüßen\nMax Mustermann",
)


def _text(rng: random.Random, field_key: str) -> str:
    words = _VOCABULARY[field_key]
    other = _VOCABULARY[rng.choice(FIELDS)] if rng.random() < 0.25 else words
    text = rng.choice(_TEMPLATES).format(a=rng.choice(words), b=rng.choice(other), p=rng.choice(_PLACES))
    if rng.random() < PERSONAL_DETAIL:
        text += rng.choice(_PERSONAL)
    return text


def _scores(rng: random.Random, best: str) -> dict[str, float]:
    """Classifier scores over the strategy fields, `best` on top, summing to about 1."""
    top = rng.uniform(0.45, 0.97)
    rest = [rng.random() for _ in FIELDS[1:]]
    total = sum(rest) or 1.0
    others = iter((1 - top) * r / total for r in rest)
    return {key: round(top if key == best else next(others), 4) for key in FIELDS}


# --------------------------------------------------------------------------------------------------- summary


@dataclass
class DataSummary:
    """What the generator wrote, and the export cell status it expects for every (question, response)."""

    responses: int = 0
    completed: int = 0
    unfinished: int = 0
    by_version: dict[int, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    campaign_responses: int = 0
    citizens: int = 0
    contacts: int = 0
    answers: int = 0
    ideas: int = 0
    follow_up_rows: dict[str, int] = field(default_factory=dict)  # follow_ups.status → rows
    follow_up_answers: int = 0
    statuses: dict[str, dict[str, int]] = field(default_factory=dict)  # question id → status → responses
    seconds: float = 0.0

    def count(self, question_id: str, status: str) -> None:
        per = self.statuses.setdefault(question_id, {})
        per[status] = per.get(status, 0) + 1

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_version"] = {str(k): v for k, v in self.by_version.items()}
        return data


# --------------------------------------------------------------------------------------------------- responses


def _answer_value(rng: random.Random, question: Any) -> Any:
    """A valid stored answer for `question` (a surveys.schema.Question), as the bot stores it."""
    kind = question.type.value
    if kind == "single_choice":
        weights = [1.0 / (index + 1) for index in range(len(question.options))]
        return rng.choices(question.options, weights=weights)[0].id
    if kind == "multiple_choice":
        count = rng.randint(1, question.max_choices or len(question.options))
        chosen = set(rng.sample([o.id for o in question.options], count))
        return [o.id for o in question.options if o.id in chosen]  # stored in option order
    if kind == "scale":
        spec = question.scale_spec
        return rng.randint(spec.min, spec.max)
    if kind == "yes_no":
        return rng.random() < 0.6
    if kind == "number":
        if question.id == "haushalt":
            return rng.choices(range(1, 7), weights=(30, 35, 15, 12, 6, 2))[0]
        return int(min(120, rng.expovariate(1 / 6)))
    return None  # free text is made by the caller (with its classification)


@dataclass
class _Plan:
    """One response: its route through the survey and which part of it was answered."""

    answers: dict[str, Any]
    route: list[str]
    finished: bool


def _plan(rng: random.Random, survey: Any, unfinished: bool) -> _Plan:
    from surveys.engine import path

    full: dict[str, Any] = {}
    for question in survey.questions:
        value = _answer_value(rng, question)
        if question.type.value == "free_text":
            value = ""  # placeholder; the text is drawn when stored
        if not question.required and rng.random() < SKIP_OPTIONAL:
            value = None
        full[question.id] = value
    route = path(survey, full)
    if not unfinished:
        return _Plan({qid: full[qid] for qid in route}, route, True)
    stop = rng.randrange(len(route))  # questions answered before stopping (0: started, nothing answered)
    answered = route[:stop]
    return _Plan({qid: full[qid] for qid in answered}, route[: stop + 1], False)


def _expected_statuses(summary: DataSummary, survey: Any, all_ids: Sequence[str], plan: _Plan) -> None:
    """Count the export status of every question of the union for one response (the contract's rules)."""
    positions = {q.id: index for index, q in enumerate(survey.questions)}
    current = plan.route[-1] if not plan.finished else None
    for qid in all_ids:
        if qid not in positions:
            summary.count(qid, "not_offered")
        elif qid in plan.answers:
            summary.count(qid, "skipped" if plan.answers[qid] is None else "answered")
        elif current is not None and positions[qid] >= positions[current]:
            summary.count(qid, "not_reached")
        else:
            summary.count(qid, "not_shown")


class _Writer:
    """Buffers rows per table and inserts them with executemany in chunks (in the caller's transaction).

    When one buffer is full every buffer is written, parents first, so foreign keys always find their row.
    """

    ORDER = ("citizens", "contacts", "opt_ins", "responses", "answers", "follow_ups", "ideas")

    def __init__(self, connection: Connection, tables: Mapping[str, Table]) -> None:
        self.connection = connection
        self.tables = tables
        self.buffers: dict[str, list[dict[str, Any]]] = {name: [] for name in self.ORDER}

    def add(self, name: str, row: dict[str, Any]) -> None:
        buffer = self.buffers[name]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for name in self.ORDER:
            rows = self.buffers[name]
            if rows:
                self.connection.execute(insert(self.tables[name]), rows)
                rows.clear()


def _import_surveys(database: Any, now: datetime) -> dict[int, int]:
    """Both versions through the real import (content hash, definition as the bot stores it): version → row id."""
    from surveys.loader import content_hash
    from surveys.schema import Survey

    ids: dict[int, int] = {}
    for version in (1, 2):
        survey = Survey.model_validate(survey_definition(version))
        with database.unit_of_work() as uow:
            stored, _ = uow.surveys.import_survey(survey.id, survey.model_dump(mode="json"), content_hash(survey),
                                                  survey.title.de, f"{SURVEY_KEY}.yaml",
                                                  VERSION2_FROM if version == 2 else now)
            if stored != version:
                raise RuntimeError(f"expected version {version}, the database assigned {stored}")
            ids[version] = int(uow.surveys.id_for(SURVEY_KEY, version) or 0)
    return ids  # importing version 2 made it the only active one


def _campaign(connection: Connection) -> int:
    from bot.storage import models as m

    result = connection.execute(insert(m.Campaign).returning(m.Campaign.id), {
        "name": CAMPAIGN_NAME, "survey_key": SURVEY_KEY, "survey_version": 2, "status": "closed",
        "audience": {"channels": [], "languages": [], "fields": []}, "starts_at": CAMPAIGN_START,
        "ends_at": CAMPAIGN_END, "reminder_after_days": 7, "reminded_at": CAMPAIGN_START + timedelta(days=7),
        "created_at": CAMPAIGN_START - timedelta(days=2), "launched_at": CAMPAIGN_START,
        "closed_at": CAMPAIGN_END, "created_by": "benchmark",
    })
    return int(result.scalar_one())


def build(url: str, *, responses: int, ideas: int, seed: int = 11, secret: str = SECRET) -> DataSummary:
    """Migrate the (empty) database at `url` and fill it; returns what was written."""
    from bot.identity import pseudonym
    from bot.storage import models as m
    from bot.storage.db import Database
    from surveys.schema import Survey

    began = time.perf_counter()
    rng = random.Random(seed)
    summary = DataSummary()
    database = Database(url)
    try:
        database.migrate()
        survey_ids = _import_surveys(database, START)
        surveys = {version: Survey.model_validate(survey_definition(version)) for version in (1, 2)}
        all_ids = list(dict.fromkeys(q.id for v in (1, 2) for q in surveys[v].questions))
        follow_up_ids = list(dict.fromkeys(f.id for v in (1, 2) for f in surveys[v].follow_ups))
        tables = {name: m.Base.metadata.tables[name] for name in _Writer.ORDER}
        citizens: list[str] = []
        with database.engine.begin() as connection:
            campaign_id = _campaign(connection)
            writer = _Writer(connection, tables)
            for number in range(responses):
                _one_response(rng, writer, summary, number, surveys, survey_ids, all_ids, follow_up_ids,
                              campaign_id, secret, citizens, pseudonym)
            for number in range(ideas):
                _one_idea(rng, writer, number, citizens)
            writer.flush()
        summary.ideas = ideas
        summary.citizens = len(citizens)
    finally:
        database.dispose()
    summary.seconds = round(time.perf_counter() - began, 2)
    return summary


def _one_response(
    rng: random.Random, writer: _Writer, summary: DataSummary, number: int,
    surveys: Mapping[int, Any], survey_ids: Mapping[int, int], all_ids: Sequence[str], follow_up_ids: Sequence[str],
    campaign_id: int, secret: str, citizens: list[str], pseudonym: Any,
) -> None:
    from surveys.engine import due_follow_ups

    started = START + timedelta(seconds=rng.uniform(0, DAYS * 86400))
    version = 1 if started < VERSION2_FROM else 2
    survey = surveys[version]
    channel = "matrix" if rng.random() < MATRIX_SHARE else "telegram"
    user = f"@buerger{number}:matrix.example.org" if channel == "matrix" else str(100_000_000 + number)
    citizen = pseudonym(secret.encode(), channel, user)
    citizens.append(citizen)
    writer.add("citizens", {
        "id": citizen, "language": "en" if rng.random() < 0.05 else "de", "language_chosen": True,
        "consent_version": "2", "consent_at": started, "training_consent": rng.random() < 0.5,
        "created_at": started, "last_seen_at": started + timedelta(minutes=10), "paused_until": None,
        "outreach_day": None, "outreach_count": 0})
    chat = f"!room{number}:matrix.example.org" if channel == "matrix" else user
    writer.add("contacts", {"citizen_id": citizen, "channel": channel, "channel_user_id": user,
                                    "chat_id": chat, "unreachable_at": None})
    summary.contacts += 1
    if rng.random() < TWO_CONTACTS:  # the same person also talks to the bot on the other channel
        other = "telegram" if channel == "matrix" else "matrix"
        other_user = str(200_000_000 + number) if other == "telegram" else f"@zweit{number}:matrix.example.org"
        other_chat = other_user if other == "telegram" else f"!zweit{number}:matrix.example.org"
        writer.add("contacts", {"citizen_id": citizen, "channel": other, "channel_user_id": other_user,
                                        "chat_id": other_chat, "unreachable_at": None})
        summary.contacts += 1
    unfinished = rng.random() < UNFINISHED
    plan = _plan(rng, survey, unfinished)
    in_campaign = version == 2 and CAMPAIGN_START <= started <= CAMPAIGN_END and rng.random() < CAMPAIGN_SHARE
    response_id = f"{rng.getrandbits(128):032x}"
    at = started
    answer_rows: list[dict[str, Any]] = []
    for qid in plan.route:
        if qid not in plan.answers:
            break
        at += timedelta(seconds=rng.uniform(4, 40))
        question = survey.question(qid)
        value = plan.answers[qid]
        row = {"response_id": response_id, "question_id": qid, "value": value, "answered_at": at, "scores": None,
               "model_version": None, "field": None}
        if question is not None and question.type.value == "free_text" and value is not None:
            topic = "mobilitaet" if qid == "verbesserung" and rng.random() < 0.7 else rng.choice(FIELDS)
            row["value"] = _text(rng, topic)
            if rng.random() >= UNCLASSIFIED:
                scores = _scores(rng, topic if rng.random() < 0.85 else rng.choice(FIELDS))
                row.update(scores=scores, model_version=MODEL_VERSION, field=max(scores, key=scores.__getitem__))
        answer_rows.append(row)
    writer.add("responses", {
        "id": response_id, "citizen_id": citizen, "survey_id": survey_ids[version],
        "status": "completed" if plan.finished else "in_progress", "started_at": started,
        "completed_at": at if plan.finished else None, "campaign_id": campaign_id if in_campaign else None})
    for row in answer_rows:
        writer.add("answers", row)
    summary.answers += len(answer_rows)
    summary.responses += 1
    summary.completed += plan.finished
    summary.unfinished += not plan.finished
    summary.by_version[version] = summary.by_version.get(version, 0) + 1
    summary.by_channel[channel] = summary.by_channel.get(channel, 0) + 1
    summary.campaign_responses += in_campaign
    _expected_statuses(summary, survey, all_ids, plan)
    offered = {f.id for f in survey.follow_ups}
    due = {f.id: f for f in due_follow_ups(survey, plan.answers)} if plan.finished else {}
    opted_in = bool(due) and rng.random() < FOLLOW_UP_OPT_IN
    if opted_in:
        writer.add("opt_ins", {
            "citizen_id": citizen, "topic": "followups", "fields": [], "source": "survey_end",
            "notice_version": "2", "granted_at": at, "withdrawn_at": None})
    for fid in follow_up_ids:
        if fid not in offered:
            summary.count(fid, "not_offered")
            continue
        follow_up = due.get(fid)
        if follow_up is None or not opted_in:
            summary.count(fid, "not_asked")
            continue
        summary.count(fid, _follow_up_row(rng, writer, summary, citizen, response_id, version, follow_up,
                                          at))


def _follow_up_row(
    rng: random.Random, writer: _Writer, summary: DataSummary, citizen: str,
    response_id: str, version: int, follow_up: Any, completed: datetime,
) -> str:
    """One survey_followup row (and maybe its answer); returns the export status it should get."""
    due_at = completed + timedelta(days=follow_up.after_days)
    row: dict[str, Any] = {
        "citizen_id": citizen, "due_at": due_at, "kind": "survey_followup",
        "payload": {"response_id": response_id, "survey_key": SURVEY_KEY, "survey_version": version,
                    "followup_id": follow_up.id},
        "status": "pending", "attempts": 0, "created_at": completed, "response_id": response_id,
        "campaign_id": None, "unsolicited": True, "outcome": None, "sent_at": None, "updated_at": None}
    status = "not_asked"
    if due_at <= NOW:
        draw = rng.random()
        if draw < 0.1:  # withdrew the opt-in before it was due
            row.update(status="skipped", outcome="no_opt_in", attempts=1, updated_at=due_at)
        else:
            sent = due_at + timedelta(seconds=rng.uniform(1, 120))
            row.update(status="done", outcome="sent", attempts=1, sent_at=sent, updated_at=sent)
            status = "not_reached"
            if draw < 0.75:
                value = _answer_value(rng, follow_up.question)
                if not follow_up.question.required and rng.random() < 0.1:
                    value = None
                writer.add("answers", {
                    "response_id": response_id, "question_id": follow_up.id, "value": value,
                    "answered_at": sent + timedelta(minutes=rng.uniform(1, 600)), "scores": None,
                    "model_version": None, "field": None})
                summary.follow_up_answers += 1
                summary.answers += 1
                status = "answered" if value is not None else "skipped"
    writer.add("follow_ups", row)
    summary.follow_up_rows[row["status"]] = summary.follow_up_rows.get(row["status"], 0) + 1
    return status


def _one_idea(rng: random.Random, writer: _Writer, number: int,
              citizens: Sequence[str]) -> None:
    topic = rng.choice(FIELDS)
    text = _text(rng, topic)
    if rng.random() < 0.3:
        text += " " + _text(rng, topic)
    classified = rng.random() >= UNCLASSIFIED
    scores = _scores(rng, topic if rng.random() < 0.85 else rng.choice(FIELDS)) if classified else None
    proposed = max(scores, key=scores.__getitem__) if scores else None
    chosen = [proposed] if proposed and rng.random() < 0.75 else [rng.choice(FIELDS)]
    if rng.random() < 0.15:
        chosen += [f for f in rng.sample(FIELDS, 2) if f not in chosen][:1]
    writer.add("ideas", {
        "id": f"{rng.getrandbits(128):032x}", "citizen_id": rng.choice(citizens) if citizens else None,
        "text": text, "field": chosen[0], "fields": chosen, "scores": scores,
        "model_version": MODEL_VERSION if scores else None, "proposed_field": proposed,
        "confident": None if scores is None else scores[proposed or ""] >= 0.6,
        "created_at": START + timedelta(seconds=rng.uniform(0, DAYS * 86400) + number * 1e-3), "status": "new"})


def main(argv: Sequence[str] | None = None) -> int:
    """Build a database (a temporary SQLite file unless --database-url) and print its summary as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--responses", type=int, default=200)
    parser.add_argument("--ideas", type=int, default=100)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", help="an EMPTY database to fill (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    if args.database_url:
        summary = build(args.database_url, responses=args.responses, ideas=args.ideas, seed=args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="stadtdialog-export-data-") as folder:
            url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
            summary = build(url, responses=args.responses, ideas=args.ideas, seed=args.seed)
    print(json.dumps(summary.to_json(), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
