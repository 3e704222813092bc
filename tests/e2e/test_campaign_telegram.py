"""A campaign end to end on the test Bot API server: opted-in citizens are invited, one answers, the other is
reminded once, the campaign closes — and nobody who did not ask for it hears anything."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, insert, select

from bot.app import field_infos
from bot.campaigns import service
from bot.campaigns.audience import staff_ids
from bot.campaigns.service import CampaignSpec
from bot.campaigns.status import progress
from bot.config import PACKAGE_ROOT
from bot.storage import models as m
from bot.storage.db import Database
from bot.survey_sync import import_surveys, load_catalog
from tests.e2e.scenarios import (
    BUS_RIDER,
    MOBILITY,
    TelegramBot,
    answer_survey,
    give_consent,
    say,
    tap,
    telegram_bot_fixture,  # noqa: F401  (the "bot" fixture)
)
from tests.e2e.telegram_api import TelegramApiServer

pytestmark = pytest.mark.e2e


async def opt_in_to_surveys(chat: object) -> None:
    """/abo, switch on invitations to new surveys (all strategy fields)."""
    await say(chat, "/abo")  # type: ignore[arg-type]
    await tap(chat, "ab:surveys:on")  # type: ignore[arg-type]


async def deliver_due(bot: TelegramBot) -> None:
    """What the scheduler does every few seconds: the campaign tick, then due rows to the citizens."""
    assert bot.runtime is not None
    await bot.runtime.campaign_tick()
    await bot.runtime.feed_due_follow_ups()
    await bot.settle()


async def test_a_campaign_invites_reminds_and_closes_on_telegram(bot: TelegramBot) -> None:
    assert bot.runtime is not None
    runtime = bot.runtime
    now = datetime.now(UTC).replace(microsecond=0)
    runtime.clock = lambda: now
    answering, silent, not_asked = bot.chat(), bot.chat(), bot.chat()
    for chat in (answering, silent, not_asked):
        await give_consent(chat)
    await opt_in_to_surveys(answering)
    await opt_in_to_surveys(silent)
    counts = {id(chat): len(bot.server.messages_to(chat.user)) for chat in (answering, silent, not_asked)}

    with runtime.db.unit_of_work() as uow:
        campaign = service.create_campaign(
            uow, CampaignSpec(MOBILITY, starts_at=now, ends_at=now + timedelta(days=5), remind_after_days=2),
            runtime.catalog, [f.key for f in runtime.fields], now,
        )
        service.launch_campaign(uow, campaign.id, runtime.catalog, now)
    await deliver_due(bot)

    invitation = answering.last_messages(1)[0]
    assert "Mobilität in Ihrem Quartier" in invitation.text and invitation.button("Keine Einladungen mehr")
    assert silent.last_messages(1)[0].text == invitation.text
    assert len(bot.server.messages_to(not_asked.user)) == counts[id(not_asked)]

    await tap(answering, "Jetzt teilnehmen")
    assert await answer_survey(answering, MOBILITY, BUS_RIDER)

    now += timedelta(days=2)
    await deliver_due(bot)
    reminded = bot.server.messages_to(silent.user)
    assert len(reminded) == counts[id(silent)] + 2 and "Mobilität in Ihrem Quartier" in reminded[-1].text
    answered_total = len(bot.server.messages_to(answering.user))
    now += timedelta(days=1)
    await deliver_due(bot)  # once only
    assert len(bot.server.messages_to(silent.user)) == counts[id(silent)] + 2
    assert len(bot.server.messages_to(answering.user)) == answered_total

    now += timedelta(days=2)
    await deliver_due(bot)
    _, staff = staff_ids(bot.config.staff, bot.config.pseudonym_secret)
    with runtime.db.unit_of_work() as uow:
        closed = uow.campaigns.get(campaign.id)
        assert closed is not None and closed.status == "closed"
        figures = progress(uow, closed, staff)
        kinds = uow.session.execute(
            select(m.FollowUp.kind, m.FollowUp.status, m.FollowUp.outcome).where(m.FollowUp.campaign_id == campaign.id)
        ).all()
    assert (figures.invited, figures.delivered, figures.started, figures.completed) == (2, 2, 1, 1)
    assert (figures.reminders, figures.reminders_sent) == (1, 1)
    assert sorted(tuple(row) for row in kinds) == [
        ("campaign_reminder", "done", "sent"), ("invitation", "done", "sent"), ("invitation", "done", "sent")
    ]
    assert len(bot.server.messages_to(not_asked.user)) == counts[id(not_asked)]


AUDIENCE = 30_000


def add_audience(database: Database, count: int, now: datetime) -> None:
    """`count` consented citizens opted in to all surveys, each with a Telegram contact (bulk, for speed)."""
    ids = [f"bulk{number:06d}" for number in range(count)]
    with database.unit_of_work() as uow:
        uow.session.execute(insert(m.Citizen), [
            {"id": i, "language": "de", "language_chosen": True, "consent_version": "2", "consent_at": now,
             "created_at": now, "last_seen_at": now, "outreach_count": 0} for i in ids])
        uow.session.execute(insert(m.Contact), [
            {"citizen_id": i, "channel": "telegram", "channel_user_id": str(50_000_000 + n),
             "chat_id": str(50_000_000 + n)} for n, i in enumerate(ids)])
        uow.session.execute(insert(m.OptIn), [
            {"citizen_id": i, "topic": "surveys", "fields": [], "source": "abo", "notice_version": "2",
             "granted_at": now} for i in ids])


def invitation_rows(database: Database, campaign_id: int) -> tuple[int, int]:
    """(rows, distinct citizens) of the campaign's invitations."""
    with database.unit_of_work(read_only=True) as uow:
        rows, citizens = uow.session.execute(
            select(func.count(), func.count(distinct(m.FollowUp.citizen_id)))
            .where(m.FollowUp.campaign_id == campaign_id, m.FollowUp.kind == "invitation")
        ).one()
    return int(rows), int(citizens)


async def test_a_launch_killed_halfway_resumes_without_inviting_anyone_twice(
    telegram_api: TelegramApiServer, tmp_path: Path
) -> None:
    harness = TelegramBot(telegram_api, tmp_path)
    config = harness.config
    now = datetime.now(UTC)
    database = Database(config.database_url)
    database.migrate()
    import_surveys(database, config.survey_dir, {f.key for f in field_infos()}, now)
    add_audience(database, AUDIENCE, now)
    catalog = load_catalog(database)
    with database.unit_of_work() as uow:
        campaign = service.create_campaign(uow, CampaignSpec(MOBILITY, starts_at=now), catalog,
                                           [f.key for f in field_infos()], now)
        service.launch_campaign(uow, campaign.id, catalog, now)

    env = {**os.environ, **harness.env, "STADTDIALOG_CLASSIFIER": "off"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=PACKAGE_ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while (written := invitation_rows(database, campaign.id)[0]) == 0:  # the bot's first campaign tick
            assert time.monotonic() < deadline and process.returncode is None, "the bot never started the campaign"
            await asyncio.sleep(0.005)
        process.kill()  # SIGKILL in the middle of writing the audience's invitations
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    killed_at, citizens = invitation_rows(database, campaign.id)
    assert 0 < written <= killed_at < AUDIENCE, "killed after the launch had finished: the test proves nothing"
    assert killed_at == citizens
    with database.unit_of_work(read_only=True) as uow:
        assert uow.campaigns.get(campaign.id).status == "scheduled"  # not running before every row is written

    await harness.start()  # the bot again: its campaign tick resumes the launch
    try:
        assert harness.runtime is not None
        await harness.runtime.campaign_tick()
    finally:
        await harness.stop()
    assert invitation_rows(database, campaign.id) == (AUDIENCE, AUDIENCE)  # everyone exactly once
    with database.unit_of_work(read_only=True) as uow:
        resumed = uow.campaigns.get(campaign.id)
        assert resumed is not None and resumed.status == "running" and resumed.launched_at is not None
    database.dispose()
