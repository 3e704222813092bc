"""Query filters on SQLite and PostgreSQL, and the command's errors."""

from __future__ import annotations

import csv
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from bot.analytics.query import (
    ExportFilter,
    FilterError,
    check_filter,
    iter_ideas,
    iter_responses,
    surveys_with_responses,
)
from bot.cli import main
from bot.storage.db import Database
from tests.analytics.sample import NOW, fill


@pytest.fixture
def filled(database: Database) -> Database:
    fill(database)
    return database


def _ids(db: Database, flt: ExportFilter) -> list[str]:
    with db.unit_of_work(read_only=True) as uow:
        return [r.response_id for r in iter_responses(uow.session, "verkehr", flt)]


def test_filters_select_by_campaign_period_and_channel(filled: Database) -> None:
    assert _ids(filled, ExportFilter()) == ["resp-bus", "resp-auto", "resp-rad", "resp-open", "resp-v2"]
    assert _ids(filled, ExportFilter(campaign="Frühjahr")) == ["resp-bus"]
    assert _ids(filled, ExportFilter(since=NOW + timedelta(hours=1), until=NOW + timedelta(days=1))) == [
        "resp-auto", "resp-rad"]
    assert _ids(filled, ExportFilter(channel="matrix")) == ["resp-auto", "resp-rad"]
    with filled.unit_of_work(read_only=True) as uow:
        assert [i.idea_id for i in iter_ideas(uow.session, ExportFilter(since=NOW + timedelta(hours=1)))] == [
            "idea-2", "idea-3"]
        assert surveys_with_responses(uow.session, ExportFilter(channel="terminal")) == ["verkehr"]
        for wrong in (ExportFilter(survey="nope"), ExportFilter(campaign="Herbst"), ExportFilter(channel="fax")):
            with pytest.raises(FilterError):
                check_filter(uow.session, wrong)


@pytest.fixture
def env(filled: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", filled.url)
    monkeypatch.setenv("STADTDIALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", "test-secret-0123456789")
    return tmp_path


def test_cli_writes_private_files_and_one_file_per_survey(env: Path) -> None:
    target = env / "verkehr.csv"
    assert main(["export", "responses", "--survey", "verkehr", "--dialect", "plain", "--out", str(target)]) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 5 and rows[0]["modus"] == "1" and rows[1]["linien_status"] == "not_shown"
    assert (env / "verkehr.csv.codebook.csv").exists()
    assert main(["export", "responses", "--out", str(env / "all"), "--format", "jsonl"]) == 0
    assert (env / "all" / "verkehr.jsonl").exists()
    assert main(["export", "ideas", "--out", str(env / "ideas.csv")]) == 0
    assert main(["export", "followups", "--survey", "verkehr", "--out", str(env / "fu.csv")]) == 0


@pytest.mark.parametrize("arguments", [
    ["--survey", "nope"], ["--campaign", "Herbst"], ["--since", "2026-02-30"],
    ["--since", "2026-03-05", "--until", "2026-03-01"],
])
def test_cli_errors_exit_2_with_a_message(env: Path, arguments: list[str], capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert main(["export", "responses", *arguments, "--out", str(env / "x.csv")]) == 2
    assert "stadtdialog export responses:" in capsys.readouterr().err
    assert not (env / "x.csv").exists()


def test_cli_refuses_a_missing_folder(env: Path) -> None:
    assert main(["export", "responses", "--survey", "verkehr", "--out", str(env / "no" / "x.csv")]) == 2
