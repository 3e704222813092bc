"""A citizen who leaves their Matrix DM with the bot is unreachable for unsolicited messages until they write again
(real Synapse, real matrix-nio clients)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, bot_fixture, citizen_fixture  # noqa: F401  (fixtures)
from tests.e2e.scenarios import give_consent

pytestmark = pytest.mark.e2e


def unreachable_since(bot: MatrixBot, citizen: MatrixCitizen) -> list[datetime | None]:
    with bot.runtime.db.unit_of_work(read_only=True) as uow:
        return [contact.unreachable_at for contact in uow.contacts.for_citizen(bot.pseudonym(citizen))]


async def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def test_leaving_the_dm_marks_the_citizen_unreachable_and_writing_again_makes_them_reachable(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    assert unreachable_since(bot, citizen) == [None]

    await citizen.client.room_leave(citizen.room_id)
    await wait_for(lambda: unreachable_since(bot, citizen)[0] is not None)

    citizen.snapshot()
    await citizen.open_dm()  # the citizen comes back in a new DM and writes
    await citizen.wait_for_reply(min_messages=1)
    await citizen.send_text("Hallo")
    await citizen.wait_for_reply(min_messages=1)
    await wait_for(lambda: unreachable_since(bot, citizen) == [None])

