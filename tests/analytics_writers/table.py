"""A small hand-built response table with every variable kind and type, and the awkward cells real exports meet."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.analytics.model import (
    Codebook,
    FieldName,
    Row,
    Status,
    ValueLabel,
    Variable,
    VarKind,
    VarType,
)

BERLIN = ZoneInfo("Europe/Berlin")
LONG_TEXT = ("Grüße aus Barmen; die Schwebebahn fährt \"zu selten\",\nsagt Jörg. " * 80)[:4000]
FORMULA_TEXT = "=HYPERLINK(\"http://example.org\";\"klick\")"
# Clocks go forward in Berlin at 2026-03-29 01:00 UTC (02:00 CET → 03:00 CEST)
BEFORE_DST = datetime(2026, 3, 29, 0, 59, 30, 987654, tzinfo=UTC)  # 01:59:30 CET (+01:00), microseconds cut
AFTER_DST = datetime(2026, 3, 29, 1, 0, 5, tzinfo=UTC)  # 03:00:05 CEST (+02:00)
SUMMER = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)  # 12:00:00 CEST
WINTER = datetime(2026, 11, 2, 23, 30, 0, tzinfo=UTC)  # 00:30:00 on 2026-11-03 CET

YES_NO = (ValueLabel(1, "ja", "yes"), ValueLabel(0, "nein", "no"))
CHOSEN = (ValueLabel(0, "nicht gewählt", "not chosen"), ValueLabel(1, "gewählt", "chosen"))


def _meta(name: str, type_: VarType, de: str, en: str, **extra: object) -> Variable:
    return Variable(name=name, kind=VarKind.META, type=type_, label_de=de, label_en=en, **extra)


def _status(question: str, de: str, follow_up: bool = False) -> Variable:
    return Variable(
        name=f"{question}_status",
        kind=VarKind.STATUS,
        type=VarType.STATUS,
        label_de=f"Status: {de}",
        label_en=f"Status: {question}",
        question_id=question,
        follow_up=follow_up,
        width=12,
    )


VARIABLES = (
    _meta("respondent", VarType.TEXT, "Teilnehmende Person (Pseudonym)", "Respondent (pseudonym)", width=19),
    _meta("response", VarType.TEXT, "Antwort (Pseudonym)", "Response (pseudonym)", width=19),
    _meta("version", VarType.INTEGER, "Version des Fragebogens", "Survey version", width=8),
    _meta("campaign", VarType.TEXT, "Kampagne", "Campaign", width=20),
    _meta("channel", VarType.TEXT, "Kanal", "Channel", width=10),
    _meta("completed", VarType.INTEGER, "Abgeschlossen", "Completed", value_labels=YES_NO, width=6),
    _meta("started_at", VarType.DATETIME, "Begonnen", "Started", width=19),
    _meta("finished_at", VarType.DATETIME, "Beendet", "Finished", width=19),
    Variable(
        name="q_1bus",
        kind=VarKind.VALUE,
        type=VarType.INTEGER,
        label_de="Wie zufrieden sind Sie mit dem Bus in Barmen?",
        label_en="How satisfied are you with the bus in Barmen?",
        question_id="1bus",
        question_type="single_choice",
        value_labels=(
            ValueLabel(1, "sehr zufrieden", "very satisfied"),
            ValueLabel(2, "unzufrieden – Ärger", "dissatisfied"),
        ),
        versions=(1, 2),
        status_variable="q_1bus_status",
        missing_codes=True,
    ),
    Variable(
        name="q_1bus_status",
        kind=VarKind.STATUS,
        type=VarType.STATUS,
        label_de="Status: Bus",
        label_en="Status: bus",
        question_id="1bus",
        versions=(1, 2),
    ),
    Variable(
        name="modes_bus",
        kind=VarKind.OPTION,
        type=VarType.INTEGER,
        label_de="Verkehrsmittel: Bus",
        label_en="Modes: bus",
        question_id="modes",
        option_id="bus",
        question_type="multiple_choice",
        value_labels=CHOSEN,
        versions=(1, 2),
        status_variable="modes_status",
        missing_codes=True,
        width=8,
    ),
    Variable(
        name="modes_rad",
        kind=VarKind.OPTION,
        type=VarType.INTEGER,
        label_de="Verkehrsmittel: Fahrrad",
        label_en="Modes: bicycle",
        question_id="modes",
        option_id="rad",
        question_type="multiple_choice",
        value_labels=CHOSEN,
        versions=(2,),
        status_variable="modes_status",
        missing_codes=True,
        width=8,
    ),
    _status("modes", "Verkehrsmittel"),
    Variable(
        name="temperatur",
        kind=VarKind.VALUE,
        type=VarType.NUMBER,
        label_de="Gefühlte Temperatur (°C)",
        label_en="Felt temperature (°C)",
        question_id="temperatur",
        question_type="number",
        versions=(2,),
        status_variable="temperatur_status",
        missing_codes=False,  # a real answer may be -95
    ),
    _status("temperatur", "Temperatur"),
    Variable(
        name="idee",
        kind=VarKind.VALUE,
        type=VarType.TEXT,
        label_de="Ihre Idee für Barmen",
        label_en="Your idea for Barmen",
        question_id="idee",
        question_type="free_text",
        versions=(1, 2),
        status_variable="idee_status",
        width=80,
    ),
    Variable(
        name="idee_field",
        kind=VarKind.FIELD,
        type=VarType.TEXT,
        label_de="Idee: Handlungsfeld",
        label_en="Idea: strategy field",
        question_id="idee",
        value_labels=(
            ValueLabel("mobilitaet", "Mobilität", "Mobility"),
            ValueLabel("umwelt", "Umwelt & Grün", "Environment"),
        ),
        status_variable="idee_status",
    ),
    Variable(
        name="idee_score_mobilitaet",
        kind=VarKind.SCORE,
        type=VarType.NUMBER,
        label_de="Idee: Wert Mobilität",
        label_en="Idea: score mobility",
        question_id="idee",
        field_key="mobilitaet",
        status_variable="idee_status",
    ),
    Variable(
        name="idee_score_umwelt",
        kind=VarKind.SCORE,
        type=VarType.NUMBER,
        label_de="Idee: Wert Umwelt",
        label_en="Idea: score environment",
        question_id="idee",
        field_key="umwelt",
        status_variable="idee_status",
    ),
    _status("idee", "Idee"),
    Variable(
        name="nachfrage",
        kind=VarKind.VALUE,
        type=VarType.INTEGER,
        label_de="Nachfrage: Fahren Sie jetzt öfter Bus?",
        label_en="Follow-up: do you ride the bus more often now?",
        question_id="nachfrage",
        question_type="yes_no",
        value_labels=YES_NO,
        versions=(2,),
        status_variable="nachfrage_status",
        follow_up=True,
        missing_codes=True,
    ),
    _status("nachfrage", "Nachfrage", follow_up=True),
)

CODEBOOK = Codebook(
    title_de="Mobilität in Barmen — Antworten",
    title_en="Mobility in Barmen — responses",
    variables=VARIABLES,
    survey="mobil",
    versions=(1, 2),
    fields=(FieldName("mobilitaet", "Mobilität", "Mobility"), FieldName("umwelt", "Umwelt & Grün", "Environment")),
    notes=("Respondents are pseudonyms per survey (scope 'mobil').", "Free text is redacted."),
)

A = Status.ANSWERED
ROWS: list[Row] = [
    # completed across the DST change, everything answered, a formula-looking idea, a negative number
    ["p_0123456789abcdef", "r_00000000000000a1", 2, "Frühjahr in Barmen", "telegram", 1, BEFORE_DST, AFTER_DST,
     2, A, 1, 0, A, -12.5, A, FORMULA_TEXT, "mobilitaet", 0.8123, 0.0001, A, 1, A],
    # skipped, not shown, not offered, a long text, follow-up not asked, no campaign
    ["p_fedcba9876543210", "r_00000000000000b2", 1, None, "matrix", 1, SUMMER, WINTER,
     None, Status.SKIPPED, None, None, Status.NOT_SHOWN, None, Status.NOT_OFFERED, LONG_TEXT, "umwelt", 0.25, 0.75,
     A, None, Status.NOT_ASKED],
    # unfinished: not reached; a tiny number; a formula-looking campaign name
    ["p_1111111111111111", "r_00000000000000c3", 2, "+49 Aktion", "terminal", 0, WINTER, None,
     None, Status.NOT_REACHED, None, None, Status.NOT_REACHED, 1e-05, A, None, None, None, None,
     Status.NOT_REACHED, None, Status.NOT_REACHED],
]
NAMES = [variable.name for variable in VARIABLES]
