"""`stadtdialog export feedback|summary`: categorised feedback for analysts, pseudonymous and redacted."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.feedback import summary, write_csv, write_jsonl
from bot.storage.db import Database, UnitOfWork
from handlers.events import CitizenState, FieldScores

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CITY = ZoneInfo("Europe/Berlin")
KEYS = ("verwaltung", "mobilitaet", "umwelt")
SURVEY = {
    "id": "quartier",
    "title": {"de": "Quartier"},
    "questions": [
        {"id": "wunsch", "type": "text", "text": {"de": "Was wünschen Sie sich?"}},
        {"id": "ok", "type": "yes_no", "text": {"de": "Alles gut?"}},
    ],
}


def scores(best: str, confident: bool = True) -> FieldScores:
    values = {key: (0.9 if key == best else 0.05) for key in KEYS}
    return FieldScores(values, confident, "fields-test-1")


def fill(uow: UnitOfWork) -> None:
    state = CitizenState(language="de", consent_version="1", consent_at=NOW)
    uow.citizens.save_state("c_anna", state, NOW)
    uow.contacts.upsert("c_anna", "telegram", "4711", "4711")
    uow.citizens.save_state("c_bert", state, NOW)
    uow.ideas.add("i1", "c_anna", "Mehr Busse nachts, Rückfragen an anna@example.org", "mobilitaet", NOW,
                  fields=("mobilitaet",), classification=scores("mobilitaet"))
    uow.ideas.add("i2", "c_bert", "Ein Online-Termin fürs Bürgerbüro und mehr Bäume", "verwaltung",
                  NOW + timedelta(days=2), fields=("verwaltung", "umwelt"), classification=scores("umwelt", False))
    uow.ideas.add("i3", "c_bert", "Weiß nicht wohin damit", None, NOW + timedelta(days=3))
    uow.surveys.import_survey("quartier", SURVEY, "hash-q", "Quartier", "quartier.yaml", NOW)
    uow.responses.start("r1", "c_anna", "quartier", 1, NOW)
    uow.responses.save_answer("r1", "wunsch", "Mehr Grün im Hinterhof, Tel. 0202 563 1234", NOW, scores("umwelt"))
    uow.responses.save_answer("r1", "ok", True, NOW)  # not free text: not feedback to categorise


@pytest.fixture
def filled(database: Database) -> Database:
    with database.unit_of_work() as uow:
        fill(uow)
    return database


def test_rows_hold_ideas_and_classified_answers_under_pseudonyms(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        rows = list(uow.feedback.rows())
    assert [(r.kind, r.id) for r in rows] == [("idea", "i1"), ("idea", "i2"), ("idea", "i3"), ("answer", "r1/wunsch")]
    idea, several, unfiled, answer = rows
    assert idea.citizen == "c_anna" and idea.fields == ("mobilitaet",) and idea.field_source == "citizen"
    assert several.fields == ("verwaltung", "umwelt") and several.proposed_field == "umwelt"
    assert several.confident is False and several.scores["umwelt"] == pytest.approx(0.9)
    assert unfiled.fields == () and unfiled.field_source == "none" and unfiled.scores == {}
    assert answer.fields == ("umwelt",) and answer.field_source == "classifier"
    assert answer.question_text == "Was wünschen Sie sich?" and answer.survey == "quartier v1"
    assert answer.model_version == "fields-test-1"


def test_rows_can_be_limited_by_day_and_field(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        assert [r.id for r in uow.feedback.rows(since=NOW + timedelta(days=1))] == ["i2", "i3"]
        assert [r.id for r in uow.feedback.rows(field_key="umwelt")] == ["i2", "r1/wunsch"]


def test_csv_and_jsonl_are_redacted_unless_asked_otherwise(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        rows = list(uow.feedback.rows())
    out = io.StringIO()
    assert write_csv(rows, out, KEYS, dialect="plain", timezone=CITY) == 4
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert table[0]["text"] == "Mehr Busse nachts, Rückfragen an [EMAIL]"
    assert table[1]["fields"] == "verwaltung|umwelt" and table[1]["score_umwelt"] == "0.9"
    assert table[3]["text"] == "Mehr Grün im Hinterhof, Tel. [TELEFON]"
    assert "4711" not in out.getvalue(), "channel ids never leave the contacts table"
    raw = io.StringIO()
    write_jsonl(rows, raw, keep_text=True)
    first = json.loads(raw.getvalue().splitlines()[0])
    assert first["text"].endswith("anna@example.org") and first["scores"]["mobilitaet"] == pytest.approx(0.9)


def test_a_text_that_looks_like_a_formula_is_kept_inert_in_csv(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.citizens.save_state("c_x", CitizenState(language="de", consent_version="1", consent_at=NOW), NOW)
        uow.ideas.add("i9", "c_x", '=HYPERLINK("http://example.org","Klick")', None, NOW)
    with database.unit_of_work(read_only=True) as uow:
        out = io.StringIO()
        write_csv(uow.feedback.rows(), out, KEYS, dialect="plain", timezone=CITY)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["text"] == "'=HYPERLINK(\"http://example.org\",\"Klick\")"


def test_excel_flavour_has_semicolons_and_a_byte_order_mark(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        out = io.StringIO()
        write_csv(uow.feedback.rows(), out, KEYS, dialect="excel", timezone=CITY)
    assert out.getvalue().startswith("\ufeffkind;id;citizen;")


def test_summary_counts_per_field_and_how_often_the_proposal_was_kept(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        text = summary(uow.feedback.rows(), {"verwaltung": "Verwaltung", "mobilitaet": "Mobilität", "umwelt": "Umwelt"})
    lines = {line.split("  ")[0].strip(): line.split()[-2:] for line in text.splitlines()[1:6]}
    assert lines["Verwaltung"] == ["1", "0"] and lines["Mobilität"] == ["1", "0"] and lines["Umwelt"] == ["1", "1"]
    assert lines["(no field)"] == ["1", "0"] and lines["total"] == ["3", "1"]
    assert "kept the classifier's proposed field for 2 of 2 ideas (100%)" in text


def test_the_command_writes_a_private_file_and_refuses_unknown_fields(
    filled: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", filled.url)
    monkeypatch.setenv("STADTDIALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", "test-secret-0123456789")
    target = tmp_path / "feedback.csv"
    assert main(["export", "feedback", "--out", str(target), "--since", "2026-03-05", "--dialect", "plain"]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    (row,) = csv.DictReader(target.open(encoding="utf-8"))
    assert row["id"] == "i3" and row["citizen"].startswith("p_") and "c_bert" not in target.read_text()
    assert main(["export", "feedback", "--out", str(target)]) == 0  # the default: German Excel
    assert target.read_text(encoding="utf-8").startswith("\ufeffkind;id;citizen;")
    assert main(["export", "summary", "--field", "nirgends"]) == 2
    assert "Unknown strategy field 'nirgends'" in capsys.readouterr().err
    assert main(["export", "feedback", "--since", "März"]) == 2
