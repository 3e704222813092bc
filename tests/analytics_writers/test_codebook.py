"""The long codebook: one row per variable and per value label, then statuses, fields, the table and notes."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.analytics.model import STATUS_CODES
from bot.analytics.writers import codebook_path, write_table
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows
from tests.analytics_writers.table import BERLIN, CODEBOOK, ROWS


def _by_variable(rows: list[dict[str, str]], name: str) -> list[dict[str, str]]:
    return [row for row in rows if row["variable"] == name]


def _read(tmp_path: Path, dialect: str) -> list[dict[str, str]]:
    target = tmp_path / f"mobil-{dialect}.csv"
    write_table(CODEBOOK, ROWS, "csv", target, dialect=dialect, timezone=BERLIN)
    encoding, delimiter = ("utf-8-sig", ";") if dialect == "excel" else ("utf-8", ",")
    with open(codebook_path(target), encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        assert tuple(reader.fieldnames or ()) == CODEBOOK_COLUMNS
        return list(reader)


def test_every_variable_and_value_label_is_documented(tmp_path: Path) -> None:
    rows = _read(tmp_path, "excel")
    bus = _by_variable(rows, "q_1bus")
    assert bus[0] == {
        "variable": "q_1bus",
        "question_id": "1bus",
        "option_id": "",
        "kind": "value",
        "type": "integer",
        "label_de": "Wie zufrieden sind Sie mit dem Bus in Barmen?",
        "label_en": "How satisfied are you with the bus in Barmen?",
        "code": "",
        "code_label_de": "",
        "code_label_en": "",
        "versions": "1|2",
        "follow_up": "0",
        "field_key": "",
        "status_variable": "q_1bus_status",
        "missing_codes": "1",
    }
    assert [(r["code"], r["code_label_de"], r["code_label_en"]) for r in bus[1:]] == [
        ("1", "sehr zufrieden", "very satisfied"),
        ("2", "unzufrieden – Ärger", "dissatisfied"),
    ]
    assert _by_variable(rows, "modes_rad")[0]["option_id"] == "rad"
    assert _by_variable(rows, "idee_score_umwelt")[0]["field_key"] == "umwelt"
    assert _by_variable(rows, "nachfrage")[0]["follow_up"] == "1"
    field_labels = _by_variable(rows, "idee_field")[1:]
    expected = [("mobilitaet", "Mobilität"), ("umwelt", "Umwelt & Grün")]
    assert [(r["code"], r["code_label_de"]) for r in field_labels] == expected
    names_in_order = list(dict.fromkeys(r["variable"] for r in rows if not r["variable"].startswith("*")))
    assert names_in_order == [v.name for v in CODEBOOK.variables]


def test_statuses_fields_table_and_notes_follow(tmp_path: Path) -> None:
    rows = _read(tmp_path, "plain")
    statuses = _by_variable(rows, "*status*")
    assert [(r["option_id"], int(r["code"])) for r in statuses] == [(s.value, c) for s, c in STATUS_CODES.items()]
    assert statuses[2]["code_label_de"] == "nicht gezeigt (Verzweigung)"
    assert statuses[2]["code_label_en"] == "not shown (branching)"
    fields = _by_variable(rows, "*field*")
    assert [(r["code"], r["code_label_de"], r["code_label_en"]) for r in fields] == [
        ("mobilitaet", "Mobilität", "Mobility"),
        ("umwelt", "Umwelt & Grün", "Environment"),
    ]
    (table,) = _by_variable(rows, "*table*")
    assert (table["question_id"], table["label_de"], table["versions"]) == (
        "mobil",
        "Mobilität in Barmen — Antworten",
        "1|2",
    )
    notes = [r["label_en"] for r in _by_variable(rows, "*note*")]
    assert notes[:2] == list(CODEBOOK.notes) and "user-missing" in notes[2]


def test_codebook_rows_fit_the_header() -> None:
    assert all(len(row) == len(CODEBOOK_COLUMNS) for row in codebook_rows(CODEBOOK))
