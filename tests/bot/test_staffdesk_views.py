"""What staff and analysts see in the chat: live campaign figures, launch/close previews, new ideas, own ideas —
and the desk that answers their requests (role checked again, audit log, redaction on Telegram)."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.analytics.pseudonyms import idea_pseudonym
from bot.app import field_infos
from bot.campaigns import cli, service
from bot.campaigns.audience import staff_citizens
from bot.campaigns.service import CampaignSpec
from bot.config import Config
from bot.identity import pseudonym
from bot.staffdesk import roles, views
from bot.staffdesk.desk import Sender, StaffDesk
from bot.storage import models as m
from bot.storage.db import Database
from bot.storage.repositories.campaigns import DRAFT, SCHEDULED
from bot.survey_sync import import_surveys, load_catalog
from handlers.events import IDEA_STATUS_KIND, CitizenState, StaffRequest
from handlers.texts import load_texts
from tests.bot.campaign_helpers import NOW, STAFF_USER, SURVEY, add_citizen, campaign_config, tick

FIELDS = [f.key for f in field_infos()]
ANALYST = "@ana:example.org"
QUESTIONS = ["bezirk", "unterwegs", "oepnv_zufrieden", "haltestelle_minuten", "mehr_rad", "rad_hindernis",
             "verbesserung"]  # mobilitaet-quartier in file order; mehr_rad = false jumps to verbesserung
COMPLETE_ROUTE = {"bezirk": "barmen", "unterwegs": ["bus"], "oepnv_zufrieden": 4, "haltestelle_minuten": 5,
                  "mehr_rad": False, "verbesserung": "Mehr Busse"}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return campaign_config(tmp_path, database_url,
                           STADTDIALOG_STAFF=f"telegram:{STAFF_USER}=staff,matrix:{ANALYST}=analyst")


@pytest.fixture
def db(database: Database, config: Config) -> Database:
    import_surveys(database, config.survey_dir, set(FIELDS), NOW)
    return database


def staff_of(db: Database, config: Config) -> set[str]:
    with db.unit_of_work(read_only=True) as uow:
        return staff_citizens(uow, config.staff, config.pseudonym_secret)


def draft(db: Database, **spec: Any) -> int:
    values: dict[str, Any] = {"survey_key": SURVEY, "starts_at": NOW, "ends_at": NOW + timedelta(days=14)}
    values.update(spec)
    with db.unit_of_work() as uow:
        campaign = service.create_campaign(uow, CampaignSpec(**values), load_catalog(db), FIELDS,
                                           NOW - timedelta(hours=1))
    return campaign.id


async def running(db: Database, config: Config) -> int:
    campaign_id = draft(db)
    with db.unit_of_work() as uow:
        service.launch_campaign(uow, campaign_id, load_catalog(db), NOW - timedelta(hours=1))
    await tick(db, config, NOW)
    return campaign_id


def respond(db: Database, response_id: str, citizen: str, campaign_id: int | None, answers: dict[str, Any], *,
            minutes: float | None = None, started: datetime = NOW) -> None:
    """A response of the campaign with `answers` (given in the order they were answered); completed after
    `minutes` if given."""
    with db.unit_of_work() as uow:
        uow.responses.start(response_id, citizen, SURVEY, 1, started, campaign_id=campaign_id)
        for offset, (question, value) in enumerate(answers.items()):
            uow.responses.save_answer(response_id, question, value, started + timedelta(seconds=offset))
        if minutes is not None:
            uow.responses.complete(response_id, started + timedelta(minutes=minutes))


def figures(db: Database, config: Config, campaign_id: int, now: datetime = NOW) -> Any:
    staff = staff_of(db, config)
    with db.unit_of_work(read_only=True) as uow:
        return views.campaign_figures(uow, campaign_id, load_catalog(db), staff, now)


def idea(db: Database, idea_id: str, citizen: str, text: str, field: str | None, at: datetime) -> None:
    with db.unit_of_work() as uow:
        uow.ideas.add(idea_id, citizen, text, field, at)


# --- roles -------------------------------------------------------------------------------------------------------


def test_role_of_reads_the_allowlist_and_knows_nobody_else(config: Config) -> None:
    assert roles.role_of(config.staff, "telegram", STAFF_USER) == "staff"
    assert roles.role_of(config.staff, "matrix", ANALYST) == "analyst"
    assert roles.role_of(config.staff, "matrix", STAFF_USER) is None
    assert roles.role_of(config.staff, "telegram", "12345") is None
    assert "telegram" not in roles.FULL_TEXT_CHANNELS and {"matrix", "terminal"} <= roles.FULL_TEXT_CHANNELS


def test_staff_citizens_are_the_allowlist_pseudonyms_and_owners_of_staff_contacts(db: Database,
                                                                                 config: Config) -> None:
    citizen = add_citizen(db, config, "1")
    linked = add_citizen(db, config, "2")
    with db.unit_of_work() as uow:  # the analyst's Matrix account belongs to citizen 2
        uow.contacts.upsert(linked, "matrix", ANALYST, "!room:example.org")
    secret = config.pseudonym_secret
    found = staff_of(db, config)
    assert found == {pseudonym(secret, "telegram", STAFF_USER), pseudonym(secret, "matrix", ANALYST), linked}
    assert citizen not in found


# --- live figures --------------------------------------------------------------------------------------------------


async def test_figures_change_as_responses_arrive_and_never_count_staff(db: Database, config: Config) -> None:
    first, second = add_citizen(db, config, "1"), add_citizen(db, config, "2")
    staff = add_citizen(db, config, STAFF_USER)  # answered through a test invitation
    campaign_id = await running(db, config)
    before = figures(db, config, campaign_id)
    assert (before.line.status, before.line.invited, before.line.started, before.line.completed) == ("running", 2, 0, 0)
    assert (before.completion_rate, before.median_minutes) == (None, None)

    respond(db, "r1", first, campaign_id, COMPLETE_ROUTE, minutes=10)
    respond(db, "r2", second, campaign_id, {"bezirk": "barmen"})
    respond(db, "rs", staff, campaign_id, COMPLETE_ROUTE, minutes=1)
    middle = figures(db, config, campaign_id)
    assert (middle.line.started, middle.line.completed, middle.completion_rate) == (2, 1, 0.5)
    assert middle.median_minutes == pytest.approx(10)

    with db.unit_of_work() as uow:
        for question, value in list(COMPLETE_ROUTE.items())[1:]:
            uow.responses.save_answer("r2", question, value, NOW + timedelta(minutes=5))
        uow.responses.complete("r2", NOW + timedelta(minutes=25))
    after = figures(db, config, campaign_id)
    assert (after.line.started, after.line.completed, after.completion_rate) == (2, 2, 1.0)
    assert after.median_minutes == pytest.approx(17.5)  # (10 + 25) / 2; staff's 1 minute left out
    assert all(q.reached <= 2 for q in after.drop_off)


async def test_median_is_the_middle_completion_time_of_the_campaign_only(db: Database, config: Config) -> None:
    citizens = [add_citizen(db, config, str(n)) for n in range(5)]
    campaign_id = await running(db, config)
    for n, minutes in enumerate([30, 4, 10]):
        respond(db, f"r{n}", citizens[n], campaign_id, COMPLETE_ROUTE, minutes=minutes,
                started=NOW + timedelta(hours=n))
    respond(db, "elsewhere", citizens[3], None, COMPLETE_ROUTE, minutes=1)  # not through the campaign
    respond(db, "open", citizens[4], campaign_id, {"bezirk": "barmen"})
    assert figures(db, config, campaign_id).median_minutes == pytest.approx(10)
    respond(db, "r3", add_citizen(db, config, "late"), campaign_id, COMPLETE_ROUTE, minutes=90, started=NOW)
    assert figures(db, config, campaign_id).median_minutes == pytest.approx(20)  # (10 + 30) / 2


async def test_drop_off_follows_the_survey_order_on_a_branching_survey(db: Database, config: Config) -> None:
    done, early, cyclist, walker, outsider = (add_citizen(db, config, str(n)) for n in range(5))
    staff = add_citizen(db, config, STAFF_USER)
    campaign_id = await running(db, config)
    respond(db, "done", done, campaign_id, COMPLETE_ROUTE, minutes=3)  # mehr_rad false: rad_hindernis skipped
    respond(db, "early", early, campaign_id, {"bezirk": "barmen", "unterwegs": ["rad"]})
    respond(db, "cyclist", cyclist, campaign_id, {"bezirk": "barmen", "unterwegs": ["rad"], "oepnv_zufrieden": 2,
                                                  "haltestelle_minuten": 3, "mehr_rad": True,
                                                  "rad_hindernis": "steigung"})
    # answered up to mehr_rad, then went back and changed bezirk: the last answer in time is not the furthest
    respond(db, "walker", walker, campaign_id, {"unterwegs": ["fuss"], "oepnv_zufrieden": 3,
                                                "haltestelle_minuten": 8, "mehr_rad": False, "bezirk": "ronsdorf"})
    respond(db, "staff", staff, campaign_id, {"bezirk": "barmen"})
    respond(db, "outside", outsider, None, {"bezirk": "barmen"})
    drop_off = figures(db, config, campaign_id).drop_off
    assert [q.question_id for q in drop_off] == QUESTIONS
    assert {q.question_id: q.reached for q in drop_off} == {
        "bezirk": 4, "unterwegs": 4, "oepnv_zufrieden": 3, "haltestelle_minuten": 3, "mehr_rad": 3,
        "rad_hindernis": 1, "verbesserung": 1,
    }
    assert {q.question_id: q.stopped_here for q in drop_off if q.stopped_here} == {
        "unterwegs": 1, "mehr_rad": 1, "rad_hindernis": 1,
    }
    assert drop_off[0].text["de"] == "In welchem Stadtbezirk wohnen Sie?"


async def test_ideas_per_field_counts_ideas_filed_while_the_campaign_ran(db: Database, config: Config) -> None:
    citizen = add_citizen(db, config, "1")
    staff = add_citizen(db, config, STAFF_USER)
    campaign_id = await running(db, config)
    idea(db, "before", citizen, "Vorher", "mobilitaet", NOW - timedelta(minutes=1))
    idea(db, "a", citizen, "Radweg", "mobilitaet", NOW + timedelta(hours=1))
    idea(db, "b", citizen, "Bank", "umwelt", NOW + timedelta(hours=2))
    idea(db, "c", citizen, "Ohne Feld", None, NOW + timedelta(hours=3))
    idea(db, "s", staff, "Staff-Test", "mobilitaet", NOW + timedelta(hours=1))
    idea(db, "later", citizen, "Später", "mobilitaet", NOW + timedelta(days=2))
    assert figures(db, config, campaign_id, NOW + timedelta(days=1)).ideas_per_field == {
        "mobilitaet": 1, "umwelt": 1, "": 1,
    }
    with db.unit_of_work() as uow:
        service.close_campaign(uow, campaign_id, NOW + timedelta(hours=2, minutes=30))
    closed = figures(db, config, campaign_id, NOW + timedelta(days=3))
    assert closed.ideas_per_field == {"mobilitaet": 1, "umwelt": 1}  # until the close, not now
    assert closed.line.status == "closed"


async def test_campaign_list_orders_running_scheduled_drafts_then_recently_ended(db: Database,
                                                                                config: Config) -> None:
    add_citizen(db, config, "1")
    live = await running(db, config)
    first_draft, second_draft = draft(db), draft(db)
    scheduled = draft(db)
    with db.unit_of_work() as uow:
        service.launch_campaign(uow, scheduled, load_catalog(db), NOW)
    ended = []
    for hours in range(6):
        campaign_id = draft(db)
        with db.unit_of_work() as uow:
            service.cancel_campaign(uow, campaign_id, NOW + timedelta(hours=hours))
        ended.append(campaign_id)
    with db.unit_of_work(read_only=True) as uow:
        lines = views.campaign_lines(uow, set(), NOW)
    assert [line.id for line in lines] == [live, scheduled, second_draft, first_draft, *reversed(ended[1:])]
    assert lines[0].invited == 1


# --- previews ------------------------------------------------------------------------------------------------------


def preview(db: Database, config: Config, campaign_id: int, action: Any, now: datetime = NOW) -> Any:
    with db.unit_of_work(read_only=True) as uow:
        return views.campaign_preview(uow, campaign_id, action, load_catalog(db),
                                      consent_version=config.consent_version, staff=config.staff,
                                      secret=config.pseudonym_secret, now=now)


async def test_preview_names_why_a_launch_or_close_cannot_happen(db: Database, config: Config) -> None:
    add_citizen(db, config, "1")
    add_citizen(db, config, "2", channel="matrix", language="en")
    live = await running(db, config)
    fresh = draft(db)
    assert preview(db, config, 999, "launch") is None
    assert preview(db, config, fresh, "launch").problem is None
    assert preview(db, config, live, "launch").problem == "not_draft"
    assert preview(db, config, fresh, "launch", NOW + timedelta(days=15)).problem == "ended"
    assert preview(db, config, fresh, "close").problem == "not_running"
    close = preview(db, config, live, "close")
    assert (close.problem, close.pending, close.line.invited) == (None, 2, 2)
    with db.unit_of_work() as uow:
        uow.session.execute(update(m.FollowUp).where(m.FollowUp.campaign_id == live).values(status="done"))
    assert preview(db, config, live, "close").pending == 0
    scheduled = draft(db)
    with db.unit_of_work() as uow:
        service.launch_campaign(uow, scheduled, load_catalog(db), NOW)
    assert preview(db, config, scheduled, "close").problem == "scheduled"
    with db.unit_of_work() as uow:
        service.close_campaign(uow, live, NOW)
    assert preview(db, config, live, "close").problem == "not_running"

    with db.unit_of_work() as uow:
        uow.session.execute(update(m.Survey).where(m.Survey.key == SURVEY).values(active=False))
    assert preview(db, config, fresh, "launch").problem == "survey_gone"  # its file left the survey folder
    with db.unit_of_work() as uow:
        uow.session.execute(update(m.Survey).where(m.Survey.key == SURVEY).values(active=True))
        service.close_survey(uow, SURVEY, NOW)
    assert preview(db, config, fresh, "launch").problem == "survey_closed"


def test_launch_preview_audience_is_the_cli_dry_run_audience(db: Database, config: Config,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for user in ("1", "2", "3"):
        add_citizen(db, config, user)
    add_citizen(db, config, "4", language="en")
    add_citizen(db, config, "5", channel="matrix")
    add_citizen(db, config, "6", channel="matrix", language="en", fields=("mobilitaet",))
    add_citizen(db, config, "7", fields=("umwelt",))  # other field: not invited
    add_citizen(db, config, "8", opted_in=False)
    add_citizen(db, config, "9", consent="1")
    add_citizen(db, config, "10", unreachable=True)
    add_citizen(db, config, STAFF_USER)
    campaign_id = draft(db)
    args = argparse.Namespace(command="campaign", campaign_command="launch", id=campaign_id, dry_run=True)
    assert cli.run(config, db, args) == 0
    printed = capsys.readouterr().out
    total = int(re.search(r"audience: (\d+) citizens", printed).group(1))  # type: ignore[union-attr]
    by_channel: dict[str, int] = {}
    by_language: dict[str, int] = {}
    for channel, language, count in re.findall(r"^  (telegram|matrix|terminal)\s+(\w+)\s+(\d+)$", printed, re.M):
        by_channel[channel] = by_channel.get(channel, 0) + int(count)
        by_language[language] = by_language.get(language, 0) + int(count)

    shown = preview(db, config, campaign_id, "launch")
    assert (shown.problem, shown.audience, dict(shown.by_channel), dict(shown.by_language)) == (
        None, total, by_channel, by_language)
    assert (total, by_channel, by_language) == (6, {"telegram": 4, "matrix": 2}, {"de": 4, "en": 2})


# --- ideas ---------------------------------------------------------------------------------------------------------

PRIVATE = ("Bitte melden Sie sich unter anna.schmidt@example.org oder 0202 5631234. " + "Mehr Bänke am Markt. " * 20)


def test_shown_text_redacts_and_shortens_outside_full_text_channels() -> None:
    text, redacted = views.shown_text(PRIVATE, full=False)
    assert redacted and len(text) <= views.TELEGRAM_TEXT_LIMIT and text.endswith("…")
    assert "anna.schmidt" not in text and "5631234" not in text and "[EMAIL]" in text and "[TELEFON]" in text
    assert views.shown_text(PRIVATE, full=True) == (PRIVATE, False)
    assert views.shown_text("Kurz.", full=False) == ("Kurz.", True)


def test_new_ideas_lists_every_field_with_the_latest_first_and_no_staff_ideas(db: Database,
                                                                             config: Config) -> None:
    citizen = add_citizen(db, config, "1")
    staff = add_citizen(db, config, STAFF_USER)
    for n in range(5):
        idea(db, f"m{n}", citizen, f"Mobilität {n}", "mobilitaet", NOW + timedelta(minutes=n))
    idea(db, "u", citizen, PRIVATE, "umwelt", NOW)
    idea(db, "none", citizen, "Ohne Feld", None, NOW)
    idea(db, "s", staff, "Staff", "mobilitaet", NOW + timedelta(hours=1))
    secret = config.pseudonym_secret
    with db.unit_of_work(read_only=True) as uow:
        listing = views.new_ideas(uow, FIELDS, per_field=3, full_text=False, secret=secret,
                                  staff_citizens=staff_of(db, config))
        full = views.new_ideas(uow, FIELDS, per_field=10, full_text=True, secret=secret,
                               staff_citizens=staff_of(db, config), only_field="umwelt")
        one = views.idea_item(uow, "u", full_text=False, secret=secret)
        missing = views.idea_item(uow, "gone", full_text=True, secret=secret)
    assert [f.field for f in listing.fields] == [*FIELDS, ""] and listing.redacted
    by_field = {f.field: f for f in listing.fields}
    assert [i.idea_id for i in by_field["mobilitaet"].latest] == ["m4", "m3", "m2"]
    assert by_field["mobilitaet"].total == 5  # staff's idea not among them
    assert (by_field[""].total, by_field["umwelt"].total) == (1, 1)
    assert all(f.total == 0 and not f.latest for f in listing.fields if f.field not in ("mobilitaet", "umwelt", ""))
    item = by_field["umwelt"].latest[0]
    assert item.ref == idea_pseudonym(secret, "u") and item.redacted and "@" not in item.text
    assert len(item.text) <= views.TELEGRAM_TEXT_LIMIT and item.status == "new"
    assert [f.field for f in full.fields] == ["umwelt"] and full.fields[0].latest[0].text == PRIVATE
    assert one == item and missing is None


def test_my_ideas_shows_own_ideas_newest_first_with_status_unredacted(db: Database, config: Config) -> None:
    citizen, other = add_citizen(db, config, "1"), add_citizen(db, config, "2")
    idea(db, "old", citizen, PRIVATE, "umwelt", NOW)
    idea(db, "new", citizen, "Neue Idee", None, NOW + timedelta(days=1))
    idea(db, "theirs", other, "Fremd", None, NOW + timedelta(days=2))
    with db.unit_of_work() as uow:
        uow.session.execute(update(m.Idea).where(m.Idea.id == "old").values(
            status="planned", status_note="Kommt 2027", status_note_en="Coming 2027", status_at=NOW))
    with db.unit_of_work(read_only=True) as uow:
        mine = views.my_ideas(uow, citizen)
    assert len(mine) == 2 and mine[0].text == "Neue Idee"
    old = mine[1]
    assert len(old.text) == views.MY_IDEA_LIMIT and old.text.endswith("…")
    assert "anna.schmidt@example.org" in old.text  # their own text, not redacted
    assert (old.status, old.status_note, old.status_note_en, old.status_at, old.fields) == (
        "planned", "Kommt 2027", "Coming 2027", NOW, ("umwelt",))


# --- the desk: the runtime's side of staff requests (bot/staffdesk/desk.py) -------------------------------------

STAFF = Sender("telegram", STAFF_USER, "de")
ANALYST_SENDER = Sender("matrix", ANALYST, "de", encrypted=True)
TEXT = "Mehr Bänke an der Nordbahntrasse. Meldet euch: anna.muster@example.org oder 0202 5631234. " + "Bitte! " * 40


def desk(db: Database, config: Config) -> StaffDesk:
    return StaffDesk(config, load_texts(), field_infos(), lambda: load_catalog(db))


def ask(db: Database, config: Config, request: StaffRequest, sender: Sender) -> list[str]:
    with db.unit_of_work() as uow:
        return [message.text for message in desk(db, config).handle(uow, request, sender, NOW)]


def audit_rows(db: Database) -> list[tuple[str, str, str, str, str | None]]:
    with db.unit_of_work(read_only=True) as uow:
        return [(e.actor, e.role, e.action, e.outcome, e.target) for e in uow.audit.between()]


def author(db: Database) -> str:
    citizen = pseudonym(b"x" * 32, "telegram", "4711")
    with db.unit_of_work() as uow:
        uow.citizens.save_state(citizen, CitizenState(), NOW)
        uow.ideas.add("a" * 32, citizen, TEXT, "leben", NOW - timedelta(days=3))
    return citizen


def test_an_analyst_is_refused_every_change_and_each_refusal_is_logged(db: Database, config: Config) -> None:
    campaign_id = draft(db)
    author(db)
    needs = load_texts().get("staff.needs_staff", "de")
    for request in (StaffRequest("launch_preview", str(campaign_id)), StaffRequest("launch", str(campaign_id)),
                    StaffRequest("idea_status", "a" * 32, status="done", note="Fertig")):  # fmt: skip
        assert ask(db, config, request, ANALYST_SENDER) == [needs]
    with db.unit_of_work(read_only=True) as uow:
        assert uow.campaigns.get(campaign_id).status == DRAFT  # type: ignore[union-attr]
        assert uow.ideas.get("a" * 32).status == "new"  # type: ignore[union-attr]
    rows = audit_rows(db)
    assert [(r[2], r[3]) for r in rows] == [("launch_preview", "refused"), ("launch", "refused"),
                                            ("idea_status", "refused")]  # fmt: skip
    assert all(r[0] == f"matrix:{ANALYST}" and r[1] == "analyst" for r in rows)
    assert rows[2][4] == idea_pseudonym(config.pseudonym_secret, "a" * 32)  # the reference, not the internal id


def test_staff_launch_and_status_change_act_and_are_logged_with_the_idea_reference(
    db: Database, config: Config
) -> None:
    campaign_id = draft(db)
    citizen = author(db)
    assert "gestartet" in ask(db, config, StaffRequest("launch", str(campaign_id)), STAFF)[0]
    saved = ask(db, config, StaffRequest("idea_status", "a" * 32, status="planned", note="Kommt im Mai."), STAFF)
    assert "wird umgesetzt" in saved[0]
    with db.unit_of_work(read_only=True) as uow:
        assert uow.campaigns.get(campaign_id).status == SCHEDULED  # type: ignore[union-attr]
        assert uow.ideas.get("a" * 32).status == "planned"  # type: ignore[union-attr]
        news = uow.session.execute(
            select(m.FollowUp.payload).where(m.FollowUp.citizen_id == citizen, m.FollowUp.kind == IDEA_STATUS_KIND)
        ).scalars().all()
    rows = audit_rows(db)
    assert [(r[2], r[3]) for r in rows] == [("launch", "ok"), ("idea_status", "ok")]
    assert rows[1][4] is not None and rows[1][4].startswith("i_")  # the reference, never the internal id
    assert [(row["status"], row["note"]) for row in news] == [("planned", "Kommt im Mai.")]


def test_idea_texts_are_redacted_and_short_on_telegram_and_whole_on_matrix(db: Database, config: Config) -> None:
    author(db)
    (telegram,) = ask(db, config, StaffRequest("idea", "a" * 32), STAFF)
    assert "anna.muster@example.org" not in telegram and "5631234" not in telegram
    assert "[EMAIL]" in telegram and "[TELEFON]" in telegram
    quoted = telegram.split("„", 1)[1].split("“", 1)[0]
    assert len(quoted) <= 200
    (matrix,) = ask(db, config, StaffRequest("idea", "a" * 32), ANALYST_SENDER)
    assert "anna.muster@example.org" in matrix and " ".join(TEXT.split()) in matrix
    (unencrypted,) = ask(db, config, StaffRequest("idea", "a" * 32), Sender("matrix", ANALYST, "de", False))
    assert "[EMAIL]" in unencrypted and "anna.muster@example.org" not in unencrypted


def test_someone_off_the_allowlist_gets_nothing_and_an_unknown_reference_is_said_plainly(
    db: Database, config: Config
) -> None:
    author(db)
    assert ask(db, config, StaffRequest("campaigns"), Sender("telegram", "999", "de")) == []
    (missing,) = ask(db, config, StaffRequest("idea", "i_ffffffffffff"), STAFF)
    assert "i_ffffffffffff" in missing
    assert [(r[2], r[3]) for r in audit_rows(db)] == [("idea", "not_found")]



def test_a_kept_idea_whose_author_deleted_their_data_is_still_listed(db: Database, config: Config) -> None:
    citizen = add_citizen(db, config, "1")
    add_citizen(db, config, STAFF_USER)
    idea(db, "kept", citizen, "Mehr Bänke am Ölberg", "mobilitaet", NOW)
    idea(db, "other", citizen, "Radweg", "mobilitaet", NOW + timedelta(minutes=1))
    with db.unit_of_work() as uow:  # what /loeschen leaves of a supported "Ja, dauerhaft" idea
        uow.session.execute(update(m.Idea).where(m.Idea.id == "kept").values(citizen_id=None))
    with db.unit_of_work(read_only=True) as uow:
        listing = views.new_ideas(uow, FIELDS, per_field=5, full_text=True, secret=config.pseudonym_secret,
                                  staff_citizens=staff_of(db, config))
    by_field = {f.field: f for f in listing.fields}
    assert by_field["mobilitaet"].total == 2
    assert {i.idea_id for i in by_field["mobilitaet"].latest} == {"kept", "other"}
