"""Campaigns as staff run them: the status machine, who is in an audience, materialisation, reminders, closing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.app import field_infos
from bot.campaigns import service
from bot.campaigns.audience import audience
from bot.campaigns.service import CampaignError, CampaignSpec
from bot.campaigns.status import invitation_counts, progress, share
from bot.campaigns.tick import campaign_tick
from bot.config import Config
from bot.storage import models as m
from bot.storage.db import Database
from bot.survey_sync import import_surveys, load_catalog
from tests.bot.campaign_helpers import (
    NOW,
    STAFF_USER,
    SURVEY,
    add_citizen,
    campaign_config,
    rows,
    set_rows,
    settings,
    tick,
)

FIELDS = [f.key for f in field_infos()]


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return campaign_config(tmp_path, database_url)


GENERAL = "stadtteilfest"
"""A survey whose file names no strategy field: campaigns for it may name fields with --field."""


@pytest.fixture
def db(database: Database, config: Config, tmp_path: Path) -> Database:
    import_surveys(database, config.survey_dir, set(FIELDS), NOW)
    general = tmp_path / "allgemein"
    general.mkdir()
    source = (config.survey_dir / "klimaanpassung.yaml").read_text(encoding="utf-8")
    source = source.replace("id: klimaanpassung", f"id: {GENERAL}").replace("field: umwelt\n", "")
    (general / f"{GENERAL}.yaml").write_text(source, encoding="utf-8")
    assert import_surveys(database, general, set(FIELDS), NOW).imported == [(GENERAL, 1, True)]
    return database


def create(db: Database, **spec: Any) -> service.Campaign:
    values: dict[str, Any] = {"survey_key": SURVEY, "starts_at": NOW, "ends_at": NOW + timedelta(days=14)}
    values.update(spec)
    with db.unit_of_work() as uow:
        return service.create_campaign(uow, CampaignSpec(**values), load_catalog(db), FIELDS, NOW - timedelta(hours=1))


def launch(db: Database, campaign_id: int) -> service.Campaign:
    with db.unit_of_work() as uow:
        return service.launch_campaign(uow, campaign_id, load_catalog(db), NOW - timedelta(hours=1))


def members(db: Database, config: Config, campaign: service.Campaign) -> set[str]:
    with db.unit_of_work(read_only=True) as uow:
        found = audience(uow, campaign, load_catalog(db), consent_version=config.consent_version,
                         staff=config.staff, secret=config.pseudonym_secret)
    return {member.citizen_id for member in found}


# --- the status machine ------------------------------------------------------------------------------------------


async def test_campaign_goes_from_draft_to_scheduled_to_running_to_closed(db: Database, config: Config) -> None:
    add_citizen(db, config, "1")
    campaign = create(db, name="Mobilität Nord")
    assert (campaign.status, campaign.name, campaign.survey_version) == ("draft", "Mobilität Nord", None)
    scheduled = launch(db, campaign.id)
    assert (scheduled.status, scheduled.survey_version) == ("scheduled", 1)
    await tick(db, config, NOW - timedelta(minutes=1))
    with db.unit_of_work() as uow:
        assert uow.campaigns.get(campaign.id).status == "scheduled"  # not before its start
    await tick(db, config, NOW)
    with db.unit_of_work() as uow:
        running = uow.campaigns.get(campaign.id)
        assert running.status == "running" and running.launched_at == NOW
        closed, cancelled = service.close_campaign(uow, campaign.id, NOW + timedelta(days=1))
    assert closed.status == "closed" and cancelled == 1
    assert rows(db, campaign.id) == [(rows(db, campaign.id)[0][0], "cancelled", "closed")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"survey_key": "gibt-es-nicht"}, "unknown survey 'gibt-es-nicht'"),
        ({"survey_key": GENERAL, "fields": ["raumfahrt"]}, "unknown strategy field 'raumfahrt'"),
        ({"fields": ["umwelt"]}, "is about the strategy field 'mobilitaet'"),
        ({"channels": ["fax"]}, "unknown channel 'fax'"),
        ({"languages": ["fr"]}, "unknown language 'fr'"),
        ({"ends_at": NOW - timedelta(days=1)}, "the end must be after the start"),
        ({"remind_after_days": 20}, "would come after the end"),
        ({"remind_after_days": 0}, "at least 1"),
    ],
)
def test_create_explains_what_is_wrong(db: Database, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(CampaignError, match=message):
        create(db, **spec)


def test_a_closed_survey_cannot_get_a_campaign(db: Database) -> None:
    with db.unit_of_work() as uow:
        service.close_survey(uow, SURVEY, NOW)
    with pytest.raises(CampaignError, match="is closed; reopen it first"):
        create(db)


def test_invalid_transitions_are_refused_with_a_reason(db: Database) -> None:
    campaign = create(db)
    with db.unit_of_work() as uow, pytest.raises(CampaignError, match="only a running campaign can be closed"):
        service.close_campaign(uow, campaign.id, NOW)
    launch(db, campaign.id)
    with pytest.raises(CampaignError, match="only a draft can be launched"):
        launch(db, campaign.id)
    with db.unit_of_work() as uow, pytest.raises(CampaignError, match="has not started yet; cancel it"):
        service.close_campaign(uow, campaign.id, NOW)
    with db.unit_of_work() as uow:
        cancelled, _ = service.cancel_campaign(uow, campaign.id, NOW)
    assert cancelled.status == "cancelled"
    with db.unit_of_work() as uow, pytest.raises(CampaignError, match="already cancelled"):
        service.cancel_campaign(uow, campaign.id, NOW)
    with db.unit_of_work() as uow, pytest.raises(CampaignError, match="there is no campaign 999"):
        service.cancel_campaign(uow, 999, NOW)


# --- the audience ------------------------------------------------------------------------------------------------


def test_audience_has_only_opted_in_consented_reachable_citizens_and_never_staff(db: Database, config: Config) -> None:
    invited = {
        add_citizen(db, config, "1"),
        add_citizen(db, config, "2", fields=("mobilitaet",)),
        add_citizen(db, config, "@ana:example.org", channel="matrix", language="en"),
    }
    add_citizen(db, config, STAFF_USER)  # staff, though opted in and consented
    add_citizen(db, config, "3", consent=None)  # never consented
    add_citizen(db, config, "4", consent="1")  # consented to an outdated notice
    add_citizen(db, config, "5", unreachable=True)  # blocked the bot
    add_citizen(db, config, "6", opted_in=False)
    add_citizen(db, config, "7", withdrawn=True)  # opted in, then out again
    add_citizen(db, config, "8", fields=("umwelt",))  # only other strategy fields
    assert members(db, config, create(db)) == invited


def test_audience_filters_channel_language_and_field(db: Database, config: Config) -> None:
    all_fields = add_citizen(db, config, "1")
    climate = add_citizen(db, config, "2", fields=("umwelt",))
    english = add_citizen(db, config, "3", language="en", fields=("mobilitaet",))
    matrix = add_citizen(db, config, "@bo:example.org", channel="matrix")
    assert members(db, config, create(db, channels=["matrix"])) == {matrix}
    assert members(db, config, create(db, languages=["en"])) == {english}
    # the survey file's field decides: mobility subscribers, plus everyone subscribed to all surveys
    assert members(db, config, create(db)) == {all_fields, english, matrix}
    # a survey without a field reaches the subscribers of the --field values, plus everyone subscribed to all
    assert members(db, config, create(db, survey_key=GENERAL, fields=["umwelt"])) == {all_fields, climate, matrix}
    assert members(db, config, create(db, survey_key=GENERAL)) == {all_fields, matrix}


def test_citizens_who_completed_the_survey_are_not_invited_again(db: Database, config: Config) -> None:
    done = add_citizen(db, config, "1")
    other = add_citizen(db, config, "2")
    with db.unit_of_work() as uow:
        uow.responses.start("r1", done, SURVEY, 1, NOW)
        uow.responses.complete("r1", NOW)
    assert members(db, config, create(db)) == {other}


# --- materialisation ---------------------------------------------------------------------------------------------


async def test_materialisation_is_idempotent_and_resumes_after_a_kill(db: Database, config: Config) -> None:
    citizens = {add_citizen(db, config, str(n)) for n in range(7)}
    campaign = launch(db, create(db).id)
    calls = 0

    async def killed_after_two_batches(function: Any, *args: Any) -> Any:
        nonlocal calls
        if function.__name__ == "_write_batch":
            calls += 1
            if calls == 3:
                raise KeyboardInterrupt  # the process dies between two batches
        return function(*args)

    with pytest.raises(KeyboardInterrupt):
        await campaign_tick(killed_after_two_batches, db, load_catalog(db), settings(config), NOW, batch=3)
    assert len(rows(db, campaign.id)) == 6
    with db.unit_of_work() as uow:
        assert uow.campaigns.get(campaign.id).status == "scheduled"  # resumes on the next tick
    report = await tick(db, config, NOW + timedelta(seconds=5), batch=3)
    assert report.started == {campaign.id: 1}
    await tick(db, config, NOW + timedelta(seconds=10), batch=3)
    invitations = rows(db, campaign.id)
    assert sorted(citizen for citizen, _, _ in invitations) == sorted(citizens)  # each exactly once
    with db.unit_of_work() as uow:
        row = uow.session.execute(select(m.FollowUp).where(m.FollowUp.campaign_id == campaign.id).limit(1)).scalar_one()
        assert row.payload == {
            "campaign_id": campaign.id,
            "survey_key": SURVEY,
            "survey_version": 1,
            "ends_at": campaign.ends_at.isoformat(),
        }
        assert row.unsolicited is True and row.due_at == NOW and row.kind == "invitation"
        assert uow.campaigns.get(campaign.id).status == "running"


async def test_a_campaign_cancelled_while_materialising_stops_inviting(db: Database, config: Config) -> None:
    for n in range(6):
        add_citizen(db, config, str(n))
    campaign = launch(db, create(db).id)
    calls = 0

    async def cancel_midway(function: Any, *args: Any) -> Any:
        nonlocal calls
        if function.__name__ == "_write_batch":
            calls += 1
            if calls == 2:
                with db.unit_of_work() as uow:
                    service.cancel_campaign(uow, campaign.id, NOW)
        return function(*args)

    await campaign_tick(cancel_midway, db, load_catalog(db), settings(config), NOW, batch=2)
    assert {(status, outcome) for _, status, outcome in rows(db, campaign.id)} == {("cancelled", "cancelled")}
    with db.unit_of_work() as uow:
        assert uow.campaigns.get(campaign.id).status == "cancelled"


# --- reminders and the end ---------------------------------------------------------------------------------------


async def test_reminder_goes_once_to_invited_or_started_citizens_who_did_not_complete(
    db: Database, config: Config
) -> None:
    sent = add_citizen(db, config, "1")
    started = add_citizen(db, config, "2")
    completed = add_citizen(db, config, "3")
    not_sent = add_citizen(db, config, "4")
    unreachable = add_citizen(db, config, "5")
    staff = add_citizen(db, config, STAFF_USER)  # took the survey through a test invitation
    campaign = launch(db, create(db, remind_after_days=3).id)
    await tick(db, config, NOW)
    for citizen in (sent, started, completed):
        set_rows(db, campaign.id, citizen, status="done", outcome="sent", sent_at=NOW)
    set_rows(db, campaign.id, unreachable, status="skipped", outcome="unreachable")
    with db.unit_of_work() as uow:
        uow.responses.start("r2", started, SURVEY, 1, NOW)
        uow.responses.start("r3", completed, SURVEY, 1, NOW)
        uow.responses.complete("r3", NOW)
        uow.responses.start("r4", staff, SURVEY, 1, NOW)
        uow.session.execute(m.Response.__table__.update().values(campaign_id=campaign.id))
    assert (await tick(db, config, NOW + timedelta(days=2, hours=23))).reminded == {}
    report = await tick(db, config, NOW + timedelta(days=3))
    assert report.reminded == {campaign.id: 2}
    assert [citizen for citizen, _, _ in rows(db, campaign.id, "campaign_reminder")] == sorted([sent, started])
    assert (await tick(db, config, NOW + timedelta(days=4))).reminded == {}  # once
    assert not_sent not in {c for c, _, _ in rows(db, campaign.id, "campaign_reminder")}


async def test_the_end_time_closes_and_cancels_what_was_not_sent(db: Database, config: Config) -> None:
    first = add_citizen(db, config, "1")
    second = add_citizen(db, config, "2")
    campaign = launch(db, create(db).id)
    await tick(db, config, NOW)
    set_rows(db, campaign.id, first, status="done", outcome="sent")
    report = await tick(db, config, NOW + timedelta(days=14))
    assert report.closed == [campaign.id]
    assert rows(db, campaign.id) == sorted([(first, "done", "sent"), (second, "cancelled", "closed")])
    with db.unit_of_work() as uow:
        assert uow.campaigns.get(campaign.id).status == "closed"


def test_progress_counts_each_outcome_and_leaves_out_staff(db: Database, config: Config) -> None:
    campaign = launch(db, create(db).id)
    outcomes = [("done", "sent"), ("done", "sent"), ("skipped", "unreachable"), ("skipped", "no_opt_in"),
                ("pending", None), ("held", None), ("cancelled", "closed")]
    staff = add_citizen(db, config, STAFF_USER)
    citizens = [add_citizen(db, config, f"p{number}") for number in range(len(outcomes))]
    with db.unit_of_work() as uow:
        for citizen, (status, outcome) in zip(citizens, outcomes, strict=True):
            uow.session.execute(insert(m.FollowUp).values(
                citizen_id=citizen, due_at=NOW, kind="invitation", payload={}, status=status, attempts=0,
                created_at=NOW, campaign_id=campaign.id, unsolicited=True, outcome=outcome,
            ))
        uow.responses.start("staff-test", staff, SURVEY, 1, NOW)
        uow.session.execute(m.Response.__table__.update().values(campaign_id=campaign.id))
        figures = progress(uow, campaign, {staff})
    assert (figures.invited, figures.delivered, figures.unreachable, figures.skipped, figures.waiting,
            figures.cancelled, figures.started) == (7, 2, 1, 1, 2, 1, 0)
    assert share(2, 7) == "2 of 7"  # no percentage of a handful
    assert share(10, 40) == "10 of 40 (25 %)"


# --- test invitations ----------------------------------------------------------------------------------------------


def test_a_test_invitation_goes_only_to_staff_who_wrote_to_the_bot(db: Database, config: Config) -> None:
    campaign = create(db)

    def send(target: str) -> int:
        with db.unit_of_work() as uow:
            return service.send_test(uow, campaign.id, target, config.staff, config.consent_version,
                                     load_catalog(db), NOW)

    with pytest.raises(CampaignError, match="never wrote to the bot"):
        send(f"telegram:{STAFF_USER}")
    with pytest.raises(CampaignError, match="not in STADTDIALOG_STAFF"):
        send("telegram:1")
    add_citizen(db, config, STAFF_USER, opted_in=False)
    with pytest.raises(CampaignError, match="write /abo to the bot"):  # the core would skip it
        send(f"telegram:{STAFF_USER}")
    staff = add_citizen(db, config, STAFF_USER, opted_in=True)
    row_id = send(f"telegram:{STAFF_USER}")
    with db.unit_of_work() as uow:
        row = uow.session.get(m.FollowUp, row_id)
        assert row is not None
        assert (row.citizen_id, row.kind, row.campaign_id, row.unsolicited, row.status) == (
            staff, "invitation", None, False, "pending"
        )
        assert row.payload["campaign_id"] == campaign.id and row.payload["survey_version"] == 1


async def test_two_workers_starting_the_same_campaign_invite_each_citizen_once(db: Database, config: Config) -> None:
    for n in range(5):
        add_citizen(db, config, str(n))
    campaign = launch(db, create(db).id)
    other_worker_started = False

    async def another_worker_finishes_first(function: Any, *args: Any) -> Any:
        nonlocal other_worker_started
        if function.__name__ == "_write_batch" and not other_worker_started:
            other_worker_started = True
            await tick(db, config, NOW)  # a second worker runs the whole launch in between
        return function(*args)

    report = await campaign_tick(another_worker_finishes_first, db, load_catalog(db), settings(config), NOW, batch=2)
    assert report.started == {}  # this worker noticed and stopped
    assert len(rows(db, campaign.id)) == 5
    assert {(status, outcome) for _, status, outcome in rows(db, campaign.id)} == {("pending", None)}
    with db.unit_of_work() as uow:
        assert uow.campaigns.get(campaign.id).status == "running"


async def test_campaign_list_counts_invited_and_delivered_per_campaign(db: Database, config: Config) -> None:
    first, _ = add_citizen(db, config, "1"), add_citizen(db, config, "2")
    campaign = launch(db, create(db).id)
    await tick(db, config, NOW)
    set_rows(db, campaign.id, first, status="done", outcome="sent")
    with db.unit_of_work() as uow:
        assert invitation_counts(uow) == {campaign.id: (2, 1)}
