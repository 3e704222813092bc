"""Ideas that grow together on the Telegram Bot API emulator: the scenario of tests/e2e/idea_scenarios.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.runtime import Runtime
from tests.e2e.idea_scenarios import ideas_grow_together
from tests.e2e.scenarios import ChatDriver, TelegramChat
from tests.e2e.test_campaign_telegram import deliver_due
from tests.e2e.test_staff_telegram import Desk, StartDesk, start_desk  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


@dataclass
class TelegramChannel:
    desk: Desk

    @property
    def runtime(self) -> Runtime:
        return self.desk.runtime

    @property
    def secret(self) -> bytes:
        return self.desk.bot.config.pseudonym_secret

    @property
    def staff(self) -> ChatDriver:
        return self.desk.staff

    async def new_citizen(self) -> ChatDriver:
        return self.desk.bot.chat()

    async def deliver(self) -> None:
        await deliver_due(self.desk.bot)

    async def deliver_to(self, chat: ChatDriver) -> str:
        assert isinstance(chat, TelegramChat)
        before = len(self.desk.bot.server.messages_to(chat.user))
        await self.deliver()
        return "\n".join(m.text or "" for m in self.desk.bot.server.messages_to(chat.user)[before:])

    def sent(self, chat: ChatDriver) -> int:
        assert isinstance(chat, TelegramChat)
        return self.desk.sent(chat)

    def pseudonym(self, chat: ChatDriver) -> str:
        assert isinstance(chat, TelegramChat)
        return self.desk.bot.pseudonym(chat)


async def test_an_idea_finds_its_supporters_on_telegram(start_desk: StartDesk) -> None:  # noqa: F811
    await ideas_grow_together(TelegramChannel(await start_desk()))
