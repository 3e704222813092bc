"""Matrix: a citizen who left their DM is unreachable — queued invitations are dropped and their follow-up rows
skipped, on a real homeserver."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.storage import models as m
from bot.storage.items import FOLLOW_UP_QUEUED, PRIORITY_BULK
from handlers.events import Outbound
from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, bot_fixture, citizen_fixture  # noqa: F401  (fixtures)
from tests.e2e.scenarios import give_consent

pytestmark = pytest.mark.e2e


async def test_a_citizen_who_left_the_dm_is_marked_unreachable_and_their_invitation_skipped(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    room_id = citizen.room_id
    await citizen.client.room_leave(room_id)
    client = bot.channel.client
    deadline = time.monotonic() + 20
    while room_id in client.rooms and client.rooms[room_id].joined_count > 1:  # the bot sees the citizen leave
        assert time.monotonic() < deadline, "the bot never saw the citizen leave"
        await asyncio.sleep(0.1)
    now = datetime.now(UTC)
    runtime = bot.runtime
    citizen_id = bot.pseudonym(citizen)
    with runtime.db.unit_of_work() as uow:
        follow_up = uow.follow_ups.add(citizen_id, now, "invitation", {"survey_key": "x"}, now=now)
        uow.follow_ups.finish(follow_up, FOLLOW_UP_QUEUED, None, now)
        uow.outbox.enqueue("matrix", room_id, Outbound("Neue Umfrage").to_dict(), now=now, priority=PRIORITY_BULK,
                           follow_up_id=follow_up)
    await runtime.resume_pending()
    deadline = time.monotonic() + 20
    while True:
        with runtime.db.unit_of_work(read_only=True) as uow:
            row = uow.session.execute(select(m.FollowUp.status, m.FollowUp.outcome)
                                      .where(m.FollowUp.id == follow_up)).one()
            contact = uow.session.execute(select(m.Contact.unreachable_at)
                                          .where(m.Contact.citizen_id == citizen_id)).scalar_one()
            pending = uow.outbox.pending_count()
        if row.status != FOLLOW_UP_QUEUED:
            break
        assert time.monotonic() < deadline, "the invitation was never settled"
        await asyncio.sleep(0.1)
    assert (row.status, row.outcome) == ("skipped", "unreachable")
    assert contact is not None and pending == 0
    assert "Neue Umfrage" not in [item.text for item in citizen.seen]
