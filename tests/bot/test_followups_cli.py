"""`stadtdialog followups list|cancel` as staff use it (a subprocess on the test database)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bot.storage.db import Database
from handlers.events import CitizenState

ROOT = Path(__file__).resolve().parents[2]
NOON = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Berlin
ALICE = "c_a11ce0000000000000000000000000"
BOB = "c_b0b000000000000000000000000000"


def stadtdialog(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env |= {"STADTDIALOG_DATA_DIR": str(tmp_path / "data"), "STADTDIALOG_DATABASE_URL": database_url,
            "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env, check=False)


def seed(database: Database) -> dict[str, int]:
    with database.unit_of_work() as uow:
        for citizen in (ALICE, BOB):
            uow.citizens.save_state(citizen, CitizenState(consent_version="2", consent_at=NOON), NOON)
            uow.contacts.upsert(citizen, "telegram", f"secret-user-{citizen[-4:]}", f"secret-chat-{citizen[-4:]}")
        rows = {
            "alice_followup": uow.follow_ups.add(ALICE, NOON + timedelta(days=3), "survey_followup", {"q": "x"}),
            "alice_invite": uow.follow_ups.add(ALICE, NOON + timedelta(days=1), "invitation", {"campaign_id": 1}),
            "bob_reminder": uow.follow_ups.add(BOB, NOON + timedelta(hours=2), "survey_reminder", {}),
            "bob_done": uow.follow_ups.add(BOB, NOON - timedelta(days=1), "survey_reminder", {}),
        }
        uow.follow_ups.mark_sent(rows["bob_done"], NOON)
        return rows


def test_list_shows_rows_in_city_time_with_shortened_pseudonyms_and_never_channel_ids(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    rows = seed(database)
    result = stadtdialog(tmp_path, database_url, "followups", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "kind", "status", "due", "(Europe/Berlin)", "citizen", "outcome"]
    first = lines[1].split()
    assert first == [str(rows["bob_reminder"]), "survey_reminder", "pending", "2026-06-10", "14:00", BOB[:12] + "…"]
    ended = lines[4].split()
    assert ended[:5] == [str(rows["bob_done"]), "survey_reminder", "done", "2026-06-09", "12:00"]
    assert ended[5] == BOB[:12] + "…" and ended[6] == "sent"
    assert [line.split()[0] for line in lines[1:5]] == [
        str(rows[key]) for key in ("bob_reminder", "alice_invite", "alice_followup", "bob_done")
    ], "open rows soonest first, then ended ones"
    assert "secret" not in result.stdout and BOB not in result.stdout
    assert "all rows: done/sent=1, pending=3" in result.stdout


def test_list_filters_by_citizen_kind_and_status(tmp_path: Path, database: Database, database_url: str) -> None:
    rows = seed(database)
    mine = stadtdialog(tmp_path, database_url, "followups", "list", "--citizen", ALICE[:10])
    assert [line.split()[0] for line in mine.stdout.splitlines()[1:-1]] == [
        str(rows["alice_invite"]), str(rows["alice_followup"])
    ]
    kind = stadtdialog(tmp_path, database_url, "followups", "list", "--kind", "survey_reminder", "--status", "pending")
    assert [line.split()[0] for line in kind.stdout.splitlines()[1:-1]] == [str(rows["bob_reminder"])]
    none = stadtdialog(tmp_path, database_url, "followups", "list", "--kind", "nothing")
    assert none.stdout.startswith("no follow-ups match")


def test_cancel_ends_pending_rows_and_explains_unknown_and_finished_ids(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    rows = seed(database)
    result = stadtdialog(tmp_path, database_url, "followups", "cancel", str(rows["alice_invite"]),
                         str(rows["bob_done"]), "99999")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"follow-up {rows['alice_invite']}: cancelled",
        f"follow-up {rows['bob_done']}: already ended (done, sent), not cancelled",
        "follow-up 99999: no such follow-up",
    ]
    with database.engine.connect() as connection:
        query = text("SELECT id, status || '/' || coalesce(outcome, '') FROM follow_ups")
        status = dict(connection.execute(query).all())
    assert status[rows["alice_invite"]] == "cancelled/cancelled"
    assert status[rows["alice_followup"]] == "pending/"
    again = stadtdialog(tmp_path, database_url, "followups", "cancel", str(rows["alice_followup"]))
    assert again.returncode == 0 and again.stdout.strip() == f"follow-up {rows['alice_followup']}: cancelled"


def test_status_counts_waiting_held_and_missed_follow_ups(
    tmp_path: Path, database: Database, database_url: str
) -> None:
    rows = seed(database)
    with database.unit_of_work() as uow:
        uow.follow_ups.finish(rows["alice_invite"], "skipped", "missed", NOON)
        uow.follow_ups.hold(rows["bob_reminder"], NOON)
    result = stadtdialog(tmp_path, database_url, "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-3:] == ["follow_ups_pending=1", "follow_ups_held=1", "follow_ups_missed=1"]
