"""`stadtdialog nlp export-labels`: only ideas of citizens who agreed to training use, redacted, as JSON lines."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from bot.cli import main
from bot.storage.db import Database, alembic_config
from handlers.events import CitizenState, FieldScores
from nlp.labels import export_labels

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SCORES = FieldScores({"mobilitaet": 0.7, "umwelt": 0.2, "leben": 0.1}, True, "fields-test")


def add(database: Database, citizen: str, training: bool | None, ideas: list[tuple[str, tuple[str, ...]]]) -> None:
    consented = CitizenState(consent_version="1", consent_at=NOW, training_consent=training, flow="menu")
    with database.unit_of_work() as uow:
        uow.citizens.save_state(citizen, consented, NOW)
        for number, (text, fields) in enumerate(ideas):
            uow.ideas.add(
                f"{citizen[:8]}-{number}",
                citizen,
                text,
                fields[0] if fields else None,
                NOW + timedelta(minutes=number),
                fields=fields,
                classification=SCORES,
            )


@pytest.fixture
def filled(database: Database) -> Database:
    add(
        database,
        "a" * 64,
        True,
        [
            ("Mehr Busse nach Ronsdorf. Gruß Tom", ("mobilitaet",)),
            ("Radwege und Bäume an der Talstraße, Tel. 0202 123456", ("mobilitaet", "umwelt")),
            ("Ohne Feld", ()),
        ],
    )
    add(database, "b" * 64, False, [("Bitte nicht verwenden", ("leben",))])
    add(database, "c" * 64, None, [("Nie gefragt", ("umwelt",))])
    return database


def test_only_ideas_of_citizens_who_agreed_to_training_are_exported_redacted(filled: Database) -> None:
    out = io.StringIO()
    assert export_labels(filled, out) == 2
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records == [
        {"text": "Mehr Busse nach Ronsdorf. Gruß [NAME]", "field": "mobilitaet", "also": []},
        {"text": "Radwege und Bäume an der Talstraße, Tel. [TELEFON]", "field": "mobilitaet", "also": ["umwelt"]},
    ]


def test_a_citizen_who_withdraws_training_consent_is_no_longer_exported(filled: Database) -> None:
    with filled.unit_of_work() as uow:
        state = uow.citizens.load_state("a" * 64)
        assert state is not None and state.training_consent is True
        uow.citizens.save_state("a" * 64, state.evolve(training_consent=False), NOW)
    assert export_labels(filled, io.StringIO()) == 0


def test_export_labels_command_writes_the_file_and_reports_the_count(
    filled: Database,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", database_url)
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", "test-secret-0123456789")
    target = tmp_path / "labels.jsonl"
    assert main(["nlp", "export-labels", "--out", str(target)]) == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2
    assert "2" in capsys.readouterr().err

    assert main(["nlp", "export-labels"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["field"] for line in captured.out.splitlines()] == ["mobilitaet", "mobilitaet"]


# --- migration 0002 --------------------------------------------------------------------------------------------------


def _migrate(database: Database, target: str, downgrade: bool = False) -> None:
    """Run Alembic to `target` like `Database.migrate` does (SQLite: foreign keys off while tables are rebuilt)."""
    with database.engine.connect() as connection:
        if database.is_sqlite:  # outside any transaction, or SQLite ignores it
            raw = connection.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
        with connection.begin():
            (command.downgrade if downgrade else command.upgrade)(alembic_config(connection), target)


def test_migration_0002_keeps_existing_ideas_and_can_be_undone(database_url: str) -> None:
    database = Database(database_url)
    try:
        _migrate(database, "0001")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO citizens (id, language, language_chosen, consent_version, created_at, last_seen_at)"
                    " VALUES ('c', 'de', true, '1', :now, :now)"
                ),
                {"now": NOW},
            )
            connection.execute(
                text(
                    "INSERT INTO ideas (id, citizen_id, text, field, created_at, status) VALUES"
                    " ('i1', 'c', 'Mehr Busse', 'mobilitaet', :now, 'new'), ('i2', 'c', 'Egal', NULL, :now, 'new')"
                ),
                {"now": NOW},
            )
        _migrate(database, "head")
        with database.unit_of_work() as uow:
            ideas = {idea["id"]: idea for idea in uow.citizens.export("c")["ideas"]}
            assert uow.citizens.load_state("c") is not None
        assert ideas["i1"]["fields"] == ["mobilitaet"] and ideas["i2"]["fields"] == []
        assert ideas["i1"]["scores"] is None and ideas["i1"]["proposed_field"] is None

        _migrate(database, "0001", downgrade=True)
        columns = {column["name"] for column in inspect(database.engine).get_columns("ideas")}
        assert "fields" not in columns and "scores" not in columns
        assert "training_consent" not in {c["name"] for c in inspect(database.engine).get_columns("citizens")}
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM ideas")).scalar_one() == 2
    finally:
        database.dispose()
