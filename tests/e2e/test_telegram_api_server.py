"""The emulated Bot API is as strict as Telegram: proven through python-telegram-bot's real HTTP layer."""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import telegram
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut

from tests.e2e.telegram_api import SECRET_TOKEN_HEADER, SimulationError, TelegramApiServer, User

pytestmark = pytest.mark.e2e


def bot_for(server: TelegramApiServer, token: str | None = None) -> telegram.Bot:
    return telegram.Bot(token or server.token, base_url=server.base_url, base_file_url=server.base_file_url)


@pytest.fixture
async def bot(telegram_api: TelegramApiServer) -> AsyncIterator[telegram.Bot]:
    async with bot_for(telegram_api) as started:
        yield started


@pytest.fixture
def citizen(telegram_api: TelegramApiServer) -> User:
    """A citizen who has opened the chat with the bot (so the bot may answer)."""
    user = telegram_api.add_user(first_name="Erika")
    telegram_api.send_text(user, "/start")
    return user


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)] for label, data in buttons])


class Receiver:
    """A webhook endpoint on loopback that answers with queued status codes (200 once they run out)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = deque(statuses)
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        self.received.append((request.headers.get(SECRET_TOKEN_HEADER), await request.json()))
        return web.Response(status=self.statuses.popleft() if self.statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


async def elapsed(action: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
    started = time.monotonic()
    result = await action()
    return result, time.monotonic() - started


# --- protocol ------------------------------------------------------------------------------------------------------


async def test_bot_identity_is_served_and_method_names_are_case_insensitive(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "stadtdialog_test_bot", True)
    url = f"{telegram_api.base_url}{telegram_api.token}/GETme"
    async with aiohttp.ClientSession() as http, http.get(url) as answer:
        assert answer.status == 200
        assert (await answer.json())["result"]["username"] == "stadtdialog_test_bot"


async def test_parameters_arrive_by_query_string_form_json_and_multipart(
    telegram_api: TelegramApiServer, citizen: User
) -> None:
    url = f"{telegram_api.base_url}{telegram_api.token}/sendMessage"
    markup = '{"inline_keyboard": [[{"text": "Ja", "callback_data": "ja"}]]}'
    multipart = aiohttp.FormData({"chat_id": str(citizen.id), "text": "multipart", "reply_markup": markup},
                                 default_to_multipart=True)
    async with aiohttp.ClientSession() as http:
        for request in (
            http.get(url, params={"chat_id": citizen.id, "text": "query"}),
            http.post(url, data={"chat_id": str(citizen.id), "text": "form", "reply_markup": markup}),
            http.post(url, json={"chat_id": citizen.id, "text": "json",
                                 "reply_markup": {"inline_keyboard": [[{"text": "Ja", "callback_data": "ja"}]]}}),
            http.post(url, data=multipart),
        ):
            async with request as response:
                body = await response.json()
                assert response.status == 200 and body["ok"] is True, body

    sent = telegram_api.messages_to(citizen)
    assert [m.text for m in sent] == ["query", "form", "json", "multipart"]
    assert [m.button_labels for m in sent] == [[], ["Ja"], ["Ja"], ["Ja"]]


async def test_wrong_token_is_unauthorized_and_unknown_method_is_not_found(telegram_api: TelegramApiServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{telegram_api.base_url}123456:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.post(f"{telegram_api.base_url}{telegram_api.token}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    impostor = bot_for(telegram_api, token="123456:WRONG")
    with pytest.raises(InvalidToken):
        await impostor.get_me()
    await impostor.shutdown()


# --- sendMessage ---------------------------------------------------------------------------------------------------


async def test_bot_may_only_message_citizens_who_wrote_first(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    stranger = telegram_api.add_user(first_name="Fremd")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(stranger.id, "Hallo")
    telegram_api.send_text(stranger, "Hallo Bot")
    await bot.send_message(stranger.id, "Hallo")
    assert [m.text for m in telegram_api.messages_to(stranger)] == ["Hallo"]


async def test_empty_and_blank_texts_are_refused(bot: telegram.Bot, citizen: User) -> None:
    for text, mode in (("", None), ("  \n ", None), ("<b> </b>", "HTML")):
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(citizen.id, text, parse_mode=mode)


async def test_text_limit_counts_utf16_code_units_after_markup_is_removed(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    await bot.send_message(citizen.id, "a" * 4096)
    await bot.send_message(citizen.id, "😀" * 2048)  # 2 code units each
    await bot.send_message(citizen.id, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    for too_long in ("a" * 4097, "😀" * 2048 + "a"):
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(citizen.id, too_long)
    assert len(telegram_api.messages_to(citizen)) == 3


async def test_html_must_be_well_formed_and_entities_use_utf16_offsets(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    for broken, reason in (("3 < 4", 'unsupported start tag ""'), ("<b>fett", 'end tag corresponding to start tag "b"'),
                           ("<p>Absatz</p>", 'unsupported start tag "p"'), ("<b>x</i>", "unmatched end tag")):
        with pytest.raises(BadRequest, match=rf"(?i)can't parse entities: .*{reason}"):
            await bot.send_message(citizen.id, broken, parse_mode="HTML")
    sent = await bot.send_message(citizen.id, "😀 <b>3 &lt; 4 &amp; gut</b>", parse_mode="HTML")
    assert sent.text == "😀 3 < 4 & gut"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 11)]
    assert telegram_api.messages_to(citizen)[0].raw_text == "😀 <b>3 &lt; 4 &amp; gut</b>"


async def test_markdown_v2_reserved_characters_must_be_escaped(bot: telegram.Bot, citizen: User) -> None:
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(citizen.id, "Danke.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)can't find end of bold entity"):
        await bot.send_message(citizen.id, "*offen", parse_mode="MarkdownV2")
    sent = await bot.send_message(citizen.id, "*Danke* für _Ihre_ Idee\\!", parse_mode="MarkdownV2")
    assert sent.text == "Danke für Ihre Idee!"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 5), ("italic", 10, 4)]


async def test_unknown_parse_mode_is_refused(bot: telegram.Bot, citizen: User) -> None:
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(citizen.id, "Hallo", parse_mode="Textile")


async def test_callback_data_must_be_1_to_64_bytes(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    await bot.send_message(citizen.id, "Frage", reply_markup=keyboard(("Ja", "ä" * 32)))  # 64 bytes in UTF-8
    for data in ("ä" * 33, ""):
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(citizen.id, "Frage", reply_markup=keyboard(("Ja", data)))
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed in the inline keyboard"):
        await bot.send_message(citizen.id, "Frage", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x")]]))
    assert len(telegram_api.messages_to(citizen)) == 1


async def test_reply_to_a_missing_message_is_refused(bot: telegram.Bot, citizen: User) -> None:
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(citizen.id, "Antwort", reply_to_message_id=999)
    sent = await bot.send_message(citizen.id, "Antwort", reply_to_message_id=1)
    assert sent.reply_to_message is not None and sent.reply_to_message.text == "/start"


async def test_message_ids_grow_per_chat_across_both_sides_and_dates_are_unix_seconds(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    first = await bot.send_message(citizen.id, "eins")
    telegram_api.send_text(citizen, "zwei")
    second = await bot.send_message(citizen.id, "drei")
    other = telegram_api.add_user(first_name="Max")
    telegram_api.send_text(other, "Hallo")
    third = await bot.send_message(other.id, "Hallo Max")
    assert (first.message_id, second.message_id, third.message_id) == (2, 4, 2)
    assert abs(first.date.timestamp() - time.time()) < 5
    assert isinstance(telegram_api.history(citizen)[0]["date"], int)


# --- editing and callbacks -----------------------------------------------------------------------------------------


async def test_edit_with_identical_content_is_not_modified_and_an_edit_without_markup_drops_the_keyboard(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    sent = await bot.send_message(citizen.id, "Frage 1", reply_markup=keyboard(("Ja", "q1:ja")))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Frage 1", citizen.id, sent.message_id, reply_markup=keyboard(("Ja", "q1:ja")))
    await bot.edit_message_text("Frage 1", citizen.id, sent.message_id)
    [current] = telegram_api.messages_to(citizen)
    assert (current.text, current.reply_markup, current.edit_count) == ("Frage 1", None, 1)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(citizen.id, sent.message_id, reply_markup=None)
    await bot.edit_message_reply_markup(citizen.id, sent.message_id, reply_markup=keyboard(("Nein", "q1:nein")))
    assert telegram_api.messages_to(citizen)[0].button_labels == ["Nein"]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("neu", citizen.id, 999)
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("neu", citizen.id, 1)  # the citizen's own /start


async def test_each_callback_query_is_answered_once_and_unanswered_ones_are_visible(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    sent = await bot.send_message(citizen.id, "Frage", reply_markup=keyboard(("Ja", "ja"), ("Nein", "nein")))
    telegram_api.press(citizen, sent.message_id, telegram_api.messages_to(citizen)[0].callback_data("Nein"))
    update = (await bot.get_updates())[-1]
    assert update.callback_query is not None and update.callback_query.data == "nein"
    assert [q.data for q in telegram_api.unanswered_callbacks()] == ["nein"]
    assert await bot.answer_callback_query(update.callback_query.id, text="Danke!")
    assert telegram_api.unanswered_callbacks() == []
    for query_id in (update.callback_query.id, "4711"):
        with pytest.raises(BadRequest, match="Query is too old and response timeout expired or query id is invalid"):
            await bot.answer_callback_query(query_id)


async def test_callback_queries_expire() -> None:
    async with TelegramApiServer(callback_query_ttl=0.2) as server, bot_for(server) as bot:
        user = server.add_user()
        server.send_text(user, "/start")
        sent = await bot.send_message(user.id, "Frage", reply_markup=keyboard(("Ja", "ja")))
        server.press(user, sent.message_id, "ja")
        query = (await bot.get_updates())[-1].callback_query
        assert query is not None
        await asyncio.sleep(0.3)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query(query.id)


async def test_pressing_a_button_that_is_not_on_the_message_is_a_test_error(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    sent = await bot.send_message(citizen.id, "Frage", reply_markup=keyboard(("Ja", "ja")))
    with pytest.raises(SimulationError):
        telegram_api.press(citizen, sent.message_id, "vielleicht")
    with pytest.raises(SimulationError):
        telegram_api.press(citizen, 1, "ja")  # the citizen's own message has no buttons
    await bot.edit_message_reply_markup(citizen.id, sent.message_id, reply_markup=None)
    with pytest.raises(SimulationError):
        telegram_api.press(citizen, sent.message_id, "ja")  # the keyboard is gone


async def test_citizen_edits_arrive_as_edited_messages(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    telegram_api.send_text(citizen, "Mehr Radwege")
    telegram_api.edit_text(citizen, 2, "Mehr sichere Radwege")
    updates = await bot.get_updates()
    edited = updates[-1].edited_message
    assert edited is not None and (edited.message_id, edited.text) == (2, "Mehr sichere Radwege")
    assert edited.edit_date is not None


# --- getUpdates ----------------------------------------------------------------------------------------------------


async def test_offset_confirms_updates_for_good_and_a_negative_offset_forgets_older_ones(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    user = telegram_api.add_user()
    first, second, third = (telegram_api.send_text(user, f"Nachricht {n}") for n in (1, 2, 3))

    async def ids(**kwargs: Any) -> list[int]:
        return [update.update_id for update in await bot.get_updates(**kwargs)]

    assert await ids() == [first, second, third]
    assert await ids() == [first, second, third]  # fetching confirms nothing
    assert await ids(offset=second) == [second, third]
    assert await ids() == [second, third]  # `first` is confirmed and never comes back
    assert telegram_api.is_confirmed(first)
    assert await ids(limit=1) == [second]
    assert await ids(offset=-1) == [third]
    assert await ids() == [third]  # `second` was forgotten
    assert await ids(offset=third + 1) == []
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_long_poll_returns_as_soon_as_an_update_arrives(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    user = telegram_api.add_user()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    update_id = telegram_api.send_text(user, "Hallo")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [update_id]
    assert time.monotonic() - started < 0.5


async def test_long_poll_without_updates_waits_for_its_timeout(bot: telegram.Bot) -> None:
    updates, seconds = await elapsed(lambda: bot.get_updates(timeout=1))
    assert updates == ()
    assert 0.9 <= seconds < 2


async def test_a_second_poller_terminates_the_first_with_conflict(telegram_api: TelegramApiServer) -> None:
    async with bot_for(telegram_api) as first_instance, bot_for(telegram_api) as second_instance:
        first_poll = asyncio.create_task(first_instance.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        assert await second_instance.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first_poll


async def test_allowed_updates_filter_updates_created_after_the_call(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert len(updates) == 1  # the /start already waited and is still delivered
    ignored = telegram_api.send_text(citizen, "wird nicht zugestellt")
    sent = await bot.send_message(citizen.id, "Frage", reply_markup=keyboard(("Ja", "ja")))
    pressed = telegram_api.press(citizen, sent.message_id, "ja")
    assert [u.update_id for u in await bot.get_updates(offset=updates[-1].update_id + 1)] == [pressed]
    assert telegram_api.dropped_update_ids == [ignored]


# --- webhooks ------------------------------------------------------------------------------------------------------


async def test_webhook_delivers_in_order_with_the_secret_and_redelivers_after_an_error(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    user = telegram_api.add_user()
    async with Receiver([500]) as receiver:
        assert await bot.set_webhook(receiver.url, secret_token="geheim_123-ABC")
        first = telegram_api.send_text(user, "eins")
        second = telegram_api.send_text(user, "zwei")
        await telegram_api.wait_for(lambda: telegram_api.webhook_deliveries == 2, timeout=5)

        assert [body["update_id"] for _, body in receiver.received] == [first, first, second]
        assert {secret for secret, _ in receiver.received} == {"geheim_123-ABC"}
        delivered = Update.de_json(receiver.received[-1][1], bot).message
        assert delivered is not None and delivered.text == "zwei"
        assert (telegram_api.webhook_redeliveries, telegram_api.webhook_failures) == (1, 1)
        info = await bot.get_webhook_info()
        assert info.url == receiver.url and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates()

        telegram_api.deliver_raw(receiver.received[-1][1])  # Telegram may deliver an update twice
        await telegram_api.wait_for(lambda: len(receiver.received) == 4, timeout=5)
        assert receiver.received[-1][1]["update_id"] == second

        assert await bot.delete_webhook()
        third = telegram_api.send_text(user, "drei")
        await asyncio.sleep(0.1)
        assert len(receiver.received) == 4
        assert [u.update_id for u in await bot.get_updates()] == [third]


async def test_webhook_keeps_updates_while_the_receiver_is_unreachable(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    user = telegram_api.add_user()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    await bot.set_webhook(url)
    telegram_api.send_text(user, "Hallo")
    await telegram_api.wait_for(lambda: telegram_api.webhook_failures >= 2, timeout=5)
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1 and info.last_error_message == "Connection refused"


async def test_set_webhook_checks_secret_token_and_target(bot: telegram.Bot) -> None:
    for secret in ("mit leerzeichen", "x" * 257, "ümlaut"):
        with pytest.raises(BadRequest, match="Secret token contains unallowed characters"):
            await bot.set_webhook("http://127.0.0.1:9/hook", secret_token=secret)
    with pytest.raises(BadRequest, match="Bad webhook"):
        await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == ""


# --- files ---------------------------------------------------------------------------------------------------------


async def test_uploaded_document_arrives_byte_for_byte_and_can_be_downloaded(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    content = bytes(range(256)) * 400
    sent = await bot.send_document(citizen.id, content, filename="Übersicht_Ideen.csv", caption="Ihre Daten")
    [message] = telegram_api.messages_to(citizen)
    assert message.document is not None
    assert (message.document.file_name, message.document.mime_type) == ("Übersicht_Ideen.csv", "text/csv")
    assert message.document.content == content and message.caption == "Ihre Daten"
    assert sent.document is not None and sent.document.file_size == len(content)
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


async def test_document_rules(bot: telegram.Bot, citizen: User) -> None:
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(citizen.id, b"x", filename="a.txt", caption="a" * 1025)
    with pytest.raises(BadRequest, match="File must be non-empty"):
        await bot.send_document(citizen.id, b"", filename="leer.txt")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_document(citizen.id, "no-such-file-id")


async def test_citizen_media_arrive_and_their_files_can_be_downloaded(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    telegram_api.send_sticker(citizen)
    telegram_api.send_photo(citizen, caption="Schlagloch")
    telegram_api.send_voice(citizen)
    telegram_api.send_document(citizen, file_name="plan.pdf", content=b"%PDF-1.7 Plan")
    messages = [u.message for u in (await bot.get_updates())[1:] if u.message is not None]
    assert len(messages) == 4
    sticker, photo, voice, document = messages
    assert sticker.sticker is not None and photo.photo and photo.caption == "Schlagloch"
    assert voice.voice is not None and document.document is not None
    assert bytes(await (await document.document.get_file()).download_as_bytearray()) == b"%PDF-1.7 Plan"


# --- fault injection -----------------------------------------------------------------------------------------------


async def test_injected_flood_error_raises_retry_after_and_nothing_is_sent(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    telegram_api.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(citizen.id, "Hallo")
    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    assert telegram_api.messages_to(citizen) == []
    await bot.send_message(citizen.id, "Hallo")
    assert [c.status for c in telegram_api.calls_to("sendMessage")] == [429, 200]


async def test_injected_server_errors_are_network_errors(telegram_api: TelegramApiServer, bot: telegram.Bot) -> None:
    telegram_api.fail_next("getUpdates", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as raised:
            await bot.get_updates()
        assert not isinstance(raised.value, BadRequest)
    assert await bot.get_updates() == ()


async def test_a_delayed_call_times_out_for_the_client_yet_is_carried_out(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    telegram_api.delay_next("sendMessage", 0.6)
    with pytest.raises(TimedOut):
        await bot.send_message(citizen.id, "Hallo", read_timeout=0.2)
    [message] = await telegram_api.wait_for_messages(citizen, 1, timeout=3)
    assert message.text == "Hallo"


async def test_latency_is_added_to_every_answer(telegram_api: TelegramApiServer, bot: telegram.Bot) -> None:
    telegram_api.latency = 0.2
    _, seconds = await elapsed(bot.get_me)
    assert seconds >= 0.2


async def test_flood_limits_per_chat_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with TelegramApiServer(enforce_rate_limits=True) as server, bot_for(server) as bot:
        busy, calm = server.add_user(), server.add_user()
        server.send_text(busy, "/start")
        server.send_text(calm, "/start")
        for n in range(3):
            await bot.send_message(busy.id, f"Nachricht {n}")
        with pytest.raises(RetryAfter):
            await bot.send_message(busy.id, "zu schnell")
        await bot.send_message(calm.id, "andere Unterhaltung")


async def test_flood_limit_across_chats_answers_like_the_bot_api_and_is_counted() -> None:
    async with TelegramApiServer(enforce_rate_limits=True, overall_rate=5, chat_burst=10) as server:
        users = [server.add_user() for _ in range(7)]
        for user in users:
            server.open_chat(user)
        async with aiohttp.ClientSession() as session:
            answers = []
            for user in users:
                async with session.post(f"{server.base_url}{server.token}/sendMessage",
                                        json={"chat_id": user.id, "text": "Einladung"}) as response:
                    answers.append((response.status, await response.json()))
    assert [status for status, _ in answers] == [200] * 5 + [429] * 2
    assert answers[-1][1] == {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                              "parameters": {"retry_after": 1}}
    assert server.http_429 == 2
    assert all(not server.messages_to(user) for user in users[5:])  # refused messages are not delivered


async def test_a_chat_opened_earlier_can_be_messaged_without_a_pending_update(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    citizen = telegram_api.add_user()
    telegram_api.open_chat(citizen)
    await bot.send_message(citizen.id, "Neue Umfrage")
    assert [m.text for m in telegram_api.messages_to(citizen)] == ["Neue Umfrage"]
    assert telegram_api.pending_updates() == []


async def test_a_deactivated_account_cannot_be_messaged(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    telegram_api.deactivate(citizen)
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(citizen.id, "Hallo")


# --- chats, commands, actions --------------------------------------------------------------------------------------


async def test_blocking_citizen_makes_sending_forbidden_until_unblocked(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    telegram_api.block(citizen)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(citizen.id, "Hallo")
    with pytest.raises(SimulationError):
        telegram_api.send_text(citizen, "Hallo")
    member_update = (await bot.get_updates())[-1].my_chat_member
    assert member_update is not None and member_update.new_chat_member.status == "kicked"
    telegram_api.unblock(citizen)
    await bot.send_message(citizen.id, "Willkommen zurück")


async def test_group_messages_commands_and_leaving_a_group(
    telegram_api: TelegramApiServer, bot: telegram.Bot
) -> None:
    member = telegram_api.add_user(first_name="Gruppenmitglied")
    telegram_api.send_group_text(member, "/start@stadtdialog_test_bot bitte")
    message = (await bot.get_updates())[-1].message
    assert message is not None and message.chat.type == "group" and message.chat.id < 0
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 27)]
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(member.id, "privat")
    await bot.send_message(message.chat.id, "Bitte schreiben Sie mir privat.")
    assert await bot.leave_chat(message.chat.id)
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(message.chat.id, "noch da?")


async def test_commands_are_stored_per_scope_and_language(telegram_api: TelegramApiServer, bot: telegram.Bot) -> None:
    german = [BotCommand("start", "Beginnen"), BotCommand("meinedaten", "Meine Daten")]
    assert await bot.set_my_commands(german)
    assert await bot.set_my_commands([BotCommand("start", "Begin")], scope=BotCommandScopeAllPrivateChats(),
                                     language_code="en")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "meinedaten"]
    english = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="en")
    assert [(c.command, c.description) for c in english] == [("start", "Begin")]
    for bad in (BotCommand("Start", "Groß"), BotCommand("/start", "Strich"), BotCommand("start", "")):
        with pytest.raises(BadRequest, match=r"(?i)bot_command"):
            await bot.set_my_commands([bad])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert len(telegram_api.bot_commands(language_code="en")) == 0


async def test_chat_action_must_be_a_known_action(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    assert await bot.send_chat_action(citizen.id, "typing")
    with pytest.raises(BadRequest, match="Wrong parameter action in request"):
        await bot.send_chat_action(citizen.id, "dancing")
    assert telegram_api.chat_actions(citizen) == ["typing"]


async def test_deleted_bot_messages_disappear_from_the_chat(
    telegram_api: TelegramApiServer, bot: telegram.Bot, citizen: User
) -> None:
    sent = await bot.send_message(citizen.id, "kurzlebig")
    assert await bot.delete_message(citizen.id, sent.message_id)
    assert telegram_api.messages_to(citizen) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(citizen.id, sent.message_id)
