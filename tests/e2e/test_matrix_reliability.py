"""Matrix under failure: bot restarts and SIGKILL, a homeserver restart, redelivered events, a message nobody can
decrypt, rooms the bot must not talk in, the homeserver's rate limit. Nothing a citizen sent may be lost, nothing
answered twice, and no history replayed."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.channels.base import RetryLater
from handlers.events import Outbound
from handlers.texts import load_texts
from tests.e2e.matrix_driver import BotProcess, MatrixBot, MatrixCitizen, answers_in_db, bot_fixture, citizen_fixture  # noqa: F401  (fixtures)
from tests.e2e.scenarios import (
    MOBILITY,
    answer_survey,
    give_consent,
    library_survey,
    say,
    take_survey,
    tap,
)
from tests.e2e.synapse import Synapse, unique_name

pytestmark = pytest.mark.e2e

PLAN = {
    "bezirk": "barmen",
    "unterwegs": ["bus"],
    "oepnv_zufrieden": 4,
    "haltestelle_minuten": 6,
    "mehr_rad": False,
    "verbesserung": "Mehr Busse am Abend",
}
ALL_QUESTIONS = ["bezirk", "unterwegs", "oepnv_zufrieden", "haltestelle_minuten", "mehr_rad", "verbesserung"]


async def test_bot_restarted_mid_survey_resumes_at_the_same_question_without_replaying_history(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    asked = await take_survey(citizen, MOBILITY, PLAN, stop_before="haltestelle_minuten")
    sent_before = len(citizen.seen)
    notices = _consent_polls(citizen)
    device = bot.channel.client.device_id
    await bot.stop()
    # written while the bot is down: must be answered after the restart, exactly once
    citizen.snapshot()
    citizen._act(await citizen.say("6"))
    await bot.start()
    reply = await citizen.wait_for_reply()
    assert bot.channel.client.device_id == device, "the same device, so it still reads the encrypted sessions"
    session_file = bot.config.data_dir / "matrix" / "session.json"
    assert session_file.stat().st_mode & 0o777 == 0o600
    following = next(q for q in library_survey(MOBILITY).questions if q.id == "mehr_rad")
    assert any(following.text.get("de") in m.text for m in reply), reply
    assert len(citizen.seen) > sent_before
    asked += ["haltestelle_minuten", *await answer_survey(citizen, MOBILITY, PLAN)]
    assert asked == ALL_QUESTIONS
    assert answers_in_db(bot, citizen) == PLAN
    assert _consent_polls(citizen) == notices, "no history replayed"


def _consent_polls(citizen: MatrixCitizen) -> int:
    return len([i for i in citizen.seen if i.kind == "poll" and i.text == "Sind Sie einverstanden?"])


async def test_redelivered_events_are_answered_once(bot: MatrixBot, citizen: MatrixCitizen) -> None:
    await give_consent(citizen)
    position = bot.cursor()
    listing = await say(citizen, "/umfragen")
    assert any("Diese Umfragen laufen gerade" in m.text for m in listing)
    with bot.runtime.db.unit_of_work() as uow:  # as if the sync position had been lost: Matrix delivers again
        uow.channel_state.set("matrix:since", position, datetime.now(UTC))
    before = len(citizen.seen)
    citizen.snapshot()
    await bot.restart()
    assert await citizen.quiet(1.5) == []
    assert len(citizen.seen) == before
    first = await tap(citizen, f"s:{MOBILITY}")
    assert any("Frage 1 von" in m.text for m in first)


async def test_message_nobody_can_decrypt_is_reported_to_the_citizen_in_order(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    citizen.snapshot()
    started = time.monotonic()
    await citizen.send_undecryptable()
    citizen._act(await citizen.say("/hilfe"))
    replies = await citizen.wait_for_reply(min_messages=3, timeout=bot.grace + 15)
    assert time.monotonic() - started >= bot.grace, "the bot first waits for the room key"
    assert bot.channel.client.outgoing_key_requests, "and asks the citizen's devices for it"
    help_text = load_texts().get("help.text", "de")
    texts = [m.text for m in replies]
    assert help_text in texts, replies
    assert texts.index(help_text) > 0, "the notice about the undecryptable message comes first, as it was sent first"


async def test_group_room_is_answered_politely_and_then_left(
    synapse_server: Synapse, bot: MatrixBot, tmp_path: Path
) -> None:
    other = synapse_server.register(unique_name("neighbour"))
    person = await MatrixCitizen.join(synapse_server, tmp_path / "group", bot.user_id, settle=bot.settle)
    person.sent_by_bot = bot.sent
    try:
        person.snapshot()
        await person.open_dm(is_direct=False, also_invite=(other.user_id,))
        reply = await person.wait_for_reply()
        assert "nur in privaten Chats" in reply[0].text
        await person.wait_until(lambda: not person.bot_is_member())
        assert bot.rows_mentioning(f"matrix:{person.room_id}") == {}, "nothing of the group room left to do"
    finally:
        await person.close()


async def test_invite_from_a_server_that_is_not_allowed_is_declined(synapse_server: Synapse, tmp_path: Path) -> None:
    strict = MatrixBot.register(synapse_server, tmp_path / "bot", allowed_servers=("stadt.example",))
    await strict.start()
    person = await MatrixCitizen.join(synapse_server, tmp_path / "c", strict.user_id)
    try:
        await person.open_dm()
        room = person.client.rooms
        await person.wait_until(lambda: person.room_id in room and strict.user_id not in room[person.room_id].users
                                and room[person.room_id].member_count == 1)
        assert await person.quiet(0.5) == []
    finally:
        await person.close()
        await strict.stop()


async def test_rate_limited_send_asks_the_outbox_to_retry_after_the_servers_delay(
    synapse_server: Synapse, bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    admin = synapse_server.register(unique_name("admin"), admin=True)
    await asyncio.to_thread(synapse_server._request, "POST",
                            f"/_synapse/admin/v1/users/{bot.user_id}/override_ratelimit",
                            {"messages_per_second": 1, "burst_count": 1}, admin.access_token)
    with pytest.raises(RetryLater) as caught:
        for number in range(3):
            await bot.channel.send(citizen.room_id, Outbound(f"Nachricht {number}"))
    # Synapse's retry_after_ms for 1 message/s, in seconds (nio's own endless 429 retry is switched off)
    assert 0 < caught.value.after <= 1.0
    assert "rate_limited" in caught.value.reason


async def test_a_message_sent_again_under_its_key_after_a_restart_appears_once(
    bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    first = await bot.channel.send(citizen.room_id, Outbound("Nur einmal, bitte."), "41-1700000000000")
    await bot.restart()  # what the outbox does after a crash: the same message under the same key again
    again = await bot.channel.send(citizen.room_id, Outbound("Nur einmal, bitte."), "41-1700000000000")
    assert again.message_ids == first.message_ids, "the homeserver recognised the repeat"
    other = await bot.channel.send(citizen.room_id, Outbound("Nur einmal, bitte."), "42-1700000000001")
    assert other.message_ids != first.message_ids

    def seen() -> int:
        return sum(m.text == "Nur einmal, bitte." for m in citizen.messages.values())

    await citizen.wait_until(lambda: seen() >= 2)
    await citizen.quiet(1.0)
    assert seen() == 2


async def test_homeserver_restart_mid_conversation_loses_and_repeats_nothing(
    synapse_server: Synapse, bot: MatrixBot, citizen: MatrixCitizen
) -> None:
    await give_consent(citizen)
    asked = await take_survey(citizen, MOBILITY, PLAN, stop_before="oepnv_zufrieden")
    await asyncio.to_thread(synapse_server.stop)
    with pytest.raises(RetryLater):  # what the outbox hears while the homeserver is away: try again later
        await bot.channel.send(citizen.room_id, Outbound("Hallo?"))
    await asyncio.to_thread(synapse_server.start)
    asked += await answer_survey(citizen, MOBILITY, PLAN)
    assert asked == ALL_QUESTIONS
    assert answers_in_db(bot, citizen) == PLAN


async def test_bot_killed_right_after_a_sync_loses_nothing(synapse_server: Synapse, tmp_path: Path) -> None:
    account = synapse_server.register(unique_name("stadtbot"))
    process = BotProcess(synapse_server, account, tmp_path / "bot")
    process.start()
    person = await MatrixCitizen.join(synapse_server, tmp_path / "c", account.user_id)
    try:
        await _wait(lambda: bool(process.query("SELECT value FROM channel_state WHERE key = 'matrix:since'")))
        person.snapshot()
        await person.open_dm()
        await person.wait_for_reply(min_messages=2, timeout=30)
        menu = await say(person, "1")  # consent by the number of the fallback text
        assert any(m.button("m:surveys") for m in menu)

        event_id = await person.say("/umfragen")
        await _wait(lambda: bool(process.query("SELECT 1 FROM inbound_events WHERE event_id = ?", event_id)))
        process.kill()  # the sync that brought it is stored; processing and sending may not have happened
        process.start()
        await person.wait_until(lambda: any("Diese Umfragen" in i.text for i in person.seen), timeout=30)
        await person.quiet(1.5)
        listings = [i for i in person.seen if "Diese Umfragen" in i.text]
        assert 1 <= len(listings) <= 2, "answered; at most the one message in flight is sent twice"
        assert _consent_polls(person) == 1, "no history replayed after the restart"

        process.kill()  # and while the bot is down, the citizen writes
        person.snapshot()
        await person.say("/hilfe")
        process.start()
        help_reply = await person.wait_for_reply(timeout=30)
        assert any("/" in m.text for m in help_reply)
        assert len([i for i in person.seen if "Diese Umfragen" in i.text]) == len(listings)
    finally:
        await person.close()
        process.stop()


async def _wait(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)



async def test_long_gap_while_the_bot_was_down_is_fetched_completely(
    bot: MatrixBot, citizen: MatrixCitizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.channels import matrix

    await give_consent(citizen)
    await bot.stop()
    written = [await citizen.say(f"Nachricht {number}") for number in range(8)]
    monkeypatch.setattr(matrix, "TIMELINE_LIMIT", 3)  # the sync shows only the newest three: a gap to fetch
    await bot.start()
    await _wait(lambda: all(bot.stored(event_id) for event_id in written))


async def test_first_start_handles_no_history_and_token_login_keeps_the_tokens_device(
    synapse_server: Synapse, tmp_path: Path
) -> None:
    from nio import AsyncClient

    account = synapse_server.register(unique_name("stadtbot"))
    person = await MatrixCitizen.join(synapse_server, tmp_path / "c", account.user_id)
    earlier = AsyncClient(synapse_server.url, account.user_id)  # the account was used before the bot existed
    earlier.restore_login(account.user_id, "OLDDEVICE", account.access_token)
    harness: MatrixBot | None = None
    try:
        await person.open_dm(encrypted=False)
        await earlier.join(person.room_id)
        await person.wait_until(person.bot_is_member)
        await person.say("Hallo, ist da wer?")  # history from before the first start
        harness = MatrixBot(synapse_server, account, tmp_path / "bot", token_login=True)
        await harness.start()
        assert await person.quiet(1.5) == [], "old history is not answered"
        assert harness.channel.client.device_id == account.device_id
        person.sent_by_bot, person._settle = harness.sent, harness.settle
        notice = await say(person, "/start")
        assert any(m.button("consent:yes") for m in notice)
    finally:
        await earlier.close()
        await person.close()
        if harness is not None:
            await harness.stop()
