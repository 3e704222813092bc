"""The staff audit log: entries, listing, the retention purge in the housekeeping, and its setting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config
from bot.staffdesk import audit
from bot.storage.db import Database
from tests.bot.conftest import RuntimeFactory
from tests.bot.test_runtime import RecordingChannel

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def entry(database: Database, at: datetime, action: str = "campaigns", **extra: object) -> None:
    fields: dict[str, object] = {"actor": "telegram:12345", "role": "staff", "channel": "telegram",
                                 "target": None, "outcome": "ok", "details": None}
    fields.update(extra)
    with database.unit_of_work() as uow:
        audit.record(uow, action=action, now=at, **fields)  # type: ignore[arg-type]


def test_entries_are_listed_oldest_first_and_from_a_moment_on(database: Database) -> None:
    entry(database, NOW + timedelta(hours=2), "idea", target="i_0123456789abcdef")
    entry(database, NOW, "campaigns")
    entry(database, NOW + timedelta(hours=1), "launch", target="3", details={"campaign": 3, "audience": 120},
          role="staff", channel="matrix", actor="matrix:@ana:example.org")
    with database.unit_of_work() as uow:
        everything = uow.audit.between()
        later = uow.audit.since(NOW + timedelta(hours=1))
        window = uow.audit.between(NOW, NOW + timedelta(hours=2))
    assert [e.action for e in everything] == ["campaigns", "launch", "idea"]
    assert [e.action for e in later] == ["launch", "idea"]
    assert [e.action for e in window] == ["campaigns", "launch"]
    launch = everything[1]
    assert (launch.actor, launch.role, launch.channel, launch.target, launch.outcome, launch.at) == (
        "matrix:@ana:example.org", "staff", "matrix", "3", "ok", NOW + timedelta(hours=1))
    assert launch.details == {"campaign": 3, "audience": 120}


def test_purge_deletes_only_entries_older_than_the_limit(database: Database) -> None:
    for days in (400, 366, 364, 1):
        entry(database, NOW - timedelta(days=days))
    with database.unit_of_work() as uow:
        assert uow.audit.purge(NOW - timedelta(days=365)) == 2
        assert [e.at for e in uow.audit.between()] == [NOW - timedelta(days=364), NOW - timedelta(days=1)]
        assert uow.audit.purge(NOW - timedelta(days=365)) == 0


def test_record_refuses_unknown_outcomes_and_shortens_long_targets(database: Database) -> None:
    with database.unit_of_work() as uow, pytest.raises(ValueError, match="outcome"):
        audit.record(uow, actor="cli:ana", role="cli", channel="cli", action="idea", target=None, outcome="fine",
                     details=None, now=NOW)
    with database.unit_of_work() as uow, pytest.raises(ValueError, match="action"):
        audit.record(uow, actor="cli:ana", role="cli", channel="cli", action="x" * 41, target=None, outcome="ok",
                     details=None, now=NOW)
    entry(database, NOW, target="f" * 300)
    with database.unit_of_work() as uow:
        [stored] = uow.audit.between()
    assert len(stored.target or "") == 100 and stored.target.endswith("…")  # type: ignore[union-attr]


def test_the_cli_actor_is_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "ana")
    assert audit.cli_actor() == "cli:ana"

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr(audit.getpass, "getuser", no_user)
    assert audit.cli_actor() == "cli:unknown"


def test_retention_defaults_to_a_year_and_must_be_whole_days_of_at_least_one(tmp_path: Path) -> None:
    base = {"STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789"}
    assert load_config(base, cwd=tmp_path).audit_retention == timedelta(days=365)
    assert load_config({**base, "STADTDIALOG_AUDIT_RETENTION_DAYS": "30"}, cwd=tmp_path).audit_retention == \
        timedelta(days=30)
    for wrong in ("0", "-5", "1.5", "ein Jahr"):
        with pytest.raises(ConfigError, match="AUDIT_RETENTION_DAYS"):
            load_config({**base, "STADTDIALOG_AUDIT_RETENTION_DAYS": wrong}, cwd=tmp_path)


async def test_housekeeping_purges_audit_entries_past_the_configured_retention(
    make_runtime: RuntimeFactory, database: Database, config: Config
) -> None:
    now = datetime.now(UTC)
    entry(database, now - timedelta(days=40))
    entry(database, now - timedelta(days=20))
    runtime = make_runtime(RecordingChannel(), replace(config, audit_retention=timedelta(days=30)))
    await runtime.start()
    assert (await runtime.housekeeping())["audit"] == 1
    with database.unit_of_work() as uow:
        assert len(uow.audit.between()) == 1
    runtime.clock = lambda: now + timedelta(days=11)
    assert (await runtime.housekeeping())["audit"] == 1
    assert (await runtime.housekeeping())["audit"] == 0
