"""The Telegram adapter on its own, against the emulated Bot API: what it stores, acknowledges and sends.

A recording sink stands in for the runtime, so these tests pin the channel contract (acknowledge only after
`accept`, normalised `Inbound`s, Telegram's limits and error semantics) without the dialogue core.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest

from bot.channels.base import (
    RATE_LIMIT_CHAT,
    ChannelUnreachableError,
    PermanentFailure,
    RecipientUnreachableError,
    RetryLater,
)
from bot.channels.telegram import TelegramChannel, TelegramTokenError, TelegramUnreachableError
from bot.channels.telegram_render import split_text, utf16_len
from bot.config import ConfigError
from handlers.events import Button, Document, Inbound, InboundKind, Outbound
from tests.e2e.telegram_api import TelegramApiServer, User

pytestmark = pytest.mark.e2e


class RecordingSink:
    """Stores events in memory like the runtime's inbox: duplicates (same event id) are reported as not new."""

    def __init__(self) -> None:
        self.events: list[Inbound] = []
        self.failures_left = 0
        self.gate: asyncio.Event | None = None
        self.accept_calls = 0

    async def accept(self, events: Sequence[Inbound], cursor: tuple[str, str] | None = None) -> list[bool]:
        self.accept_calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("database unavailable")
        known = {e.event_id for e in self.events}
        results = []
        for event in events:
            results.append(event.event_id not in known)
            if event.event_id not in known:
                self.events.append(event)
                known.add(event.event_id)
        return results

    async def load_cursor(self, key: str) -> str | None:
        return None  # Telegram keeps its position (the offset) on its side

    async def wait_idle(self, timeout: float = 30.0) -> None:
        return None

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Inbound]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} events, got {self.events}")
            await asyncio.sleep(0.01)
        return self.events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_channel(server: TelegramApiServer, **options: object) -> TelegramChannel:
    settings: dict[str, object] = {"api_url": server.url, "poll_timeout": 1, "rate_limit": None}
    settings.update(options)
    return TelegramChannel(server.token, **settings)  # type: ignore[arg-type]


@pytest.fixture
async def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def channel(telegram_api: TelegramApiServer, sink: RecordingSink) -> AsyncIterator[TelegramChannel]:
    tg = make_channel(telegram_api)
    await tg.start(sink)
    try:
        yield tg
    finally:
        await tg.stop()


async def citizen_who_wrote(server: TelegramApiServer, sink: RecordingSink, text: str = "Hallo") -> User:
    user = server.add_user()
    server.send_text(user, text)
    await sink.wait_for(len(sink.events) + 1)
    return user


# --- start -----------------------------------------------------------------------------------------------------


async def test_wrong_token_stops_the_start_with_a_configuration_error(telegram_api: TelegramApiServer) -> None:
    channel = TelegramChannel("999:WRONG-token", api_url=telegram_api.url, rate_limit=None)
    with pytest.raises(TelegramTokenError) as raised:
        await channel.start(RecordingSink())
    await channel.stop()
    assert isinstance(raised.value, ConfigError)
    assert "STADTDIALOG_TELEGRAM_TOKEN" in str(raised.value)
    assert "WRONG" not in str(raised.value)  # the token itself never ends up in an error message


async def test_an_unreachable_bot_api_at_start_is_worth_a_retry_not_a_configuration_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = TelegramChannel("123:abc", api_url=f"http://127.0.0.1:{port}", rate_limit=None, request_timeout=2)
    with pytest.raises(TelegramUnreachableError) as raised:
        await channel.start(RecordingSink())
    await channel.stop()
    assert isinstance(raised.value, ChannelUnreachableError) and not isinstance(raised.value, ConfigError)
    assert "abc" not in str(raised.value)


async def test_the_bot_api_coming_back_lets_the_late_start_succeed(telegram_api: TelegramApiServer) -> None:
    channel = TelegramChannel(telegram_api.token, api_url=telegram_api.url, rate_limit=None)
    telegram_api.fail_next("getMe", status=502)  # a gateway error in front of the Bot API
    with pytest.raises(TelegramUnreachableError):
        await channel.start(RecordingSink())
    await channel.start(RecordingSink())  # what the runtime's retry does
    await channel.stop()


async def test_start_publishes_the_command_menu_in_german_and_english(
    telegram_api: TelegramApiServer, channel: TelegramChannel
) -> None:
    german = {c["command"]: c["description"] for c in telegram_api.bot_commands(language_code="de")}
    english = {c["command"]: c["description"] for c in telegram_api.bot_commands()}
    expected = {"start", "umfragen", "idee", "ideen", "weiter", "zurueck", "abbrechen", "meinedaten", "meineideen",
                "loeschen", "sprache", "hilfe", "ueberspringen", "datenschutz", "menu", "abo", "pause", "stop"}
    assert set(german) == expected == set(english)
    assert german["loeschen"] != english["loeschen"]
    assert channel.bot_username == telegram_api.bot_username


# --- polling -----------------------------------------------------------------------------------------------------


async def test_update_is_acknowledged_only_after_it_was_stored(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    sink.gate = asyncio.Event()
    user = telegram_api.add_user()
    update_id = telegram_api.send_text(user, "Hallo")
    await telegram_api.wait_for(lambda: sink.accept_calls == 1)
    await asyncio.sleep(0.3)
    assert not telegram_api.is_confirmed(update_id)
    assert sink.events == []
    sink.gate.set()
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(update_id), timeout=5)
    assert [e.event_id for e in sink.events] == [str(update_id)]


async def test_a_failed_store_is_retried_and_the_update_stays_unacknowledged_meanwhile(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    sink.failures_left = 1
    user = telegram_api.add_user()
    update_id = telegram_api.send_text(user, "Hallo")
    await telegram_api.wait_for(lambda: sink.accept_calls == 1)
    assert not telegram_api.is_confirmed(update_id)
    await sink.wait_for(1, timeout=5)
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(update_id), timeout=5)
    assert sink.accept_calls == 2


async def test_updates_become_normalised_inbound_events(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = telegram_api.add_user(language_code="en")
    ids = [
        telegram_api.send_text(user, "Mehr Bänke am Laurentiusplatz"),
        telegram_api.send_text(user, "/Start@stadtdialog_test_bot umfrage-mobilitaet"),
        telegram_api.send_sticker(user),
        telegram_api.send_photo(user, caption="Schlagloch"),
        telegram_api.send_voice(user),
        telegram_api.send_document(user),
    ]
    first_message = telegram_api.history(user)[0]["message_id"]
    ids.append(telegram_api.edit_text(user, first_message, "Mehr Bänke am Neumarkt"))
    ids.append(telegram_api.send_group_text(user, "Hallo Bot"))
    events = await sink.wait_for(len(ids))
    assert [e.event_id for e in events] == [str(i) for i in ids]
    text, command, sticker, photo, voice, document, edited, group = events
    assert (text.kind, text.text, text.user_id, text.chat_id) == (
        InboundKind.TEXT, "Mehr Bänke am Laurentiusplatz", str(user.id), str(user.id))
    assert (command.kind, command.command, command.args) == (InboundKind.COMMAND, "start", "umfrage-mobilitaet")
    assert [(e.kind, e.media) for e in (sticker, photo, voice, document)] == [
        (InboundKind.MEDIA, "sticker"), (InboundKind.MEDIA, "photo"), (InboundKind.MEDIA, "voice"),
        (InboundKind.MEDIA, "document")]
    assert (edited.kind, edited.text) == (InboundKind.EDITED, "Mehr Bänke am Neumarkt")
    assert group.kind is InboundKind.GROUP and group.chat_id == str(telegram_api.group_chat_id)
    assert group.user_id != str(user.id)  # a group member's id is not kept
    assert all(e.channel == "telegram" and e.language_hint == "en" for e in events)
    assert all(e.received_at.tzinfo is not None for e in events)


async def test_in_groups_only_what_addresses_the_bot_becomes_an_event(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = telegram_api.add_user()
    group = {"id": -100_777, "type": "supergroup", "title": "Quartier Ölberg"}
    member = user.to_dict()
    bot = {"id": telegram_api.bot_id, "is_bot": True, "first_name": "Stadtdialog"}

    def service(update_id: int, joined: dict[str, object]) -> dict[str, object]:
        return {"update_id": update_id, "message": {"message_id": update_id, "date": 0, "chat": group,
                                                    "from": member, "new_chat_members": [joined]}}

    telegram_api.deliver_raw(service(900_001, member))  # someone joins: not for the bot
    telegram_api.deliver_raw(service(900_002, bot))  # the bot is added: it says it only talks 1:1
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(900_002))
    assert [(e.kind, e.event_id, e.user_id, e.chat_id) for e in sink.events] == [
        (InboundKind.GROUP, "900002", "-100777", "-100777")]
    assert telegram_api.is_confirmed(900_001)


async def test_button_press_is_stored_then_answered(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    sent = await channel.send(str(user.id), Outbound("Frage?", buttons=((Button("a:q:1", "Eins"),),)))
    message_id = int(sent.message_ids[-1])
    telegram_api.press(user, message_id, "a:q:1")
    events = await sink.wait_for(2)
    await telegram_api.wait_for(lambda: not telegram_api.unanswered_callbacks(), timeout=5)
    press = events[1]
    assert (press.kind, press.payload, press.message_ref) == (InboundKind.BUTTON, "a:q:1", str(message_id))
    assert telegram_api.callback_queries[0].answer_text is None


async def test_duplicate_delivery_is_passed_on_with_the_same_event_id(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = telegram_api.add_user()
    update_id = telegram_api.send_text(user, "Hallo")
    await sink.wait_for(1)
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(update_id))
    original = telegram_api.history(user)[0]
    telegram_api.deliver_raw({"update_id": update_id + 1000, "message": original})
    telegram_api.deliver_raw({"update_id": update_id + 1000, "message": original})
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(update_id + 1000))
    assert [e.event_id for e in sink.events] == [str(update_id), str(update_id + 1000)]


# --- sending -----------------------------------------------------------------------------------------------------


async def test_long_text_is_split_at_paragraphs_with_buttons_on_the_last_part(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    paragraph = "Die Nordbahntrasse verbindet die Quartiere. " * 40  # ~1760 characters
    text = "\n\n".join([paragraph.strip()] * 3)  # ~5300 characters
    buttons = ((Button("m:surveys", "Umfragen"),),)
    sent = await channel.send(str(user.id), Outbound(text, buttons=buttons))
    messages = telegram_api.messages_to(user)
    assert len(sent.message_ids) == len(messages) == 2
    assert messages[0].text == paragraph.strip() + "\n\n" + paragraph.strip()
    assert messages[1].text == paragraph.strip()
    assert messages[0].reply_markup is None
    assert messages[1].button_labels == ["Umfragen"]


async def test_split_counts_utf16_code_units_like_telegram(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    text = "🚲" * 3000  # 3000 characters, 6000 UTF-16 code units
    await channel.send(str(user.id), Outbound(text))
    messages = telegram_api.messages_to(user)
    assert len(messages) == 2
    assert "".join(m.text or "" for m in messages) == text
    assert all(utf16_len(m.text or "") <= 4096 for m in messages)


def test_split_text_prefers_paragraphs_then_lines_then_words() -> None:
    assert split_text("eins zwei\n\ndrei vier", 12) == ["eins zwei", "drei vier"]
    assert split_text("eins zwei\ndrei vier", 12) == ["eins zwei", "drei vier"]
    assert split_text("eins zwei drei vier", 12) == ["eins zwei", "drei vier"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("kurz", 10) == ["kurz"]


async def test_rate_limit_answer_becomes_retry_later_with_telegrams_delay(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    telegram_api.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryLater) as raised:
        await channel.send(str(user.id), Outbound("Hallo"))
    assert raised.value.after == 3
    await channel.send(str(user.id), Outbound("Hallo"))
    assert [m.text for m in telegram_api.messages_to(user)] == ["Hallo"]


async def test_a_retry_after_a_partial_send_continues_with_the_missing_part(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    message = Outbound("\n\n".join(["a" * 4000, "b" * 4000]))
    sent_before = len(telegram_api.calls_to("sendMessage"))

    original = channel._call
    calls = 0

    async def second_part_rate_limited(method: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            telegram_api.fail_next("sendMessage", status=429, retry_after=2)
        return await original(method, *args, **kwargs)

    monkeypatch.setattr(channel, "_call", second_part_rate_limited)
    with pytest.raises(RetryLater):
        await channel.send(str(user.id), message)
    assert [m.text for m in telegram_api.messages_to(user)] == ["a" * 4000]
    await channel.send(str(user.id), message)
    assert [m.text for m in telegram_api.messages_to(user)] == ["a" * 4000, "b" * 4000]
    assert len(telegram_api.calls_to("sendMessage")) - sent_before == 3


async def test_blocked_bot_and_unknown_chat_are_permanent_failures(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    telegram_api.block(user)
    with pytest.raises(PermanentFailure) as blocked:
        await channel.send(str(user.id), Outbound("Hallo"))
    with pytest.raises(PermanentFailure) as unknown:
        await channel.send("424242", Outbound("Hallo"))
    assert (blocked.value.reason, unknown.value.reason) == ("blocked", "chat_not_found")
    assert isinstance(blocked.value, RecipientUnreachableError)  # the contact is marked unreachable
    assert not isinstance(unknown.value, RecipientUnreachableError)


async def test_a_deactivated_account_is_unreachable(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    telegram_api.deactivate(user)
    with pytest.raises(RecipientUnreachableError) as gone:
        await channel.send(str(user.id), Outbound("Hallo"))
    assert gone.value.reason == "deactivated"
    assert telegram_api.calls[-1].description == "Forbidden: user is deactivated"


async def test_a_429_is_reported_as_the_chats_rate_limit_with_the_servers_delay(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    telegram_api.fail_next("sendMessage", status=429, retry_after=4)
    with pytest.raises(RetryLater) as limited:
        await channel.send(str(user.id), Outbound("Hallo"))
    assert (limited.value.after, limited.value.rate_limit) == (4.0, RATE_LIMIT_CHAT)


async def test_server_errors_and_timeouts_become_retry_later_with_backoff(
    telegram_api: TelegramApiServer, sink: RecordingSink
) -> None:
    channel = make_channel(telegram_api, request_timeout=0.5)
    await channel.start(sink)
    try:
        user = await citizen_who_wrote(telegram_api, sink)
        telegram_api.fail_next("sendMessage", status=502, times=2)
        with pytest.raises(RetryLater) as first:
            await channel.send(str(user.id), Outbound("Hallo"))
        with pytest.raises(RetryLater) as second:
            await channel.send(str(user.id), Outbound("Hallo"))
        assert 0 < first.value.after < second.value.after
        telegram_api.delay_next("sendMessage", 1.5)
        with pytest.raises(RetryLater):
            await channel.send(str(user.id), Outbound("Hallo"))
    finally:
        await channel.stop()


async def test_edit_replaces_the_message_and_falls_back_to_a_new_one(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    chat = str(user.id)
    question = await channel.send(chat, Outbound("Frage 1", buttons=((Button("a:q:ja", "Ja"),),)))
    ref = question.message_ids[0]
    edited = await channel.send(chat, Outbound("Frage 1 ✓ Ja", replaces=ref))
    assert edited.message_ids == (ref,)
    message = telegram_api.messages_to(user)[0]
    assert (message.text, message.reply_markup, message.edit_count) == ("Frage 1 ✓ Ja", None, 1)
    # the same edit again: Telegram says "not modified", which is what we wanted anyway
    assert (await channel.send(chat, Outbound("Frage 1 ✓ Ja", replaces=ref))).message_ids == (ref,)
    # a message that is gone or not the bot's: a new message instead
    await channel.send(chat, Outbound("Neu", replaces="99999"))
    user_message = str(telegram_api.history(user)[0]["message_id"])
    await channel.send(chat, Outbound("Auch neu", replaces=user_message))
    assert [m.text for m in telegram_api.messages_to(user)] == ["Frage 1 ✓ Ja", "Neu", "Auch neu"]


async def test_document_carries_a_short_text_as_caption_and_a_long_one_before_it(
    telegram_api: TelegramApiServer, sink: RecordingSink, channel: TelegramChannel
) -> None:
    user = await citizen_who_wrote(telegram_api, sink)
    export = Document("meine-daten.json", json.dumps({"antworten": [1, 2, 3]}).encode())
    await channel.send(str(user.id), Outbound("Ihre Daten", document=export))
    await channel.send(str(user.id), Outbound("L" * 1500, document=export))
    first, text, second = telegram_api.messages_to(user)
    assert first.caption == "Ihre Daten" and first.document is not None
    assert first.document.file_name == "meine-daten.json" and first.document.content == export.content
    assert text.text == "L" * 1500
    assert second.caption is None and second.document is not None


async def test_pacer_spaces_sends_at_the_configured_rate(
    telegram_api: TelegramApiServer, sink: RecordingSink
) -> None:
    channel = make_channel(telegram_api, rate_limit=20)
    await channel.start(sink)
    try:
        user = await citizen_who_wrote(telegram_api, sink)
        started = time.monotonic()
        await asyncio.gather(*(channel.send(str(user.id), Outbound(f"Nachricht {n}")) for n in range(6)))
        assert time.monotonic() - started >= 5 / 20 * 0.9
    finally:
        await channel.stop()


# --- webhook -----------------------------------------------------------------------------------------------------


@pytest.fixture
async def webhook_channel(
    telegram_api: TelegramApiServer, sink: RecordingSink
) -> AsyncIterator[TelegramChannel]:
    port = free_port()
    tg = make_channel(telegram_api, mode="webhook", webhook_url=f"http://127.0.0.1:{port}/telegram",
                      webhook_secret="geheim-123", webhook_listen=f"127.0.0.1:{port}")
    await tg.start(sink)
    try:
        yield tg
    finally:
        await tg.stop()


async def post(channel: TelegramChannel, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with aiohttp.ClientSession() as session, session.post(
        f"http://{channel.webhook_listen}/telegram", data=body, headers=headers
    ) as response:
        return response.status


async def test_webhook_refuses_wrong_secret_oversize_and_garbage(
    telegram_api: TelegramApiServer, sink: RecordingSink, webhook_channel: TelegramChannel
) -> None:
    update = {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"},
                                          "from": {"id": 7, "is_bot": False, "first_name": "E"}, "text": "Hi"}}
    body = json.dumps(update).encode()
    assert await post(webhook_channel, body, None) == 403
    assert await post(webhook_channel, body, "falsch") == 403
    assert await post(webhook_channel, b"{" * (1024 * 1024 + 10), "geheim-123") == 413
    assert await post(webhook_channel, b"{kein json", "geheim-123") == 400
    assert sink.accept_calls == 0
    assert await post(webhook_channel, body, "geheim-123") == 200
    assert [e.text for e in sink.events] == ["Hi"]


async def test_webhook_delivery_is_acknowledged_after_storing_and_redelivered_after_an_error(
    telegram_api: TelegramApiServer, sink: RecordingSink, webhook_channel: TelegramChannel
) -> None:
    assert telegram_api.webhook_url == f"http://{webhook_channel.webhook_listen}/telegram"
    sink.failures_left = 1
    user = telegram_api.add_user()
    update_id = telegram_api.send_text(user, "Hallo")
    await sink.wait_for(1, timeout=5)
    await telegram_api.wait_for(lambda: telegram_api.is_confirmed(update_id))
    assert [a.status for a in telegram_api.webhook_attempts] == [500, 200]
    assert telegram_api.webhook_redeliveries == 1


async def test_the_pacer_is_told_how_many_bot_api_messages_a_message_becomes(channel: TelegramChannel) -> None:
    assert channel.parts(Outbound("Hallo")) == 1
    assert channel.parts(Outbound("a" * 4000 + "\n\n" + "b" * 4000)) == 2
    document = Document("daten.json", b"{}", "application/json")
    assert channel.parts(Outbound("Ihre Daten", document=document)) == 1  # the text is the caption
    assert channel.parts(Outbound("c" * 2000, document=document)) == 2  # too long for a caption: text, then file
    assert channel.parts(Outbound("c" * 5000, document=document)) == 3
