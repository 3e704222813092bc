"""Ideas that grow together on a real Synapse, in encrypted DMs: the scenario of tests/e2e/idea_scenarios.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.runtime import Runtime
from tests.e2e import staff_scenarios as ss
from tests.e2e.idea_scenarios import ideas_grow_together
from tests.e2e.matrix_driver import MatrixCitizen
from tests.e2e.scenarios import ChatDriver
from tests.e2e.test_staff_matrix import Desk, desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


@dataclass
class MatrixChannel:
    desk: Desk

    @property
    def runtime(self) -> Runtime:
        return self.desk.bot.runtime

    @property
    def secret(self) -> bytes:
        return self.desk.bot.config.pseudonym_secret

    @property
    def staff(self) -> ChatDriver:
        return self.desk.staff

    async def new_citizen(self) -> ChatDriver:
        return await self.desk.citizen()

    async def deliver(self) -> None:
        await self.desk.deliver()

    async def deliver_to(self, chat: ChatDriver) -> str:
        assert isinstance(chat, MatrixCitizen)
        chat.snapshot()
        await self.desk.deliver()
        return ss.texts_of(await chat.wait_for_reply(timeout=20))

    def sent(self, chat: ChatDriver) -> int:
        assert isinstance(chat, MatrixCitizen)
        return self.desk.sent(chat)

    def pseudonym(self, chat: ChatDriver) -> str:
        assert isinstance(chat, MatrixCitizen)
        return self.desk.bot.pseudonym(chat)


async def test_an_idea_finds_its_supporters_on_matrix(desk: Desk) -> None:  # noqa: F811
    await ideas_grow_together(MatrixChannel(desk))
