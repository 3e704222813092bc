"""The storage layer on SQLite and PostgreSQL: migrations, inbox/outbox ordering, state, surveys, privacy."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from bot.storage import Database, UnitOfWork, UnknownSurveyError, chat_key
from bot.storage.db import alembic_config
from bot.storage.models import Base
from handlers.events import CitizenState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
SURVEY = {"id": "mobility", "title": {"de": "Mobilität"}, "questions": [{"id": "q1", "type": "yes_no"}]}


def count(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())


def add_citizen(
    uow: UnitOfWork, citizen_id: str, *, channel: str, user_id: str, chat_id: str, consented: bool = True
) -> None:
    """A citizen with a row in every citizen-related table."""
    state = CitizenState(
        language="de",
        language_chosen=True,
        consent_version="1" if consented else None,
        consent_at=NOW if consented else None,
        flow="survey",
        data={"survey": "mobility", "asked": ["q1"]},
    )
    uow.citizens.save_state(citizen_id, state, NOW)
    uow.contacts.upsert(citizen_id, channel, user_id, chat_id)
    uow.surveys.import_survey("mobility", SURVEY, "hash-1", "Mobilität", "mobility.yaml", NOW)
    response_id = f"r-{citizen_id[:8]}"
    uow.responses.start(response_id, citizen_id, "mobility", 1, NOW)
    uow.responses.save_answer(response_id, "q1", True, NOW)
    uow.responses.complete(response_id, NOW)
    uow.ideas.add(f"i-{citizen_id[:8]}", citizen_id, "Mehr Bänke am Döppersberg", "mobility", NOW)
    uow.follow_ups.add(citizen_id, NOW + timedelta(days=7), "reminder", {"survey": "mobility"}, now=NOW)
    uow.opt_ins.set(citizen_id, "surveys", True, fields=("mobilitaet",), source="abo", notice_version="1", now=NOW)


# --- migrations --------------------------------------------------------------------------------------------------


def test_migrations_build_the_schema_from_nothing_and_are_safe_to_repeat(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.migrate()
        database.migrate()
        tables = set(inspect(database.engine).get_table_names())
        assert tables == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
        with database.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ("0005",)
    finally:
        database.dispose()


def test_migration_matches_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_removes_the_schema_and_upgrade_restores_it(database: Database) -> None:
    with database.engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    database.migrate()
    assert "citizens" in inspect(database.engine).get_table_names()


def test_upgrading_a_populated_0002_database_keeps_every_row_with_sensible_defaults(database_url: str) -> None:
    database = Database(database_url)
    try:
        with database.engine.begin() as connection:
            if database.is_sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            command.upgrade(alembic_config(connection), "0002")
        with database.unit_of_work() as uow:  # the 0002 columns only: what a running older bot wrote
            uow.session.execute(
                text(
                    "INSERT INTO citizens (id, language, language_chosen, consent_version, created_at, last_seen_at)"
                    " VALUES ('c1', 'de', true, '1', :now, :now)"
                ),
                {"now": NOW},
            )
            uow.session.execute(
                text(
                    "INSERT INTO contacts (citizen_id, channel, channel_user_id, chat_id)"
                    " VALUES ('c1', 't', '1', '1')"
                )
            )
            uow.session.execute(
                text(
                    "INSERT INTO outbox (channel, chat_id, chat_key, payload, status, attempts, created_at)"
                    " VALUES ('t', '1', 't:1', '{}', 'pending', 0, :now)"
                ),
                {"now": NOW},
            )
            uow.session.execute(
                text(
                    "INSERT INTO follow_ups (citizen_id, due_at, kind, payload, status, attempts, created_at)"
                    " VALUES ('c1', :now, 'survey_reminder', '{}', 'pending', 0, :now)"
                ),
                {"now": NOW},
            )
        database.migrate()
        with database.unit_of_work() as uow:
            [pending] = uow.outbox.queue("t:1")
            assert (pending.priority, pending.follow_up_id) == (0, None), "older messages are interactive replies"
            [row] = uow.follow_ups.open_for("c1")
            assert (row.unsolicited, row.campaign_id, row.outcome) == (True, None, None)
            state = uow.citizens.load_state("c1")
            assert state is not None and state.opt_ins == {} and state.paused_until is None
            assert uow.contacts.for_citizen("c1")[0].unreachable_at is None
    finally:
        database.dispose()


def test_sqlite_file_gets_its_folder_wal_and_enforced_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'nested' / 'folder' / 'bot.db'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert (tmp_path / "nested" / "folder" / "bot.db").exists()
    finally:
        database.dispose()


def test_sqlite_file_its_wal_and_the_folders_made_for_it_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "db"
    previous = os.umask(0o022)  # a usual umask would leave new files world-readable
    try:
        database = Database(f"sqlite:///{folder / 'bot.db'}")
        try:
            database.migrate()
            with database.unit_of_work() as uow:
                uow.channel_state.set("test:offset", "1", NOW)
            files = [folder / name for name in ("bot.db", "bot.db-wal", "bot.db-shm")]
            assert all(path.exists() for path in files)
            assert {path.name: stat.S_IMODE(os.stat(path).st_mode) for path in files} == dict.fromkeys(
                (path.name for path in files), 0o600
            )
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
            assert stat.S_IMODE(os.stat(folder.parent).st_mode) == 0o700
        finally:
            database.dispose()
    finally:
        os.umask(previous)


# --- unit of work ------------------------------------------------------------------------------------------------


def test_concurrent_units_of_work_queue_instead_of_failing_with_database_locked(database: Database) -> None:
    def worker(name: str) -> None:
        for step in range(15):
            with database.unit_of_work() as uow:
                state = uow.citizens.load_state(name) or CitizenState()  # read, then write: the risky pattern
                uow.citizens.save_state(name, state.evolve(data={"step": step}), NOW)
                uow.outbox.enqueue("terminal", name, {"text": str(step)}, now=NOW)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(worker, f"citizen-{i}") for i in range(3)]:
            future.result()
    assert count(database, "outbox") == 45


def test_a_failing_unit_of_work_stores_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        uow.inbox.record_processed("telegram", "1", "telegram:42", NOW)
        add_citizen(uow, "c" * 64, channel="telegram", user_id="42", chat_id="42")
        uow.outbox.enqueue("telegram", "42", {"text": "Hallo"}, now=NOW)
        raise RuntimeError("the core crashed")
    for table in Base.metadata.sorted_tables:
        assert count(database, table.name) == 0, table.name


def test_a_foreign_key_violation_is_refused(database: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), database.unit_of_work() as uow:
        uow.contacts.upsert("nobody", "telegram", "42", "42")


# --- inbox -------------------------------------------------------------------------------------------------------


def inbound(event_id: str, chat: str = "42", text: str = "Hallo") -> dict[str, Any]:
    return {"kind": "text", "channel": "telegram", "user_id": chat, "chat_id": chat, "event_id": event_id, "text": text}


def test_duplicate_inbound_event_is_dropped_without_breaking_the_transaction(database: Database) -> None:
    with database.unit_of_work() as uow:
        assert uow.inbox.add(inbound("1"), channel="telegram", event_id="1", chat_key="telegram:42", received_at=NOW)
        assert not uow.inbox.add(
            inbound("1"), channel="telegram", event_id="1", chat_key="telegram:42", received_at=NOW
        )
        assert uow.inbox.record_processed("telegram", "2", "telegram:42", NOW)
        assert not uow.inbox.record_processed("telegram", "2", "telegram:42", NOW)
        assert not uow.inbox.record_processed("telegram", "1", "telegram:42", NOW)
        uow.channel_state.set("telegram:offset", "3", NOW)  # the transaction is still usable
    with database.unit_of_work() as uow:
        assert not uow.inbox.add(
            inbound("2"), channel="telegram", event_id="2", chat_key="telegram:42", received_at=NOW
        )
        assert uow.inbox.add(inbound("1"), channel="matrix", event_id="1", chat_key="matrix:!r", received_at=NOW)
        assert uow.channel_state.get("telegram:offset") == "3"
    assert count(database, "inbound_events") == 3


def test_inbox_hands_out_the_events_of_a_chat_strictly_in_order(database: Database) -> None:
    with database.unit_of_work() as uow:
        for event_id, chat in (("1", "42"), ("2", "7"), ("3", "42")):
            uow.inbox.add(
                inbound(event_id, chat),
                channel="telegram",
                event_id=event_id,
                chat_key=f"telegram:{chat}",
                received_at=NOW,
            )
    with database.unit_of_work() as uow:
        assert uow.inbox.pending_chat_keys() == ["telegram:42", "telegram:7"]
        first, second, third = uow.inbox.pending()
        assert (first.event_id, first.payload) == ("1", inbound("1"))
        assert uow.inbox.lock(third.id) is None, "an older event of the same chat is still pending"
        assert uow.inbox.lock(second.id) == second, "another chat does not wait"
        assert uow.inbox.next_for_chat("telegram:42") == first
        assert uow.inbox.lock(first.id) == first
        uow.inbox.mark_done(first.id, now=NOW)
        assert uow.inbox.lock(first.id) is None, "already processed"
        assert uow.inbox.next_for_chat("telegram:42") == third
    with database.engine.connect() as connection:
        row = connection.execute(
            text("SELECT payload, chat_key, status FROM inbound_events WHERE event_id = '1'")
        ).one()
    assert row.payload is None and row.chat_key == "" and row.status == "done", "no personal data stays"


def test_an_event_that_keeps_failing_is_given_up_and_unblocks_its_chat(database: Database) -> None:
    with database.unit_of_work() as uow:
        for event_id in ("1", "2"):
            uow.inbox.add(
                inbound(event_id), channel="telegram", event_id=event_id, chat_key="telegram:42", received_at=NOW
            )
        head = uow.inbox.next_for_chat("telegram:42")
    assert head is not None
    for _ in range(2):
        with database.unit_of_work() as uow:
            uow.inbox.retry(head.id, "ValueError")
    with database.unit_of_work() as uow:
        retried = uow.inbox.next_for_chat("telegram:42")
        assert retried is not None and (retried.id, retried.attempts, retried.error) == (head.id, 2, "ValueError")
        assert uow.inbox.lock(retried.id + 1) is None, "the chat stays blocked while its oldest event is retried"
        uow.inbox.mark_failed(head.id, "ValueError", now=NOW)
    with database.unit_of_work() as uow:
        following = uow.inbox.next_for_chat("telegram:42")
        assert following is not None and following.event_id == "2"
        assert [item.event_id for item in uow.inbox.pending()] == ["2"]
        assert uow.inbox.purge_done(NOW + timedelta(days=1)) == 1
    assert count(database, "inbound_events") == 1


# --- outbox ------------------------------------------------------------------------------------------------------


def test_outbox_sends_only_the_oldest_message_of_each_chat(database: Database) -> None:
    with database.unit_of_work() as uow:
        a1 = uow.outbox.enqueue("telegram", "42", {"text": "eins"}, now=NOW)
        a2 = uow.outbox.enqueue("telegram", "42", {"text": "zwei"}, now=NOW)
        b1 = uow.outbox.enqueue("matrix", "!room:example.org", {"text": "one"}, now=NOW)
        later = uow.outbox.enqueue(
            "terminal", "local", {"text": "später"}, not_before=NOW + timedelta(hours=1), now=NOW
        )
        assert [item.id for item in uow.outbox.due(NOW)] == [a1, b1]
        assert uow.outbox.pending_count() == 4

        uow.outbox.retry_later(a1, "RetryAfter 30", NOW + timedelta(seconds=30))
        assert [item.id for item in uow.outbox.due(NOW)] == [b1], "the second message must not overtake the first"
        assert uow.outbox.next_for_chat("telegram:42", NOW) is None
        uow.outbox.mark_sent(b1)

        head = uow.outbox.next_for_chat(chat_key("telegram", "42"), NOW + timedelta(seconds=30))
        assert head is not None and (head.id, head.attempts, head.last_error) == (a1, 1, "RetryAfter 30")
        uow.outbox.mark_failed(a1, "Forbidden: bot was blocked by the user")
        due = uow.outbox.due(NOW + timedelta(hours=1))
        assert [(item.id, item.payload) for item in due] == [(a2, {"text": "zwei"}), (later, {"text": "später"})]
        assert uow.outbox.pending_count() == 2
    assert count(database, "outbox") == 3, "sent rows are deleted, failed ones kept"


def test_a_message_without_a_send_time_is_due_whatever_the_clock_says(database: Database) -> None:
    with database.unit_of_work() as uow:
        message_id = uow.outbox.enqueue("telegram", "42", {"text": "Hallo"})
        early = datetime(2000, 1, 1, tzinfo=UTC)  # a worker whose clock lags behind the one that queued it
        assert [item.id for item in uow.outbox.due(early)] == [message_id]
        head = uow.outbox.next_for_chat("telegram:42", early)
        assert head is not None and head.not_before is None


# --- citizens ----------------------------------------------------------------------------------------------------


def test_citizen_state_round_trips_with_aware_datetimes_and_json(database: Database) -> None:
    consent_at = datetime(2026, 3, 1, 13, 30, 15, 123456, tzinfo=BERLIN)
    state = CitizenState(
        language="en",
        language_chosen=True,
        consent_version="2",
        consent_at=consent_at,
        flow="idea",
        data={"draft": "Mehr Grün 🌳", "scores": {"mobility": 0.25}, "path": ("q1", "q2"), "skip": None},
    )
    with database.unit_of_work() as uow:
        assert uow.citizens.load_state("c1") is None
        uow.citizens.save_state("c1", state, NOW)
    with database.unit_of_work() as uow:
        loaded = uow.citizens.load_state("c1")
    assert loaded is not None
    assert loaded.consent_at == consent_at and loaded.consent_at.utcoffset() == timedelta(0)
    assert loaded.data == {"draft": "Mehr Grün 🌳", "scores": {"mobility": 0.25}, "path": ["q1", "q2"], "skip": None}
    assert (loaded.language, loaded.language_chosen, loaded.consent_version, loaded.flow) == ("en", True, "2", "idea")

    with database.unit_of_work() as uow:
        uow.citizens.save_state("c1", loaded.evolve(flow="idle", data={}), NOW + timedelta(hours=1))
        again = uow.citizens.load_state("c1")
        exported = uow.citizens.export("c1")
    assert again is not None and (again.flow, again.data, again.consent_at) == ("idle", {}, consent_at)
    assert exported["citizen"]["created_at"] == NOW.isoformat()
    assert exported["citizen"]["last_seen_at"] == (NOW + timedelta(hours=1)).isoformat()


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.unit_of_work() as uow:
        uow.citizens.save_state("c1", CitizenState(), datetime(2026, 3, 1, 12, 0))


def test_contacts_map_channel_users_to_citizens(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.citizens.save_state("c1", CitizenState(), NOW)
        assert uow.contacts.citizen_for("matrix", "@ana:example.org") is None
        uow.contacts.upsert("c1", "matrix", "@ana:example.org", "!old:example.org")
        uow.contacts.upsert("c1", "matrix", "@ana:example.org", "!new:example.org")
        uow.contacts.upsert("c1", "telegram", "42", "42")
        assert uow.contacts.citizen_for("matrix", "@ana:example.org") == "c1"
        assert [(c.channel, c.chat_id) for c in uow.contacts.for_citizen("c1")] == [
            ("matrix", "!new:example.org"),
            ("telegram", "42"),
        ]


# --- surveys and responses ---------------------------------------------------------------------------------------


def test_survey_import_is_idempotent_and_a_changed_file_becomes_the_new_active_version(database: Database) -> None:
    changed = {**SURVEY, "questions": [{"id": "q1", "type": "yes_no"}, {"id": "q2", "type": "free_text"}]}
    with database.unit_of_work() as uow:
        assert uow.surveys.import_survey("mobility", SURVEY, "h1", "Mobilität", "m.yaml", NOW) == (1, True)
        assert uow.surveys.import_survey("mobility", SURVEY, "h1", "Mobilität", "m.yaml", NOW) == (1, False)
        assert uow.surveys.import_survey("mobility", changed, "h2", "Mobilität", "m.yaml", NOW) == (2, True)
        assert uow.surveys.import_survey("climate", SURVEY, "h1", "Klima", "c.yaml", NOW) == (1, True)
    with database.unit_of_work() as uow:
        versions = {(s.key, s.version): s for s in uow.surveys.versions()}
        assert {k: s.active for k, s in versions.items()} == {
            ("climate", 1): True,
            ("mobility", 1): False,
            ("mobility", 2): True,
        }
        assert versions[("mobility", 2)].definition == changed
        assert uow.surveys.id_for("mobility", 2) == versions[("mobility", 2)].id
        assert uow.surveys.id_for("mobility", 3) is None

        uow.surveys.set_active("mobility", False)
        assert not any(s.active for s in uow.surveys.versions() if s.key == "mobility")
        assert uow.surveys.import_survey("mobility", changed, "h2", "Mobilität", "m.yaml", NOW) == (2, False)
        assert not any(s.active for s in uow.surveys.versions() if s.key == "mobility"), "staff's choice stays"
        uow.surveys.set_active("mobility", True)
        assert uow.surveys.import_survey("mobility", SURVEY, "h1", "Mobilität", "m.yaml", NOW) == (1, False)
        assert [(s.version, s.active) for s in uow.surveys.versions() if s.key == "mobility"] == [(1, True), (2, False)]


def test_answers_are_replaced_not_duplicated(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.citizens.save_state("c1", CitizenState(), NOW)
        uow.surveys.import_survey("mobility", SURVEY, "h1", "Mobilität", "m.yaml", NOW)
        uow.responses.start("r1", "c1", "mobility", 1, NOW)
        uow.responses.save_answer("r1", "q1", "bus", NOW)
        uow.responses.save_answer("r1", "q2", ["a", "b"], NOW + timedelta(seconds=1))
        uow.responses.save_answer("r1", "q1", "bike", NOW + timedelta(seconds=2))
        uow.responses.save_answer("r1", "q3", None, NOW + timedelta(seconds=3))
        uow.responses.delete_answer("r1", "q2")
        assert uow.responses.answers("r1") == {"q1": "bike", "q3": None}
        assert uow.responses.status("r1") == "in_progress"
        uow.responses.complete("r1", NOW)
        assert uow.responses.status("r1") == "completed"
        with pytest.raises(UnknownSurveyError):
            uow.responses.start("r2", "c1", "mobility", 9, NOW)
    assert count(database, "answers") == 2


# --- privacy -----------------------------------------------------------------------------------------------------


def test_export_contains_everything_stored_about_the_citizen(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="matrix", user_id="@ana:example.org", chat_id="!dm:example.org")
        add_citizen(uow, "b" * 64, channel="telegram", user_id="42", chat_id="42")
        exported = uow.citizens.export("a" * 64)
        assert uow.citizens.export("nobody")["citizen"] is None
    assert json.loads(json.dumps(exported)) == exported, "JSON-serialisable"
    assert exported["citizen"]["id"] == "a" * 64 and exported["citizen"]["consent_at"] == NOW.isoformat()
    assert exported["contacts"] == [
        {
            "channel": "matrix",
            "channel_user_id": "@ana:example.org",
            "chat_id": "!dm:example.org",
            "unreachable_at": None,
        }
    ]
    assert exported["opt_ins"] == [
        {
            "topic": "surveys",
            "fields": ["mobilitaet"],
            "source": "abo",
            "notice_version": "1",
            "granted_at": NOW.isoformat(),
            "withdrawn_at": None,
        }
    ]
    assert exported["conversation"]["data"] == {"survey": "mobility", "asked": ["q1"]}
    [response] = exported["responses"]
    assert response["survey"] == {"key": "mobility", "version": 1, "title": "Mobilität"}
    assert response["status"] == "completed"
    assert response["answers"] == [{"question_id": "q1", "value": True, "answered_at": NOW.isoformat()}]
    assert [idea["text"] for idea in exported["ideas"]] == ["Mehr Bänke am Döppersberg"]
    assert [(f["kind"], f["payload"]) for f in exported["follow_ups"]] == [("reminder", {"survey": "mobility"})]
    assert "42" not in json.dumps(exported), "nothing of another citizen"


def rows_mentioning(database: Database, needles: list[str]) -> list[tuple[str, str, Any]]:
    """(table, column, value) of every stored value that contains one of `needles`."""
    found = []
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    rendered = json.dumps(value, default=str)
                    if any(needle in rendered for needle in needles):
                        found.append((table.name, column, value))
    return found


def test_delete_everything_leaves_nothing_that_refers_to_the_citizen(database: Database) -> None:
    victim, bystander = "d" * 64, "e" * 64
    victim_ids = [victim, f"i-{victim[:8]}", "900000001", "900000002", "@ana:example.org", "!dm-ana:example.org"]
    with database.unit_of_work() as uow:
        add_citizen(uow, victim, channel="telegram", user_id="900000001", chat_id="900000002")
        uow.contacts.upsert(victim, "matrix", "@ana:example.org", "!dm-ana:example.org")
        add_citizen(uow, bystander, channel="telegram", user_id="500000001", chat_id="500000001")
        event = inbound("update-1", "900000002")
        uow.inbox.add(event, channel="telegram", event_id="update-1", chat_key="telegram:900000002", received_at=NOW)
        uow.inbox.record_processed("telegram", "update-2", "telegram:900000002", NOW)
        failed = uow.outbox.enqueue("matrix", "!dm-ana:example.org", {"text": "Danke für Ihre Idee"}, now=NOW)
        uow.outbox.mark_failed(failed, "M_FORBIDDEN")
        uow.ideas.set_status(f"i-{victim[:8]}", "review", "Wir prüfen das.", None, NOW, "cli")
    with database.unit_of_work() as uow:
        item = uow.inbox.next_for_chat("telegram:900000002")
        assert item is not None
        uow.inbox.mark_done(item.id)
        deleted = uow.citizens.delete_everything(victim)
    assert deleted == {
        "ideas_kept": 0,
        "idea_supports": 0,
        "idea_searches": 0,
        "answer_embeddings": 0,
        "answers": 1,
        "responses": 1,
        "idea_status_changes": 1,
        "ideas": 1,
        "follow_ups": 1,
        "opt_ins": 1,
        "conversations": 1,
        "outbox": 1,
        "contacts": 2,
        "citizens": 1,
    }
    assert rows_mentioning(database, victim_ids) == []
    assert rows_mentioning(database, [bystander, "500000001"]), "the other citizen is untouched"
    with database.unit_of_work() as uow:
        assert uow.citizens.load_state(bystander) is not None
        assert uow.citizens.load_state(victim) is None
        assert not uow.inbox.record_processed("telegram", "update-2", "", NOW), "duplicates are still dropped"


def test_goodbye_queued_before_deletion_is_still_sent(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "f" * 64, channel="telegram", user_id="42", chat_id="42")
        goodbye = uow.outbox.enqueue("telegram", "42", {"text": "Ihre Daten sind gelöscht."}, now=NOW)
        uow.citizens.delete_everything("f" * 64)
    with database.unit_of_work() as uow:
        assert [item.id for item in uow.outbox.due(NOW)] == [goodbye]


def test_citizens_who_never_consent_are_purged_after_the_grace_period(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "old-unconsented", channel="telegram", user_id="1", chat_id="1", consented=False)
        add_citizen(uow, "old-consented", channel="telegram", user_id="2", chat_id="2")
        uow.citizens.save_state("new-unconsented", CitizenState(), NOW + timedelta(hours=23))
    with database.unit_of_work() as uow:
        assert uow.citizens.purge_unconsented(NOW + timedelta(hours=1)) == 1
        assert uow.citizens.purge_unconsented(NOW + timedelta(hours=1)) == 0
        assert uow.contacts.citizen_for("telegram", "1") is None
        assert uow.citizens.load_state("old-consented") is not None
        assert uow.citizens.load_state("new-unconsented") is not None
    assert count(database, "ideas") == 1 and count(database, "answers") == 1


# --- follow-ups --------------------------------------------------------------------------------------------------


def test_due_follow_ups_are_claimed_once_and_can_be_cancelled(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.citizens.save_state("c1", CitizenState(), NOW)
        due = uow.follow_ups.add("c1", NOW - timedelta(minutes=1), "reminder", {"survey": "mobility"}, now=NOW)
        uow.follow_ups.add("c1", NOW + timedelta(days=1), "reminder", {}, now=NOW)
        uow.follow_ups.add("c1", NOW - timedelta(minutes=5), "idea_status", {"idea": "i1"}, now=NOW)
        assert uow.follow_ups.cancel_for("c1", "idea_status") == 1
    with database.unit_of_work() as uow:
        [claimed] = uow.follow_ups.claim_due(NOW, limit=10)
        assert (claimed.id, claimed.kind, claimed.payload, claimed.attempts) == (
            due,
            "reminder",
            {"survey": "mobility"},
            1,
        )
        assert uow.follow_ups.claim_due(NOW, limit=10) == []
        uow.follow_ups.mark_done(claimed.id)
    with database.unit_of_work() as uow:
        assert [f.due_at for f in uow.follow_ups.pending_for("c1")] == [NOW + timedelta(days=1)]
        assert uow.follow_ups.requeue_running() == 0


# SQLite runs one worker; its write lock (BEGIN IMMEDIATE) serialises units of work, so these are PostgreSQL-only.
postgres_only = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@postgres_only
def test_concurrent_workers_never_claim_the_same_follow_up(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.citizens.save_state("c1", CitizenState(), NOW)
        ids = {uow.follow_ups.add("c1", NOW - timedelta(minutes=i), "reminder", {}, now=NOW) for i in range(5)}
    with database.unit_of_work() as first, database.unit_of_work() as second:
        claimed_first = first.follow_ups.claim_due(NOW, limit=2)
        claimed_second = second.follow_ups.claim_due(NOW, limit=10)  # does not wait for the first: rows are skipped
    first_ids, second_ids = {f.id for f in claimed_first}, {f.id for f in claimed_second}
    assert len(first_ids) == 2 and not first_ids & second_ids and first_ids | second_ids == ids


@postgres_only
def test_a_worker_skips_an_inbound_event_another_worker_holds(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.inbox.add(inbound("1"), channel="telegram", event_id="1", chat_key="telegram:42", received_at=NOW)
        [item] = uow.inbox.pending()
    with database.unit_of_work() as first:
        assert first.inbox.lock(item.id) == item
        with database.unit_of_work() as second:
            assert second.inbox.lock(item.id) is None
        first.inbox.mark_done(item.id)


def test_the_sender_reads_a_chats_whole_queue_and_deletes_sent_messages_together(database: Database) -> None:
    with database.unit_of_work() as uow:
        a1 = uow.outbox.enqueue("telegram", "42", {"text": "eins"}, now=NOW)
        b1 = uow.outbox.enqueue("telegram", "43", {"text": "one"}, now=NOW)
        a2 = uow.outbox.enqueue("telegram", "42", {"text": "zwei"}, now=NOW)
    with database.unit_of_work(read_only=True) as uow:
        assert [(item.id, item.payload["text"]) for item in uow.outbox.queue("telegram:42")] == [
            (a1, "eins"),
            (a2, "zwei"),
        ]
    with database.unit_of_work() as uow:
        uow.outbox.mark_sent_many([a1, b1])
        uow.outbox.mark_sent_many([])
    with database.unit_of_work(read_only=True) as uow:
        assert [item.id for item in uow.outbox.queue("telegram:42")] == [a2]
        assert uow.outbox.queue("telegram:43") == []


def test_a_read_only_unit_of_work_does_not_wait_for_a_writer(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.channel_state.set("telegram:offset", "1", NOW)
    with database.unit_of_work() as writer:
        writer.channel_state.set("telegram:offset", "2", NOW)  # holds the write lock until the block ends

        def read() -> str | None:
            with database.unit_of_work(read_only=True) as reader:
                return reader.channel_state.get("telegram:offset")

        with ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(read).result(timeout=5) == "1", "readers see the last commit, without waiting"


def test_claiming_the_next_event_of_a_chat_keeps_its_order(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.inbox.add({"n": 1}, channel="telegram", event_id="c1", chat_key="telegram:42", received_at=NOW)
        uow.inbox.add({"n": 2}, channel="telegram", event_id="c2", chat_key="telegram:42", received_at=NOW)
    with database.unit_of_work() as uow:
        item = uow.inbox.next_for_chat("telegram:42")
        assert item is not None
        claimed = uow.inbox.claim(item)
        assert claimed is not None and claimed.payload == {"n": 1}
        uow.inbox.mark_done(claimed.id)
    with database.unit_of_work() as uow:
        item = uow.inbox.next_for_chat("telegram:42")
        assert item is not None and item.payload == {"n": 2}


# --- outreach: opt-ins, reachability, follow-up outcomes -----------------------------------------------------------


def test_opt_ins_keep_their_proof_history_and_one_current_row_per_topic(database: Database) -> None:
    later = NOW + timedelta(days=1)
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="telegram", user_id="1", chat_id="1")
        assert not uow.opt_ins.set("a" * 64, "surveys", True, fields=("mobilitaet",), source="abo",
                                   notice_version="2", now=later), "same fields: nothing changes"
        assert uow.opt_ins.set("a" * 64, "surveys", True, fields=(), source="abo", notice_version="2", now=later)
        assert uow.opt_ins.set("a" * 64, "followups", True, source="survey_end", notice_version="2", now=later)
        assert uow.citizens.load_state("a" * 64).opt_ins == {"surveys": (), "followups": ()}  # type: ignore[union-attr]
        assert uow.opt_ins.withdraw_all("a" * 64, later) == 2
        assert uow.citizens.load_state("a" * 64).opt_ins == {}  # type: ignore[union-attr]
        history = uow.opt_ins.history("a" * 64)
    assert [(h.topic, h.fields, h.withdrawn_at is None) for h in history] == [
        ("surveys", ["mobilitaet"], False),
        ("surveys", [], False),
        ("followups", [], False),
    ]


def test_a_contact_marked_unreachable_is_reachable_again_when_the_citizen_writes(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="telegram", user_id="1", chat_id="1")
        assert uow.contacts.mark_unreachable("telegram", "1", NOW) == 1
        assert uow.contacts.for_citizen("a" * 64)[0].unreachable_at == NOW
        uow.contacts.upsert("a" * 64, "telegram", "1", "1")
        assert uow.contacts.for_citizen("a" * 64)[0].unreachable_at is None


def test_the_daily_outreach_count_restarts_on_a_new_day(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="telegram", user_id="1", chat_id="1")
        uow.citizens.count_outreach("a" * 64, "2026-12-05")
        uow.citizens.count_outreach("a" * 64, "2026-12-05")
    with database.engine.connect() as connection:
        row = connection.execute(select(Base.metadata.tables["citizens"])).one()
        assert (row.outreach_day, row.outreach_count) == ("2026-12-05", 2)
    with database.unit_of_work() as uow:
        uow.citizens.count_outreach("a" * 64, "2026-12-06")
    with database.engine.connect() as connection:
        row = connection.execute(select(Base.metadata.tables["citizens"])).one()
        assert (row.outreach_day, row.outreach_count) == ("2026-12-06", 1)


def test_follow_up_rows_are_held_released_stopped_and_sent(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="telegram", user_id="1", chat_id="1")
        held = uow.follow_ups.add("a" * 64, NOW, "survey_followup", {}, now=NOW, response_id="r-aaaaaaaa")
        solicited = uow.follow_ups.add("a" * 64, NOW, "receipt", {}, now=NOW, unsolicited=False)
        uow.follow_ups.hold(held, NOW)
        assert uow.follow_ups.release_held("a" * 64, NOW + timedelta(minutes=5)) == 1
        released = uow.follow_ups.get(held)
        assert released is not None and released.status == "pending" and released.due_at == NOW + timedelta(minutes=5)
        assert uow.follow_ups.cancel_unsolicited("a" * 64, "stopped", NOW) == 2, "the reminder and the follow-up"
        assert [f.id for f in uow.follow_ups.open_for("a" * 64)] == [solicited]
        uow.follow_ups.mark_queued(solicited, NOW)
        uow.follow_ups.mark_sent(solicited, NOW)
        sent = uow.follow_ups.get(solicited)
    assert sent is not None and (sent.status, sent.outcome, sent.sent_at) == ("done", "sent", NOW)


def test_a_campaign_invites_a_citizen_at_most_once(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    with database.engine.begin() as connection:
        campaign_id = connection.execute(
            Base.metadata.tables["campaigns"].insert().returning(Base.metadata.tables["campaigns"].c.id),
            {
                "name": "Mobilität", "survey_key": "mobility", "status": "running", "audience": {},
                "starts_at": NOW, "ends_at": NOW + timedelta(days=14), "created_at": NOW,
            },
        ).scalar_one()
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="telegram", user_id="1", chat_id="1")
        uow.follow_ups.add("a" * 64, NOW, "invitation", {}, now=NOW, campaign_id=campaign_id)
    with pytest.raises(IntegrityError), database.unit_of_work() as uow:
        uow.follow_ups.add("a" * 64, NOW, "invitation", {}, now=NOW, campaign_id=campaign_id)


def test_leaving_an_old_room_does_not_make_a_citizen_unreachable_in_the_current_one(database: Database) -> None:
    with database.unit_of_work() as uow:
        add_citizen(uow, "a" * 64, channel="matrix", user_id="@ana:example.org", chat_id="!new:example.org")
        assert uow.contacts.mark_unreachable_user("matrix", "@ana:example.org", NOW, chat_id="!old:example.org") == 0
        assert uow.contacts.for_citizen("a" * 64)[0].unreachable_at is None
        assert uow.contacts.mark_unreachable_user("matrix", "@ana:example.org", NOW, chat_id="!new:example.org") == 1
        assert uow.contacts.for_citizen("a" * 64)[0].unreachable_at == NOW
