"""The ideas export carries the idea's status (labelled), the city's note and the status date; staff on the
allowlist are counted in no export and no report (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

from bot.analytics import report as report_module
from bot.analytics.query import ExportFilter, iter_ideas, iter_responses
from bot.analytics.report.data import collect
from bot.analytics.tables import idea_table
from bot.campaigns.audience import staff_citizen_ids
from bot.cli import main
from bot.identity import pseudonym
from bot.staffdesk.idea_status import set_idea_status
from bot.storage.db import Database
from tests.analytics.sample import FIELDS, NOW, SECRET, fill
from tests.analytics.test_statuses_tables import FIELDS as FIELD_NAMES

CLI_SECRET = "test-secret-0123456789"
STAFF_ACCOUNT = ("matrix", "@amt:stadt.example")


@pytest.fixture
def filled(database: Database) -> Database:
    fill(database)
    with database.unit_of_work() as uow:
        set_idea_status(uow, "idea-2", "rejected", "Kein Platz für Bäume dort.", None, now=NOW + timedelta(days=5),
                        source="cli", secret=SECRET)
    return database


def test_the_ideas_table_has_a_labelled_status_the_note_and_the_status_date(filled: Database) -> None:
    with filled.unit_of_work(read_only=True) as uow:
        codebook, rows = idea_table(FIELD_NAMES, iter_ideas(uow.session, ExportFilter()), secret=SECRET)
        table = list(rows)
    names = [v.name for v in codebook.variables]
    assert names[names.index("status"):names.index("status") + 4] == ["status", "status_note", "status_date",
                                                                     "channel"]
    status = codebook.variables[names.index("status")]
    assert [(label.code, label.label_de) for label in status.value_labels] == [
        ("new", "eingegangen"), ("review", "in Prüfung"), ("planned", "wird umgesetzt"), ("done", "umgesetzt"),
        ("rejected", "nicht umsetzbar")]
    ideas = [dict(zip(names, row, strict=True)) for row in table]
    assert [(i["status"], i["status_note"], i["status_date"]) for i in ideas] == [
        ("new", None, None), ("rejected", "Kein Platz für Bäume dort.", NOW + timedelta(days=5)),
        ("new", None, None)]


@pytest.fixture
def env(filled: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", filled.url)
    monkeypatch.setenv("STADTDIALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", CLI_SECRET)
    return tmp_path


def test_csv_xlsx_and_sav_carry_the_new_columns(env: Path) -> None:
    assert main(["export", "ideas", "--dialect", "plain", "--out", str(env / "ideas.csv")]) == 0
    rows = list(csv.DictReader((env / "ideas.csv").open(encoding="utf-8")))
    assert rows[1]["status"] == "rejected" and rows[1]["status_note"] == "Kein Platz für Bäume dort."
    assert rows[1]["status_date"].startswith((NOW + timedelta(days=5)).date().isoformat())
    assert rows[0]["status_date"] == ""
    assert main(["export", "ideas", "--format", "xlsx", "--out", str(env / "ideas.xlsx")]) == 0
    assert main(["export", "ideas", "--format", "sav", "--out", str(env / "ideas.sav")]) == 0
    frame, meta = pyreadstat.read_sav(str(env / "ideas.sav"))
    assert list(frame["status"]) == ["new", "rejected", "new"]
    assert meta.variable_value_labels["status"]["rejected"] == "nicht umsetzbar"
    assert meta.column_names_to_labels["status_note"].startswith("Öffentliche Notiz")


def test_staff_are_the_allowlisted_accounts_and_citizens_with_an_allowlisted_contact(filled: Database) -> None:
    staff = {"telegram:user-c_anna": "staff", f"{STAFF_ACCOUNT[0]}:{STAFF_ACCOUNT[1]}": "analyst"}
    secret = CLI_SECRET.encode()
    with filled.unit_of_work(read_only=True) as uow:
        found = staff_citizen_ids(uow.session, staff, secret)
        assert staff_citizen_ids(uow.session, {}, secret) == frozenset()
    assert found == {"c_anna", pseudonym(secret, "telegram", "user-c_anna"), pseudonym(secret, *STAFF_ACCOUNT)}


def test_filters_leave_excluded_citizens_out_of_responses_ideas_and_report_counts(filled: Database) -> None:
    without = ExportFilter(exclude=frozenset({"c_anna", "c_dora"}))
    with filled.unit_of_work(read_only=True) as uow:
        assert [r.response_id for r in iter_responses(uow.session, "verkehr", without)] == [
            "resp-auto", "resp-rad", "resp-open"]
        assert [i.idea_id for i in iter_ideas(uow.session, without)] == ["idea-2"]
        everyone, some = collect(uow.session, ExportFilter(), NOW.tzinfo, FIELDS), collect(  # type: ignore[arg-type]
            uow.session, without, NOW.tzinfo, FIELDS)  # type: ignore[arg-type]
    assert (everyone.surveys[0].responses, everyone.ideas.total) == (5, 3)
    assert (some.surveys[0].responses, some.ideas.total) == (3, 1)


def test_exports_and_the_report_leave_staff_out(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTDIALOG_STAFF", "telegram:user-c_anna=staff")
    assert main(["export", "ideas", "--dialect", "plain", "--out", str(env / "ideas.csv")]) == 0
    assert len(list(csv.DictReader((env / "ideas.csv").open(encoding="utf-8")))) == 2
    assert main(["export", "responses", "--survey", "verkehr", "--dialect", "plain",
                 "--out", str(env / "verkehr.csv")]) == 0
    assert len(list(csv.DictReader((env / "verkehr.csv").open(encoding="utf-8")))) == 4
    assert main(["export", "feedback", "--dialect", "plain", "--out", str(env / "feedback.csv")]) == 0
    assert "Nachtbus" not in (env / "feedback.csv").read_text(encoding="utf-8")
    seen: dict[str, Any] = {}

    def fake_build_report(database: Database, **options: Any) -> str:
        seen.update(options)
        return "<html></html>"

    monkeypatch.setattr(report_module, "build_report", fake_build_report)
    assert main(["report", "--out", str(env / "report.html")]) == 0
    assert seen["exclude"] == {"c_anna", pseudonym(CLI_SECRET.encode(), "telegram", "user-c_anna")}
