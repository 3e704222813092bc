"""Nothing a citizen sent is lost or handled twice on Telegram: restarts, crashes, redeliveries, double taps,
flood control and webhook security, with the whole bot against the emulated Bot API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiohttp
import pytest

from bot.config import PACKAGE_ROOT
from handlers.events import Inbound, Outbound
from tests.e2e.scenarios import (
    MOBILITY,
    TelegramBot,
    answer_survey,
    give_consent,
    open_survey,
    say,
    take_survey,
    tap,
    telegram_bot_fixture,  # noqa: F401  (the "bot" fixture)
)
from tests.e2e.telegram_api import TelegramApiServer

pytestmark = pytest.mark.e2e



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def texts(bot: TelegramBot, chat_id: int) -> list[str]:
    return [m.text or m.caption or "" for m in bot.server.messages_to(chat_id)]


async def test_citizen_resumes_the_survey_at_the_exact_question_after_a_restart(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    asked = await take_survey(chat, MOBILITY, {"bezirk": "vohwinkel", "unterwegs": ["bus"], "oepnv_zufrieden": 2},
                              stop_before="haltestelle_minuten")
    assert asked == ["bezirk", "unterwegs", "oepnv_zufrieden"]
    await bot.restart()
    resumed = await say(chat, "/weiter")
    assert "Frage 4 von" in resumed[-1].text
    assert "Wie viele Minuten gehen Sie zu Fuß" in resumed[-1].text
    finished = await answer_survey(chat, MOBILITY, {"haltestelle_minuten": 3, "mehr_rad": False,
                                                    "verbesserung": "Mehr Busse am Abend"})
    assert finished == ["haltestelle_minuten", "mehr_rad", "verbesserung"]
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        responses = uow.citizens.export(bot.pseudonym(chat))["responses"]
    assert len(responses) == 1 and responses[0]["status"] == "completed"
    assert [a["question_id"] for a in responses[0]["answers"]] == [
        "bezirk", "unterwegs", "oepnv_zufrieden", "haltestelle_minuten", "mehr_rad", "verbesserung"]


async def test_updates_received_before_a_crash_are_answered_after_the_restart(
    telegram_api: TelegramApiServer, tmp_path: Path
) -> None:
    harness = TelegramBot(telegram_api, tmp_path)
    first, second = harness.chat(), harness.chat()
    update_ids = [telegram_api.send_text(first.user, "/start"), telegram_api.send_text(second.user, "/start")]
    env = {**os.environ, **harness.env, "STADTDIALOG_TEST_CRASH_AFTER_ACCEPT": "1", "STADTDIALOG_LOG_LEVEL": "INFO"}
    # the server runs in this event loop, so the bot process must be awaited, not waited for
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", cwd=PACKAGE_ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    # killed right after the inbox commit: stored, but neither acknowledged nor answered
    assert process.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    assert "event=telegram_accepted" not in stderr.decode()
    assert telegram_api.calls_to("sendMessage") == []
    assert not any(telegram_api.is_confirmed(u) for u in update_ids)

    await harness.start()
    try:
        for chat in (first, second):
            await telegram_api.wait_for_messages(chat.user, 1)
        await harness.settle()
        await telegram_api.wait_for(lambda: all(telegram_api.is_confirmed(u) for u in update_ids))
        await asyncio.sleep(0.3)
        # Telegram delivered both updates again; the stored copies were answered once each
        for chat in (first, second):
            assert [m.payloads for m in chat.last_messages(5)] == [["consent:yes", "consent:no"]]
    finally:
        await harness.stop()


async def test_the_same_update_delivered_twice_is_answered_once(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    update = chat.message_update("/hilfe")
    bot.server.deliver_raw(update)
    chat.act(lambda: bot.server.deliver_raw(update))
    replies = await chat.wait_for_reply()
    await asyncio.sleep(0.3)
    await bot.settle()
    assert len(replies) == 1 and "So funktioniert es" in replies[0].text
    assert sum("So funktioniert es" in t for t in texts(bot, chat.user.id)) == 1


async def test_a_double_tap_on_an_answer_advances_the_survey_once(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    await open_survey(chat, MOBILITY)
    question = chat.last_messages(1)[0]
    message_id = int(question.ref)
    bot.server.press(chat.user, message_id, "a:bezirk:barmen")
    chat.act(lambda: bot.server.press(chat.user, message_id, "a:bezirk:barmen"))
    await chat.wait_for_reply()
    await asyncio.sleep(0.2)
    await bot.settle()
    everything = "\n".join(texts(bot, chat.user.id))
    assert "Frage 2 von" in everything and "Frage 3 von" not in everything
    assert "früheren Nachricht" in everything  # the second tap was recognised as stale
    assert not bot.server.unanswered_callbacks()
    assert bot.runtime is not None
    with bot.runtime.db.unit_of_work() as uow:
        responses = uow.citizens.export(bot.pseudonym(chat))["responses"]
    assert [a["question_id"] for a in responses[0]["answers"]] == ["bezirk"]


async def test_flood_control_is_honoured_and_nothing_is_lost_or_reordered(bot: TelegramBot) -> None:
    chat = bot.chat()
    await say(chat, "/start")
    bot.server.fail_next("sendMessage", status=429, retry_after=1)
    await chat.press("consent:yes")  # its menu message meets the 429
    failed_at = time.time()
    bot.server.send_text(chat.user, "/hilfe")  # its answer must wait for the menu
    await bot.server.wait_for(lambda: any("So funktioniert es" in t for t in texts(bot, chat.user.id)), timeout=10)
    sends = [c for c in bot.server.calls_to("sendMessage") if c.ok]
    menu_call = next(c for c in sends if "Was möchten Sie tun?" in str(c.params.get("text")))
    assert menu_call.time >= failed_at + 0.9  # not before Telegram's retry_after
    later = texts(bot, chat.user.id)
    menu_index = next(i for i, t in enumerate(later) if "Was möchten Sie tun?" in t)
    help_index = next(i for i, t in enumerate(later) if "So funktioniert es" in t)
    assert menu_index < help_index
    assert sum("Was möchten Sie tun?" in t for t in later) == 1


async def test_a_long_reply_is_split_into_telegram_sized_messages(bot: TelegramBot) -> None:
    chat = bot.chat()
    await give_consent(chat)
    assert bot.channel is not None
    paragraphs = [f"Absatz {n}: " + "Wuppertal plant die Smart City gemeinsam. " * 30 for n in range(6)]
    sent = await bot.channel.send(str(chat.user.id), Outbound("\n\n".join(paragraphs)))
    messages = bot.server.messages_to(chat.user)[-len(sent.message_ids):]
    assert len(sent.message_ids) == 2  # ~7700 characters: as few parts as fit, cut between paragraphs
    assert all(len(m.text or "") <= 4096 for m in messages)
    assert [p.strip() for m in messages for p in (m.text or "").split("\n\n")] == [p.strip() for p in paragraphs]


# --- webhook -----------------------------------------------------------------------------------------------------


@pytest.fixture
async def webhook_bot(telegram_api: TelegramApiServer, tmp_path: Path) -> AsyncIterator[TelegramBot]:
    harness = TelegramBot(telegram_api, tmp_path, mode="webhook", webhook_port=free_port())
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


async def test_webhook_with_a_wrong_secret_is_refused_and_the_right_one_is_processed(
    webhook_bot: TelegramBot,
) -> None:
    chat = webhook_bot.chat()
    forged = chat.message_update("/start")
    url = webhook_bot.config.telegram_webhook_url
    assert url is not None and webhook_bot.server.webhook_url == url
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "geraten"}):
            async with session.post(url, data=json.dumps(forged), headers=headers) as response:
                assert response.status == 403
    await webhook_bot.settle()
    assert webhook_bot.server.calls_to("sendMessage") == []
    assert webhook_bot.rows_mentioning(str(chat.user.id)) == {}

    notice = await say(chat, "/start")  # the Bot API server posts it with the secret set by setWebhook
    assert notice[-1].payloads == ["consent:yes", "consent:no"]
    await tap(chat, "consent:yes")
    assert not webhook_bot.server.unanswered_callbacks()


async def test_webhook_update_that_could_not_be_stored_is_redelivered_and_answered_once(
    webhook_bot: TelegramBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = webhook_bot.runtime
    assert runtime is not None
    original = runtime.accept
    failures = [RuntimeError("database is locked")]

    async def flaky_accept(events: Sequence[Inbound], cursor: tuple[str, str] | None = None) -> list[bool]:
        if failures:
            raise failures.pop()
        return await original(events, cursor)

    monkeypatch.setattr(runtime, "accept", flaky_accept)
    chat = webhook_bot.chat()
    await say(chat, "/start")
    await asyncio.sleep(0.3)
    await webhook_bot.settle()
    statuses = [a.status for a in webhook_bot.server.webhook_attempts]
    assert statuses == [500, 200]
    assert len(webhook_bot.server.messages_to(chat.user)) == 1
