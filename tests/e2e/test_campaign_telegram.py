"""A campaign end to end on the test Bot API server: opted-in citizens are invited, one answers, the other is
reminded once, the campaign closes — and nobody who did not ask for it hears anything."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import bot.outbox
from bot.campaigns import service
from bot.campaigns.audience import staff_ids
from bot.campaigns.service import CampaignSpec
from bot.campaigns.status import progress
from bot.storage import models as m
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

_OUTBOX_MARKS_SENT = "follow_ups.mark_sent" in inspect.getsource(bot.outbox)
"""The outbox marks a delivered invitation done/sent (the contract; the pacing branch brings it). Before that an
invitation stays `queued` and the reminder, which goes only to citizens the invitation reached, cannot be tested."""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not _OUTBOX_MARKS_SENT, reason="needs the outbox marking delivered follow-ups sent (pacing)"),
]


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
