"""Telegram adapter (python-telegram-bot 22.8): updates → `Inbound`, `Outbound` → Bot API calls.

Updates are acknowledged only after `EventSink.accept` has stored them: in polling mode by the offset of the
*next* getUpdates call (PTB's stock `Updater` confirms before handling, so this module runs its own loop), in
webhook mode by the HTTP 200. Rendering follows Telegram's limits: texts over 4096 UTF-16 code units are split
at paragraph/line/word boundaries (buttons go on the last part), captions over 1024 are sent as text first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import random
import signal
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from telegram import Bot, BotCommand, InlineKeyboardMarkup, InputFile, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.channels.base import (
    RATE_LIMIT_CHAT,
    ChannelStartError,
    ChannelUnreachableError,
    EventSink,
    PermanentFailure,
    RecipientUnreachableError,
    RetryLater,
    SentMessage,
)
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_inbound import CHANNEL, convert_update
from bot.channels.telegram_render import CAPTION_LIMIT, keyboard, split_text, utf16_len
from bot.config import PREFIX, Config, ConfigError
from handlers.events import Inbound, Outbound

log = logging.getLogger(__name__)

MAX_WEBHOOK_BODY = 1024 * 1024
WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TRACKED_PARTIAL_SENDS = 10_000
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
CRASH_AFTER_ACCEPT_ENV = PREFIX + "TEST_CRASH_AFTER_ACCEPT"
"""Test-only: when "1", the process SIGKILLs itself right after the first non-empty `accept` returned
(events committed, not yet acknowledged upstream, not yet processed). Never set this in production."""

# Command-menu metadata (not dialogue text): shown by Telegram clients next to "/"; the commands /hilfe lists.
BOT_COMMANDS: Mapping[str, Sequence[tuple[str, str]]] = {
    "de": (
        ("start", "Dialog beginnen"),
        ("umfragen", "Laufende Umfragen anzeigen"),
        ("idee", "Eine Idee einreichen"),
        ("ideen", "Ideen anderer ansehen und unterstützen"),
        ("weiter", "Angefangene Umfrage fortsetzen"),
        ("zurueck", "Zur vorigen Frage"),
        ("abbrechen", "Aktuellen Vorgang abbrechen"),
        ("abo", "Einladungen und Nachfragen ein/aus"),
        ("pause", "Eine Zeit lang nichts von sich aus"),
        ("stop", "Nichts mehr von sich aus schicken"),
        ("meinedaten", "Gespeicherte Daten anzeigen"),
        ("meineideen", "Meine Ideen und ihr Stand"),
        ("loeschen", "Alle meine Daten löschen"),
        ("ueberspringen", "Freiwillige Frage auslassen"),
        ("sprache", "Sprache wählen / English"),
        ("datenschutz", "Datenschutzhinweise"),
        ("menu", "Hauptmenü"),
        ("hilfe", "Hilfe und Befehle"),
    ),
    "en": (
        ("start", "Start the dialogue"),
        ("umfragen", "Show open surveys"),
        ("idee", "Submit an idea"),
        ("ideen", "See and support others' ideas"),
        ("weiter", "Continue a started survey"),
        ("zurueck", "Back to the previous question"),
        ("abbrechen", "Cancel the current step"),
        ("abo", "Invitations and follow-ups on/off"),
        ("pause", "Nothing unasked for a while"),
        ("stop", "Send me nothing unasked any more"),
        ("meinedaten", "Show the data stored about me"),
        ("meineideen", "My ideas and what became of them"),
        ("loeschen", "Delete all my data"),
        ("ueberspringen", "Skip an optional question"),
        ("sprache", "Deutsch / choose the language"),
        ("datenschutz", "Privacy notice"),
        ("menu", "Main menu"),
        ("hilfe", "Help and commands"),
    ),
}


class TelegramStartError(ChannelStartError):
    """The Telegram channel could not start (the message says why; it never contains the token)."""


class TelegramTokenError(TelegramStartError, ConfigError):
    """The Bot API rejected the configured token (getMe answered 401/404)."""


class TelegramUnreachableError(TelegramStartError, ChannelUnreachableError):
    """The Bot API could not be reached at start (network, timeout, 5xx); the runtime tries again later."""


# --- the channel ------------------------------------------------------------------------------------------------


@dataclass
class _Pacer:
    """Spaces all sends evenly at `rate` per second (Telegram allows ~30 messages/s across chats)."""

    rate: float
    _next: float = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class _Progress:
    """Parts of a split message already delivered, so a retry after a 429 does not repeat them."""

    sent: list[str] = field(default_factory=list)


class TelegramChannel:
    """The Telegram channel: polling or webhook in, Bot API calls out (see the module docstring)."""

    name = CHANNEL

    def __init__(
        self,
        token: str,
        *,
        api_url: str = "https://api.telegram.org",
        mode: str = "polling",
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_listen: str = "127.0.0.1:8443",
        poll_timeout: float = 30.0,
        rate_limit: float | None = 25.0,
        request_timeout: float = 10.0,
        connection_pool_size: int = 256,
        crash_after_accept: bool = False,
    ) -> None:
        if mode not in ("polling", "webhook"):
            raise ConfigError(PREFIX + "TELEGRAM_MODE", f"expected polling or webhook, got {mode!r}")
        if mode == "webhook" and not (webhook_url and webhook_secret):
            raise ConfigError(PREFIX + "TELEGRAM_WEBHOOK_SECRET", "webhook mode needs a webhook URL and secret")
        api_url = api_url.rstrip("/")
        self.mode = mode
        self.webhook_url = webhook_url
        self._webhook_secret = (webhook_secret or "").encode()
        self.webhook_listen = webhook_listen
        self.poll_timeout = poll_timeout
        self.crash_after_accept = crash_after_accept
        self.bot = Bot(
            token,
            base_url=f"{api_url}/bot",
            base_file_url=f"{api_url}/file/bot",
            request=AiohttpRequest(connection_pool_size, request_timeout),
            get_updates_request=AiohttpRequest(1, request_timeout),
        )
        self._pacer = _Pacer(rate_limit) if rate_limit else None
        self._sink: EventSink | None = None
        self._poller: asyncio.Task[None] | None = None
        self._accepting = False
        self._stopping = False
        self._offset: int | None = None
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._failures: dict[str, int] = {}
        self._progress: dict[tuple[str, str | int], _Progress] = {}  # by outbox key (or content hash)
        self.bot_username: str | None = None

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> TelegramChannel:
        """Build from the configuration; `environ` is only consulted for the test-only crash knob."""
        if not config.telegram_token:
            raise ConfigError(PREFIX + "TELEGRAM_TOKEN", "not set")
        env = os.environ if environ is None else environ
        return cls(
            config.telegram_token,
            api_url=config.telegram_api_url,
            mode=config.telegram_mode,
            webhook_url=config.telegram_webhook_url,
            webhook_secret=config.telegram_webhook_secret,
            webhook_listen=config.telegram_webhook_listen,
            rate_limit=None,  # the outbox paces every send (bot/pacing.py, STADTDIALOG_TELEGRAM_RATE)
            crash_after_accept=env.get(CRASH_AFTER_ACCEPT_ENV, "") == "1",
        )

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Check the token (getMe), publish the command menu, then start polling or the webhook server."""
        self._sink = sink
        self._stopping = False
        try:
            await self.bot.initialize()
        except InvalidToken:
            raise TelegramTokenError(PREFIX + "TELEGRAM_TOKEN", "the Bot API rejected the token (getMe)") from None
        except NetworkError as exc:  # TimedOut included
            raise TelegramUnreachableError(f"Telegram Bot API unreachable at start: {exc.message}") from None
        except TelegramError as exc:
            raise TelegramStartError(f"Telegram Bot API refused getMe: {exc.message}") from None
        self.bot_username = self.bot.username
        await self._publish_commands()
        try:
            if self.mode == "webhook":
                await self._start_webhook()
            else:
                await self.bot.delete_webhook(drop_pending_updates=False)  # getUpdates is refused while one is set
        except NetworkError:
            raise TelegramUnreachableError(f"Telegram Bot API unreachable during the {self.mode} set-up") from None
        except TelegramError as exc:
            raise TelegramStartError(f"Telegram refused the {self.mode} set-up: {exc.message}") from None
        if self.mode == "polling":
            self._poller = asyncio.create_task(self._poll_loop(), name="telegram:poll")
        log.info("event=telegram_started mode=%s", self.mode)

    async def _publish_commands(self) -> None:
        for language, commands in BOT_COMMANDS.items():
            entries = [BotCommand(name, description) for name, description in commands]
            try:
                # English is the default menu; German clients get theirs.
                await self.bot.set_my_commands(entries, language_code=None if language == "en" else language)
            except TelegramError as exc:  # a missing menu must not keep the bot from answering
                log.warning("event=telegram_set_commands_failed language=%s error=%s", language, type(exc).__name__)

    async def stop(self) -> None:
        """Stop receiving; whatever was accepted stays stored (and unacknowledged updates are redelivered)."""
        self._stopping = True
        if self._poller is not None:
            if not self._accepting:
                self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
            await self._confirm_offset()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        await self.bot.shutdown()
        log.info("event=telegram_stopped")

    async def _confirm_offset(self) -> None:
        """Tell Telegram which updates are stored, so a restart does not fetch them again (best effort)."""
        if self._offset is None:
            return
        with contextlib.suppress(TelegramError):  # redelivered updates are dropped as duplicates anyway
            await self.bot.get_updates(offset=self._offset, timeout=0, limit=1, allowed_updates=ALLOWED_UPDATES,
                                       read_timeout=2)

    # --- inbound -----------------------------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset, timeout=int(self.poll_timeout), allowed_updates=ALLOWED_UPDATES
                )
            except RetryAfter as exc:
                await asyncio.sleep(_retry_after_seconds(exc))
                continue
            except TimedOut:
                continue
            except InvalidToken:
                log.error("event=telegram_token_rejected hint=check_STADTDIALOG_TELEGRAM_TOKEN")
                failures += 1
                await asyncio.sleep(_backoff(failures, cap=300))
                continue
            except TelegramError as exc:  # network trouble, 5xx, a conflicting getUpdates/webhook
                failures += 1
                log.warning("event=telegram_poll_failed error=%s attempt=%s", type(exc).__name__, failures)
                await asyncio.sleep(_backoff(failures))
                continue
            failures = 0
            if not updates:
                continue
            self._accepting = True
            try:
                stored = await self._store(updates)
            finally:
                self._accepting = False
            if stored:
                # Only now may the next getUpdates carry the higher offset that acknowledges these updates.
                self._offset = updates[-1].update_id + 1

    async def _store(self, updates: Sequence[Update]) -> bool:
        """Convert and store a batch, retrying until it is stored (False: stopped before it could be stored)."""
        now = datetime.now(UTC)
        converted = [convert_update(update, now) for update in updates]
        events = [c.event for c in converted if c.event is not None]
        attempt = 0
        while True:
            try:
                if events:
                    await self._accept(events)
                break
            except Exception as exc:
                attempt += 1
                log.error("event=telegram_accept_failed error=%s attempt=%s", type(exc).__name__, attempt)
                if self._stopping:
                    return False
                await asyncio.sleep(_backoff(attempt))
        self._answer_callbacks([c.callback_query_id for c in converted if c.callback_query_id])
        return True

    async def _accept(self, events: list[Inbound]) -> None:
        assert self._sink is not None
        results = await self._sink.accept(events)
        if self.crash_after_accept:
            # Test-only (see CRASH_AFTER_ACCEPT_ENV): die between the inbox commit and the acknowledgement.
            os.kill(os.getpid(), signal.SIGKILL)
        log.info("event=telegram_accepted count=%s new=%s", len(events), sum(results))

    def _answer_callbacks(self, query_ids: Sequence[str]) -> None:
        for query_id in query_ids:
            task = asyncio.create_task(self._answer_callback(query_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _answer_callback(self, query_id: str) -> None:
        try:
            await self.bot.answer_callback_query(query_id)
        except TelegramError as exc:  # "query is too old" and the like: the spinner simply times out
            log.debug("event=telegram_callback_answer_failed error=%s", type(exc).__name__)

    async def _start_webhook(self) -> None:
        if self._runner is None:  # a start retried after the Bot API was unreachable keeps its listener
            host, _, port = self.webhook_listen.rpartition(":")
            app = web.Application(client_max_size=MAX_WEBHOOK_BODY)
            app.router.add_post(WEBHOOK_PATH, self._handle_webhook)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            try:
                await web.TCPSite(self._runner, host or "127.0.0.1", int(port)).start()
            except OSError as exc:
                await self._runner.cleanup()
                self._runner = None
                raise TelegramStartError(f"cannot listen on {self.webhook_listen}: {exc.strerror}") from None
        assert self.webhook_url is not None
        await self.bot.set_webhook(
            self.webhook_url, allowed_updates=ALLOWED_UPDATES, secret_token=self._webhook_secret.decode()
        )

    async def _handle_webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._webhook_secret):
            return web.Response(status=403)
        if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
            return web.Response(status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        try:
            data = json.loads(body)
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, self.bot)
        except Exception:  # malformed JSON or an object PTB cannot read: nothing to store
            return web.Response(status=400)
        if self._stopping:
            return web.Response(status=503)
        converted = convert_update(update, datetime.now(UTC))
        if converted.event is not None:
            try:
                await self._accept([converted.event])
            except Exception as exc:  # not stored: Telegram must deliver it again
                log.error("event=telegram_accept_failed error=%s", type(exc).__name__)
                return web.Response(status=500)
        if converted.callback_query_id:
            self._answer_callbacks([converted.callback_query_id])
        return web.Response(status=200)

    # --- outbound ----------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        """Deliver one message (split, edited or as a document); raise RetryLater / PermanentFailure.

        `key` (the outbox message) tells which parts of a split message an earlier attempt already delivered; the
        Bot API itself has no idempotency key (a message in flight at a crash can arrive twice).
        """
        if not message.text.strip() and message.document is None:
            raise PermanentFailure("empty_text")
        progress_key = (chat_id, key or hash((message.text, message.replaces, message.document)))
        if len(self._progress) > MAX_TRACKED_PARTIAL_SENDS:  # only abandoned retries pile up here
            self._progress.clear()
        progress = self._progress.setdefault(progress_key, _Progress())
        try:
            ids = await self._deliver(chat_id, message, progress)
        except RetryAfter as exc:
            # The Bot API's 429 does not say whether the chat or the whole bot hit the limit (its `parameters` carry
            # only retry_after): it is reported for this chat, and the outbox widens it to the channel when several
            # chats are refused at once (see bot/outbox.py, "rate-limit answers").
            raise RetryLater(_retry_after_seconds(exc), "rate_limited", rate_limit=RATE_LIMIT_CHAT) from None
        except Forbidden as exc:
            self._progress.pop(progress_key, None)
            if (why := _unreachable(exc)) is not None:
                raise RecipientUnreachableError(why) from None
            raise PermanentFailure(_permanent_reason(exc)) from None
        except (ChatMigrated, BadRequest) as exc:
            self._progress.pop(progress_key, None)
            raise PermanentFailure(_permanent_reason(exc)) from None
        except (TelegramError, OSError) as exc:  # timeouts, network errors, 5xx, a revoked token
            raise RetryLater(self._failed(chat_id), type(exc).__name__) from None
        self._progress.pop(progress_key, None)
        self._failures.pop(chat_id, None)
        return SentMessage(tuple(ids))

    def parts(self, message: Outbound) -> int:
        """How many Bot API messages `message` becomes (a long text is split): the send pacer's cost."""
        parts = len(split_text(message.text)) if message.text else 0
        if message.document is not None:
            return (parts if message.text and utf16_len(message.text) > CAPTION_LIMIT else 0) + 1
        return max(1, parts)

    def _failed(self, chat_id: str) -> float:
        count = self._failures.get(chat_id, 0) + 1
        self._failures[chat_id] = count
        return _backoff(count)

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        if self._pacer is not None:
            await self._pacer.wait()
        return await method(*args, **kwargs)

    async def _deliver(self, chat_id: str, message: Outbound, progress: _Progress) -> list[str]:
        markup = keyboard(message)
        if message.document is not None:
            caption: str | None = message.text
            texts: list[str] = []
            if message.text and utf16_len(message.text) > CAPTION_LIMIT:
                caption, texts = None, split_text(message.text)
            ids = await self._send_texts(chat_id, texts, None, None, progress)
            document = message.document
            sent = await self._call(
                self.bot.send_document, chat_id, InputFile(document.content, filename=document.filename),
                caption=caption or None, reply_markup=markup,
            )
            return [*ids, str(sent.message_id)]
        return await self._send_texts(chat_id, split_text(message.text), markup, message.replaces, progress)

    async def _send_texts(
        self, chat_id: str, parts: list[str], markup: InlineKeyboardMarkup | None, replaces: str | None,
        progress: _Progress,
    ) -> list[str]:
        ids = list(progress.sent)
        for index in range(len(progress.sent), len(parts)):
            last = index == len(parts) - 1
            if index == 0 and replaces is not None:
                edited = await self._edit(chat_id, replaces, parts[0], markup if last else None)
                if edited is not None:
                    ids.append(edited)
                    progress.sent.append(edited)
                    continue
            sent = await self._call(self.bot.send_message, chat_id, parts[index], reply_markup=markup if last else None)
            ids.append(str(sent.message_id))
            progress.sent.append(str(sent.message_id))
        return ids

    async def _edit(self, chat_id: str, message_id: str, text: str, markup: InlineKeyboardMarkup | None) -> str | None:
        """Edit in place; the id on success, None when the message cannot be edited (send a new one instead)."""
        try:
            await self._call(self.bot.edit_message_text, text, chat_id=chat_id, message_id=int(message_id),
                             reply_markup=markup)
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not modified" in reason:
                return message_id
            if ("not found" in reason and "chat not found" not in reason) or "can't be edited" in reason:
                return None
            raise
        except ValueError:  # a message ref that is no Telegram message id
            return None
        return message_id


def _retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB warns that the attribute will become a timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


_UNREACHABLE = {"bot was blocked by the user": "blocked", "user is deactivated": "deactivated",
                "bot was kicked": "kicked"}


def _unreachable(exc: Forbidden) -> str | None:
    """Why a 403 means the citizen can no longer receive anything (blocked the bot, deleted the account, kicked
    it out); None for any other 403."""
    text = exc.message.lower()
    return next((why for marker, why in _UNREACHABLE.items() if marker in text), None)


def _permanent_reason(exc: TelegramError) -> str:
    if isinstance(exc, Forbidden):
        return "forbidden"  # blocked by the citizen or kicked out of the chat
    if isinstance(exc, ChatMigrated):
        return "chat_migrated"
    return "chat_not_found" if "chat not found" in exc.message.lower() else "bad_request"


def _backoff(attempt: int, cap: float = 60.0) -> float:
    """Exponential backoff with jitter: ~1 s, 2 s, 4 s … up to `cap`."""
    return min(cap, 2.0 ** (attempt - 1)) * random.uniform(0.75, 1.25)
