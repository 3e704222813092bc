"""Setting an idea's status: validation, the stored note and history, the author's news row, and privacy
(export and erasure) — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.analytics.pseudonyms import idea_pseudonym
from bot.staffdesk import audit
from bot.staffdesk.idea_status import (
    NOTE_MAX,
    IdeaStatusError,
    StatusChange,
    parse_status,
    resolve_idea,
    set_idea_status,
)
from bot.storage import models as m
from bot.storage.db import Database, UnitOfWork
from bot.storage.items import FOLLOW_UP_CANCELLED, FOLLOW_UP_PENDING, OUTCOME_SUPERSEDED
from handlers.events import IDEA_STATUS_KIND

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SECRET = b"idea-status-test-secret-0123"
LONG_TEXT = "Bitte mehr Sitzbänke am Döppersberg aufstellen, damit ältere Menschen beim Warten auf den Bus " * 2


def add_author(uow: UnitOfWork, citizen_id: str = "c_author", idea_id: str = "idea-1", text: str = LONG_TEXT,
               filed: datetime = NOW) -> None:
    if not uow.citizens.exists(citizen_id):
        from handlers.events import CitizenState

        uow.citizens.save_state(citizen_id, CitizenState(language="de", language_chosen=True, consent_version="2",
                                                         consent_at=filed, flow="idle", data={}), filed)
        uow.contacts.upsert(citizen_id, "telegram", f"user-{citizen_id}", f"chat-{citizen_id}")
    uow.ideas.add(idea_id, citizen_id, text, "mobilitaet", filed)


def change(db: Database, status: str, note: str | None = None, note_en: str | None = None, *,
           idea_id: str = "idea-1", at: datetime = NOW) -> StatusChange:
    with db.unit_of_work() as uow:
        return set_idea_status(uow, idea_id, status, note, note_en, now=at, source="cli", secret=SECRET)


def news_rows(db: Database) -> list[m.FollowUp]:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(m.FollowUp).where(m.FollowUp.kind == IDEA_STATUS_KIND).order_by(m.FollowUp.id)
        ).scalars().all()
        uow.session.expunge_all()
        return list(rows)


@pytest.fixture
def db(database: Database) -> Database:
    with database.unit_of_work() as uow:
        add_author(uow)
    return database


@pytest.mark.parametrize(("text", "code"), [
    ("new", "new"), ("Eingegangen", "new"), ("REVIEW", "review"), ("in Prüfung", "review"),
    ("in-pruefung", "review"), ("in_prufung", "review"), ("  In   PRÜFUNG ", "review"), ("wird umgesetzt", "planned"),
    ("wird-umgesetzt", "planned"), ("planned", "planned"), ("umgesetzt", "done"), ("done", "done"),
    ("nicht umsetzbar", "rejected"), ("nicht-umsetzbar", "rejected"), ("rejected", "rejected"),
])
def test_staff_may_name_a_status_by_code_or_german_name(text: str, code: str) -> None:
    assert parse_status(text) == code


@pytest.mark.parametrize("text", ["", "prüfung", "umsetzbar", "erledigt", "in prüfung!"])
def test_an_unknown_status_name_is_refused_with_the_known_ones(text: str) -> None:
    with pytest.raises(IdeaStatusError) as error:
        parse_status(text)
    assert error.value.code == "unknown_status" and "nicht umsetzbar" in str(error.value)


def test_a_status_change_stores_the_note_and_history_and_writes_the_authors_news_row(db: Database) -> None:
    result = change(db, "review", "  Wir prüfen das mit dem Tiefbauamt. ", "We are checking with the road office.")
    assert result == StatusChange("idea-1", idea_pseudonym(SECRET, "idea-1"), "new", "review",
                                  "Wir prüfen das mit dem Tiefbauamt.", "We are checking with the road office.", NOW)
    with db.unit_of_work() as uow:
        idea = uow.ideas.get("idea-1")
        history = uow.ideas.history("idea-1")
    assert idea is not None and idea.status == "review" and idea.status_at == NOW
    assert idea.status_note == "Wir prüfen das mit dem Tiefbauamt."
    assert [(h.status, h.note, h.source, h.changed_at) for h in history] == [
        ("review", "Wir prüfen das mit dem Tiefbauamt.", "cli", NOW)]
    [row] = news_rows(db)
    assert (row.citizen_id, row.status, row.due_at, row.unsolicited) == ("c_author", FOLLOW_UP_PENDING, NOW, True)
    assert row.payload == {
        "idea_id": "idea-1", "status": "review", "note": "Wir prüfen das mit dem Tiefbauamt.",
        "note_en": "We are checking with the road office.", "excerpt": LONG_TEXT[:79].rstrip() + "…",
        "filed_at": NOW.isoformat(),
    }
    assert len(row.payload["excerpt"]) <= 80


def test_a_newer_status_supersedes_only_the_unsent_news_of_the_same_idea(db: Database) -> None:
    with db.unit_of_work() as uow:
        add_author(uow, idea_id="idea-2", text="Radweg an der B7")
    change(db, "review", "Prüfen wir.")
    change(db, "review", "Auch das prüfen wir.", idea_id="idea-2")
    change(db, "planned", "Kommt 2027.", at=NOW + timedelta(days=3))
    rows = news_rows(db)
    assert [(r.payload["idea_id"], r.payload["status"], r.status, r.outcome) for r in rows] == [
        ("idea-1", "review", FOLLOW_UP_CANCELLED, OUTCOME_SUPERSEDED),
        ("idea-2", "review", FOLLOW_UP_PENDING, None),
        ("idea-1", "planned", FOLLOW_UP_PENDING, None),
    ]


def test_news_already_on_its_way_is_not_superseded(db: Database) -> None:
    change(db, "review", "Prüfen wir.")
    [first] = news_rows(db)
    with db.unit_of_work() as uow:
        uow.follow_ups.mark_queued(first.id, NOW)
    change(db, "done", "Die Bänke stehen.", at=NOW + timedelta(days=30))
    assert [(r.payload["status"], r.status) for r in news_rows(db)] == [("review", "queued"), ("done", "pending")]


@pytest.mark.parametrize(("status", "note", "code"), [
    ("rejected", None, "note_required"),
    ("rejected", "   \n ", "note_required"),
    ("review", "x" * (NOTE_MAX + 1), "note_too_long"),
    ("nonsense", "Notiz", "unknown_status"),
])
def test_an_invalid_change_is_refused_and_writes_nothing(db: Database, status: str, note: str | None,
                                                         code: str) -> None:
    with pytest.raises(IdeaStatusError) as error:
        change(db, status, note)
    assert error.value.code == code
    with db.unit_of_work() as uow:
        idea = uow.ideas.get("idea-1")
        assert idea is not None and idea.status == "new" and idea.status_at is None
        assert uow.ideas.history("idea-1") == []
    assert news_rows(db) == []


def test_an_english_note_over_the_limit_is_refused_and_one_at_the_limit_is_fine(db: Database) -> None:
    with pytest.raises(IdeaStatusError) as error:
        change(db, "review", "Prüfen wir.", "y" * (NOTE_MAX + 1))
    assert error.value.code == "note_too_long" and "English" in str(error.value)
    assert change(db, "rejected", "x" * NOTE_MAX).note == "x" * NOTE_MAX


def test_the_same_status_with_the_same_note_is_unchanged_but_a_new_note_is_news(db: Database) -> None:
    change(db, "review", "Prüfen wir.")
    with pytest.raises(IdeaStatusError) as error:
        change(db, "review", " Prüfen wir. ")
    assert error.value.code == "unchanged"
    change(db, "review", "Prüfen wir, Ergebnis im März.")
    assert len(news_rows(db)) == 2
    with pytest.raises(IdeaStatusError) as english:
        change(db, "review", "Prüfen wir, Ergebnis im März.", "")
    assert english.value.code == "unchanged", "an empty English note is no note"


def test_an_unknown_idea_is_refused(db: Database) -> None:
    with pytest.raises(IdeaStatusError) as error:
        change(db, "review", "x", idea_id="idea-404")
    assert error.value.code == "unknown_idea"


def test_an_idea_is_found_by_its_reference_a_prefix_of_it_or_its_internal_id(db: Database) -> None:
    ref = idea_pseudonym(SECRET, "idea-1")
    with db.unit_of_work() as uow:
        add_author(uow, idea_id="idea-2", text="Radweg")
        assert resolve_idea(uow, ref, SECRET) == "idea-1"
        assert resolve_idea(uow, f" {ref.upper().replace('I_', 'i_')} ", SECRET) == "idea-1"
        assert resolve_idea(uow, ref[:8], SECRET) == "idea-1"
        assert resolve_idea(uow, "idea-2", SECRET) == "idea-2"
        for wrong, code in ((ref[:7], "ambiguous"), ("i_" + "0" * 16, "unknown_idea"), ("idea-9", "unknown_idea"),
                            ("", "unknown_idea")):
            with pytest.raises(IdeaStatusError) as error:
                resolve_idea(uow, wrong, SECRET)
            assert error.value.code == code, wrong


def test_a_prefix_shared_by_two_ideas_is_ambiguous(database: Database) -> None:
    seen: dict[str, str] = {}
    for number in itertools.count():  # two ids whose references share 6 hex digits (birthday bound: ~5,000)
        idea_id = f"idea-{number}"
        prefix = idea_pseudonym(SECRET, idea_id)[:8]
        if prefix in seen:
            break
        seen[prefix] = idea_id
    with database.unit_of_work() as uow:
        add_author(uow, idea_id=seen[prefix])
        add_author(uow, idea_id=idea_id)
        with pytest.raises(IdeaStatusError) as error:
            resolve_idea(uow, prefix, SECRET)
        assert error.value.code == "ambiguous"
        assert resolve_idea(uow, idea_pseudonym(SECRET, idea_id), SECRET) == idea_id


def test_the_authors_data_export_shows_status_note_and_history(db: Database) -> None:
    change(db, "review", "Prüfen wir.", "Checking.")
    change(db, "rejected", "Zu teuer.", at=NOW + timedelta(days=2))
    with db.unit_of_work() as uow:
        exported = uow.citizens.export("c_author")
    [idea] = exported["ideas"]
    assert (idea["status"], idea["status_note"], idea["status_note_en"]) == ("rejected", "Zu teuer.", None)
    assert idea["status_at"] == (NOW + timedelta(days=2)).isoformat()
    assert idea["idea_status_changes"] == [
        {"status": "review", "note": "Prüfen wir.", "note_en": "Checking.", "changed_at": NOW.isoformat(),
         "source": "cli"},
        {"status": "rejected", "note": "Zu teuer.", "note_en": None,
         "changed_at": (NOW + timedelta(days=2)).isoformat(), "source": "cli"},
    ]


def test_loeschen_deletes_the_status_history_but_not_the_staff_audit_log(db: Database) -> None:
    change(db, "review", "Prüfen wir.")
    change(db, "planned", "Kommt.")
    with db.unit_of_work() as uow:
        audit.record(uow, actor="cli:ana", role="cli", channel="cli", action="idea_status",
                     target=idea_pseudonym(SECRET, "idea-1"), outcome="ok", details={"to": "planned"}, now=NOW)
    with db.unit_of_work() as uow:
        counts = uow.citizens.delete_everything("c_author")
    assert counts["idea_status_changes"] == 2 and counts["ideas"] == 1
    with db.unit_of_work() as uow:
        for model in (m.IdeaStatusChange, m.Idea, m.FollowUp):
            assert uow.session.execute(select(func.count()).select_from(model)).scalar_one() == 0, model
        assert len(uow.audit.between()) == 1, "employees' log, not the citizen's data"


def test_deleting_an_idea_row_cascades_to_its_history(db: Database) -> None:
    """The foreign key's ON DELETE CASCADE holds on both databases (SQLite has foreign keys on)."""
    change(db, "review", "Prüfen wir.")
    with db.unit_of_work() as uow:
        uow.session.execute(delete(m.Idea).where(m.Idea.id == "idea-1"))
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(func.count()).select_from(m.IdeaStatusChange)).scalar_one() == 0
