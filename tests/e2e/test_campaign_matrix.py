"""A campaign end to end on the test Synapse: an opted-in citizen in an encrypted DM gets the invitation as a poll
with "Keine Einladungen mehr", takes the survey through it, and the closed campaign counts them."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta

import pytest

import bot.outbox
from bot.campaigns import service
from bot.campaigns.audience import staff_ids
from bot.campaigns.service import CampaignSpec
from bot.campaigns.status import progress
from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, bot_fixture, citizen_fixture  # noqa: F401  (fixtures)
from tests.e2e.scenarios import BUS_RIDER, MOBILITY, answer_survey, give_consent, say, tap

pytestmark = pytest.mark.e2e

OUTBOX_MARKS_SENT = "follow_ups.mark_sent" in inspect.getsource(bot.outbox)


async def test_a_campaign_reaches_an_opted_in_citizen_on_matrix(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    runtime = bot.runtime
    now = datetime.now(UTC).replace(microsecond=0)
    runtime.clock = lambda: now
    await give_consent(citizen)
    await say(citizen, "/abo")
    await tap(citizen, "ab:surveys:on")

    with runtime.db.unit_of_work() as uow:
        campaign = service.create_campaign(
            uow, CampaignSpec(MOBILITY, starts_at=now, ends_at=now + timedelta(days=3), channels=["matrix"]),
            runtime.catalog, [f.key for f in runtime.fields], now,
        )
        service.launch_campaign(uow, campaign.id, runtime.catalog, now)
    citizen.snapshot()
    await runtime.campaign_tick()
    await runtime.feed_due_follow_ups()
    invitation = await citizen.wait_for_reply(2, timeout=20)
    poll = next(message for message in invitation if message.button("Keine Einladungen mehr"))
    assert "Mobilität in Ihrem Quartier" in poll.text and poll.button("Jetzt teilnehmen")
    assert all(item.decrypted for item in citizen.seen), "the invitation arrives end-to-end encrypted"

    await tap(citizen, "Jetzt teilnehmen")
    assert await answer_survey(citizen, MOBILITY, BUS_RIDER)

    with runtime.db.unit_of_work() as uow:
        closed, _ = service.close_campaign(uow, campaign.id, now + timedelta(hours=1))
        figures = progress(uow, closed, staff_ids(bot.config.staff, bot.config.pseudonym_secret)[1])
    assert (figures.invited, figures.started, figures.completed) == (1, 1, 1)
    if OUTBOX_MARKS_SENT:  # the outbox marks a delivered invitation sent (pacing branch)
        assert figures.delivered == 1
