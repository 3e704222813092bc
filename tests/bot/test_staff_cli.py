"""`stadtdialog idea list|show|status` and `stadtdialog audit` as staff type them (in process, SQLite and
PostgreSQL): what they print, exit codes, what they write, and that reading ideas and changing statuses is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.analytics.pseudonyms import idea_pseudonym
from bot.cli import main
from bot.staffdesk import audit
from bot.storage import models as m
from bot.storage.db import Database
from handlers.events import IDEA_STATUS_KIND
from tests.bot.test_idea_status import add_author

SECRET = "test-secret-0123456789"
FILED = datetime(2026, 11, 2, 9, 15, tzinfo=UTC)
BENCH_TEXT = "Mehr Sitzbänke am Döppersberg, Kontakt: anna@example.org"


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", database.url)
    monkeypatch.setenv("STADTDIALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", SECRET)
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "ana")
    with database.unit_of_work() as uow:
        add_author(uow, "c_author", "idea-bench", BENCH_TEXT, FILED)
        add_author(uow, "c_other", "idea-tree", "Bäume für die Nordstadt", FILED + timedelta(days=1))
        uow.ideas.add("idea-none", "c_other", "Ohne Feld", None, FILED + timedelta(days=2))
    return database


def ref(idea_id: str) -> str:
    return idea_pseudonym(SECRET.encode(), idea_id)


def entries(database: Database) -> list[tuple[str, str, str, str, str | None, str]]:
    with database.unit_of_work() as uow:
        return [(e.actor, e.role, e.channel, e.action, e.target, e.outcome) for e in uow.audit.between()]


def test_idea_list_shows_references_statuses_and_text_newest_first_and_is_audited(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["idea", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["reference", "filed", "status", "field", "text"]
    assert [line.split()[0] for line in lines[1:]] == [ref("idea-none"), ref("idea-tree"), ref("idea-bench")]
    assert "2026-11-02 10:15" in lines[3] and "eingegangen" in lines[3] and "Mehr Sitzbänke" in lines[3]
    assert entries(env) == [("cli:ana", "cli", "cli", "idea_list", None, "ok")]
    assert main(["idea", "list", "--field", "mobilitaet", "--limit", "1", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    shown = json.loads(line)
    assert shown["ref"] == ref("idea-tree") and shown["text"] == "Bäume für die Nordstadt"
    assert shown["status"] == "new" and shown["fields"] == ["mobilitaet"]
    assert main(["idea", "list", "--field", "none"]) == 0
    assert ref("idea-none") in capsys.readouterr().out


@pytest.mark.parametrize(("arguments", "message"), [
    (["idea", "list", "--field", "verkehr"], "unknown strategy field 'verkehr'"),
    (["idea", "list", "--status", "fertig"], "unknown status 'fertig'"),
    (["idea", "list", "--limit", "0"], "--limit: at least 1"),
    (["idea", "show", "i_0000000000000000"], "no idea 'i_0000000000000000'"),
    (["idea", "show", "i_12"], "too short"),
    (["idea", "status", "i_0000000000000000", "review", "--note", "x"], "no idea"),
    (["audit", "--since", "2026-02-30"], "--since: expected a day as YYYY-MM-DD"),
])
def test_bad_input_exits_2_with_one_clear_line(env: Database, capsys: pytest.CaptureFixture[str],
                                               arguments: list[str], message: str) -> None:
    assert main(arguments) == 2
    error = capsys.readouterr().err
    command = " ".join(arguments[:2] if arguments[0] == "idea" else arguments[:1])
    assert message in error and error.startswith(f"stadtdialog {command}:")


def test_a_status_change_from_the_cli_is_stored_audited_and_left_to_the_bot_to_send(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ref("idea-bench")
    arguments = ["idea", "status", target[:9], "in Prüfung", "--note", "Wir prüfen das.", "--note-en", "Checking."]
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert f"idea {target}: eingegangen [new] → in Prüfung [review]" in out and "running bot" in out
    with env.unit_of_work() as uow:
        idea = uow.ideas.get("idea-bench")
        news = uow.session.execute(select(m.FollowUp).where(m.FollowUp.kind == IDEA_STATUS_KIND)).scalars().all()
        [logged] = uow.audit.between()
        assert uow.outbox.pending_count() == 0, "the CLI never sends"
    assert idea is not None and (idea.status, idea.status_note, idea.status_note_en) == (
        "review", "Wir prüfen das.", "Checking.")
    assert [(row.citizen_id, row.status) for row in news] == [("c_author", "pending")]
    assert (logged.actor, logged.role, logged.channel, logged.action, logged.target, logged.outcome) == (
        "cli:ana", "cli", "cli", "idea_status", target, "ok")
    assert logged.details == {"from": "new", "to": "review", "note": "Wir prüfen das.", "note_en": "Checking."}
    stored = json.dumps([logged.details, logged.target, logged.actor], ensure_ascii=False)
    assert "Sitzbänke" not in stored and "anna@example.org" not in stored, "no citizen's text in the audit log"


def test_a_refused_status_change_changes_nothing_but_the_attempt_is_audited(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["idea", "status", ref("idea-bench"), "nicht umsetzbar"]) == 2
    assert "needs a public note" in capsys.readouterr().err
    assert main(["idea", "status", ref("idea-bench"), "wird umgesetzt", "--note", "Kommt."]) == 0
    assert main(["idea", "status", ref("idea-bench"), "planned", "--note", "Kommt."]) == 1
    assert "already has status planned" in capsys.readouterr().err
    with env.unit_of_work() as uow:
        idea = uow.ideas.get("idea-bench")
        [logged_refusal, logged_ok, logged_unchanged] = uow.audit.between()
        assert len(uow.ideas.history("idea-bench")) == 1
    assert idea is not None and idea.status == "planned"
    assert (logged_refusal.outcome, logged_refusal.details) == ("refused", {"status": "rejected",
                                                                           "error": "note_required"})
    assert logged_ok.outcome == "ok" and logged_unchanged.details == {"status": "planned", "error": "unchanged"}


def test_idea_show_prints_the_full_text_status_and_history_and_is_audited(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["idea", "status", ref("idea-bench"), "review", "--note", "Wir prüfen das."]) == 0
    capsys.readouterr()
    assert main(["idea", "show", ref("idea-bench")]) == 0
    out = capsys.readouterr().out
    assert BENCH_TEXT in out, "the CLI shows the full text"
    assert "in Prüfung [review]" in out and "note      Wir prüfen das." in out
    assert "did not opt in to idea news" in out and "history" in out and "(cli): Wir prüfen das." in out
    assert entries(env)[-1] == ("cli:ana", "cli", "cli", "idea", ref("idea-bench"), "ok")


def test_audit_lists_entries_oldest_first_as_a_table_or_json_lines(
    env: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    with env.unit_of_work() as uow:
        audit.record(uow, actor="telegram:12345", role="staff", channel="telegram", action="launch", target="3",
                     outcome="ok", details={"audience": 12}, now=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
    assert main(["idea", "list"]) == 0
    capsys.readouterr()
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["at", "actor", "role", "channel", "action", "target", "outcome", "details"]
    assert lines[1].split()[:8] == ["2026-01-05", "09:00", "telegram:12345", "staff", "telegram", "launch", "3", "ok"]
    assert '{"audience": 12}' in lines[1] and "cli:ana" in lines[2] and len(lines) == 3
    assert main(["audit", "--since", "2026-02-01", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["action"] == "idea_list" and json.loads(line)["actor"] == "cli:ana"
    assert entries(env)[-1][3] == "idea_list", "reading the audit log is not itself logged"


def test_config_shows_the_audit_retention(env: Database, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTDIALOG_AUDIT_RETENTION_DAYS", "90")
    assert main(["config"]) == 0
    assert "audit_retention_days=90" in capsys.readouterr().out
