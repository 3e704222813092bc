"""Channel-neutral dialogue scenarios for the end-to-end tests, and the Telegram driver that plays them.

A scenario talks to the bot only through a `ChatDriver` (send text, press a button, read what came back), so the
same scenario runs on every channel: a Matrix driver only has to implement the protocol. Surveys are played from
their definition (`surveys/library/*.yaml`) and a plan of answers, so a scenario follows whatever branch the plan
leads to and returns the question ids it was asked.

`TelegramBot` runs the real runtime (`bot.app.build_runtime`) with a `TelegramChannel` against the emulated Bot
API; `TelegramChat` is the Telegram `ChatDriver` of one simulated citizen.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import JSON, String, Text, select

from bot.app import build_runtime
from bot.channels.telegram import TelegramChannel
from bot.config import PACKAGE_ROOT, Config, load_config
from bot.identity import pseudonym
from bot.runtime import Runtime
from bot.storage.models import Base
from surveys.loader import load_survey
from surveys.schema import Question, QuestionType, Survey
from tests.e2e.telegram_api import SentMessage, TelegramApiServer, User
from tests.handlers.chat import matching_payload

SURVEY_DIR = PACKAGE_ROOT / "surveys" / "library"
Answer = str | list[str] | int | float | bool | None
"""A planned answer: option id, option ids, scale point or number, yes/no, free text; None skips."""


def library_survey(key: str) -> Survey:
    """A survey of the sample library by its id (= file name)."""
    return load_survey(SURVEY_DIR / f"{key}.yaml")


# --- the driver protocol -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BotMessage:
    """A bot message as the citizen sees it now (edits applied)."""

    ref: str
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (payload, label), in reading order
    document_name: str | None = None
    document: bytes | None = None

    @property
    def payloads(self) -> list[str]:
        return [payload for payload, _ in self.buttons]

    def button(self, label_or_payload: str) -> str | None:
        """The payload of the button with that payload or label, if this message has it; idea buttons end in the
        draft's id, so "f:umwelt" finds "f:umwelt:<id>"."""
        for payload, label in self.buttons:
            if label_or_payload in (payload, label):
                return payload
        return matching_payload([payload for payload, _ in self.buttons], label_or_payload)


class ChatDriver(Protocol):
    """One citizen's private chat with the bot on some channel."""

    lang: str

    async def send_text(self, text: str) -> None:
        """The citizen writes `text`."""
        ...

    async def press(self, button: str) -> None:
        """The citizen taps the button with this label or payload on the newest bot message showing it."""
        ...

    def last_messages(self, count: int = 1) -> list[BotMessage]:
        """The bot's newest `count` messages in this chat, oldest first."""
        ...

    async def wait_for_reply(self, min_messages: int = 1, timeout: float = 10.0) -> list[BotMessage]:
        """Once the bot has finished answering the last action: the messages it sent or changed since then."""
        ...


async def say(chat: ChatDriver, text: str, min_messages: int = 1) -> list[BotMessage]:
    await chat.send_text(text)
    return await chat.wait_for_reply(min_messages)


async def tap(chat: ChatDriver, button: str, min_messages: int = 1) -> list[BotMessage]:
    await chat.press(button)
    return await chat.wait_for_reply(min_messages)


def newest_with(messages: Sequence[BotMessage], button: str) -> BotMessage | None:
    return next((m for m in reversed(messages) if m.button(button) is not None), None)


# --- scenarios ---------------------------------------------------------------------------------------------------

MENU_SURVEYS = "m:surveys"
MOBILITY = "mobilitaet-quartier"
BUS_RIDER: dict[str, Answer] = {  # a complete walk through the mobility survey, used on both channels
    "bezirk": "barmen",
    "unterwegs": ["schwebebahn", "bus"],
    "oepnv_zufrieden": 4,
    "haltestelle_minuten": 6,
    "mehr_rad": True,
    "rad_hindernis": "steigung",
    "verbesserung": "Ein Wetterschutz an der Haltestelle Alter Markt",
}
_YES_NO_WORDS = {"de": ("ja", "nein"), "en": ("yes", "no")}


async def give_consent(chat: ChatDriver, *, typed: bool = False) -> BotMessage:
    """/start, read the privacy notice, agree (tap or type "ja"); returns the main menu."""
    notice = await say(chat, "/start")
    assert newest_with(notice, "consent:yes") is not None, f"no consent buttons in {notice}"
    reply = await say(chat, _YES_NO_WORDS[chat.lang][0]) if typed else await tap(chat, "consent:yes")
    menu = newest_with(reply, MENU_SURVEYS)
    assert menu is not None, f"no menu after consent: {reply}"
    return menu


async def open_survey(chat: ChatDriver, key: str) -> list[BotMessage]:
    """From anywhere after consent: the survey list (/umfragen), then the survey; returns the first replies."""
    listing = await say(chat, "/umfragen")
    assert newest_with(listing, f"s:{key}") is not None, f"survey {key} not offered: {listing}"
    return await tap(chat, f"s:{key}")


def current_question(survey: Survey, lang: str, messages: Sequence[BotMessage]) -> Question | None:
    """The question the newest bot message asks; None once the bot shows the menu (survey over)."""
    for message in reversed(messages):
        if message.button(MENU_SURVEYS) is not None:
            return None
        for question in survey.questions:
            if question.text.get(lang) in message.text and " ✓ " not in message.text:
                return question
    return None


def typed_answer(question: Question, value: Answer, lang: str) -> str:
    """How a citizen without buttons writes `value`: option numbers, numbers, ja/nein, the text itself."""
    if value is None:
        return "/ueberspringen"
    ids = [option.id for option in question.options]
    match question.type:
        case QuestionType.SINGLE_CHOICE:
            return str(ids.index(str(value)) + 1)
        case QuestionType.MULTIPLE_CHOICE:
            assert isinstance(value, list)
            return ", ".join(str(ids.index(option) + 1) for option in value)
        case QuestionType.YES_NO:
            return _YES_NO_WORDS[lang][0 if value else 1]
        case _:
            return str(value)


async def answer_by_buttons(chat: ChatDriver, question: Question, value: Answer) -> list[BotMessage]:
    """Tap the answer; free-text and number questions have no buttons, so those are typed."""
    if value is None:
        return await tap(chat, f"k:{question.id}")
    match question.type:
        case QuestionType.MULTIPLE_CHOICE:
            assert isinstance(value, list)
            for option in value:
                await tap(chat, f"t:{question.id}:{option}")
            return await tap(chat, f"d:{question.id}")
        case QuestionType.YES_NO:
            return await tap(chat, f"a:{question.id}:{'yes' if value else 'no'}")
        case QuestionType.SINGLE_CHOICE | QuestionType.SCALE:
            return await tap(chat, f"a:{question.id}:{value}")
        case _:
            return await say(chat, str(value))


async def take_survey(
    chat: ChatDriver, key: str, plan: Mapping[str, Answer], *, typed: bool = False, stop_before: str | None = None
) -> list[str]:
    """Open survey `key` and answer as `plan` says until it is finished (or question `stop_before` is asked).

    Returns the ids of the questions asked, in order — the branch the answers led to.
    """
    await open_survey(chat, key)
    return await answer_survey(chat, key, plan, typed=typed, stop_before=stop_before)


async def answer_survey(
    chat: ChatDriver, key: str, plan: Mapping[str, Answer], *, typed: bool = False, stop_before: str | None = None
) -> list[str]:
    """Answer the question on screen and every following one as `plan` says (see `take_survey`)."""
    survey = library_survey(key)
    asked: list[str] = []
    while (question := current_question(survey, chat.lang, chat.last_messages(3))) is not None:
        if question.id == stop_before:
            return asked
        assert question.id not in asked, f"question {question.id} asked twice: {chat.last_messages(3)}"
        asked.append(question.id)
        value = plan.get(question.id)
        if typed:
            await say(chat, typed_answer(question, value, chat.lang))
        else:
            await answer_by_buttons(chat, question, value)
    return asked


async def submit_idea(chat: ChatDriver, text: str, field: str, publish: str | None = "no") -> list[BotMessage]:
    """/idee, the text, then the strategy field `field` (a key of nlp/fields.yaml), then the answer `publish` to the
    publication question ("yes", "keep", "no"); returns the thanks and what followed."""
    prompt = await say(chat, "/idee")
    assert prompt and not prompt[-1].buttons, f"expected the idea prompt: {prompt}"
    offered = await say(chat, text)
    if newest_with(offered, f"f:{field}") is None:
        # the classifier proposed a field (or the likeliest ones) that is not `field`: "Anderes Feld" shows all six
        assert newest_with(offered, "fc:other") is not None, f"no field choice offered: {offered}"
        offered = await tap(chat, "fc:other")
    assert newest_with(offered, f"f:{field}") is not None, f"no field buttons: {offered}"
    thanks = await tap(chat, f"f:{field}")
    if publish is not None:  # may other citizens see it? (None: leave the question open)
        assert newest_with(thanks, f"pb:{publish}") is not None, f"no publication question: {thanks}"
        thanks = [*thanks, *await tap(chat, f"pb:{publish}")]
        if newest_with(thanks, "tc:no") is not None:  # asked once: may the text train the classifier?
            thanks = [*thanks, *await tap(chat, "tc:no")]
    return thanks


async def request_my_data(chat: ChatDriver) -> tuple[str, dict[str, Any]]:
    """/meinedaten; returns the summary the citizen reads and the attached JSON file, parsed."""
    replies = await say(chat, "/meinedaten")
    files = [reply for reply in replies if reply.document is not None]
    assert len(files) == 1 and files[0].document_name == "meine-daten.json", f"no export file: {replies}"
    assert files[0].document is not None
    exported: dict[str, Any] = json.loads(files[0].document)
    return "\n".join(reply.text for reply in replies), exported


async def my_data_is_a_summary_with_the_complete_file(chat: ChatDriver, channel_user_id: str) -> None:
    """/meinedaten before and after two ideas: plain words for the citizen, every stored value in the file."""
    summary, exported = await request_my_data(chat)
    assert "Ihre Ideen: keine" in summary and "Pseudonym" in summary and exported["ideas"] == []
    await submit_idea(chat, "Mehr Trinkbrunnen in der Innenstadt", "umwelt")
    await submit_idea(chat, "Idee 0: " + "Mehr Trinkbrunnen in der Innenstadt. " * 50, "umwelt")
    summary, exported = await request_my_data(chat)
    assert "„Mehr Trinkbrunnen in der Innenstadt“ – Smarte Umwelt" in summary, summary
    assert "Ihre Ideen (2):" in summary and "/loeschen" in summary
    assert "scores" not in summary and "offered" not in summary, "technical details belong in the file"
    assert len(exported["ideas"]) == 2 and exported["ideas"][1]["text"].startswith("Idee 0: ")
    assert exported["contacts"][0]["channel_user_id"] == channel_user_id
    assert exported["ideas"][0]["scores"] and exported["conversation"]["flow"]


async def delete_everything(chat: ChatDriver) -> list[BotMessage]:
    """/loeschen and confirm; returns the goodbye."""
    question = await say(chat, "/loeschen")
    assert newest_with(question, "del:yes") is not None, f"no confirmation asked: {question}"
    return await tap(chat, "del:yes")


# --- Telegram ----------------------------------------------------------------------------------------------------


def as_bot_message(message: SentMessage) -> BotMessage:
    buttons = tuple((str(b["callback_data"]), str(b["text"])) for b in message.inline_buttons if "callback_data" in b)
    document = message.document
    return BotMessage(
        ref=str(message.message_id),
        text=(message.caption if document is not None else message.text) or "",
        buttons=buttons,
        document_name=None if document is None else document.file_name,
        document=None if document is None else document.content,
    )


class TelegramChat:
    """`ChatDriver` for one simulated Telegram citizen; `settle` waits until the bot has done its work."""

    def __init__(self, server: TelegramApiServer, user: User, settle: Callable[[], Awaitable[None]]) -> None:
        self.server = server
        self.user = user
        self.lang = "en" if (user.language_code or "de").startswith("en") else "de"
        self._settle = settle
        self._before: dict[int, int] = {}
        self._update_id: int | None = None

    def _changed(self) -> list[BotMessage]:
        return [
            as_bot_message(m)
            for m in self.server.messages_to(self.user)
            if self._before.get(m.message_id, -1) != m.edit_count
        ]

    def act(self, action: Callable[[], int]) -> int:
        """Run a server-side citizen action (e.g. `server.send_sticker(user)`) as this chat's last action."""
        self._before = {m.message_id: m.edit_count for m in self.server.messages_to(self.user)}
        self._update_id = action()
        return self._update_id

    async def send_text(self, text: str) -> None:
        self.act(lambda: self.server.send_text(self.user, text))

    async def press(self, button: str) -> None:
        found = next(
            ((m.message_id, payload) for m in reversed(self.server.messages_to(self.user))
             if (payload := as_bot_message(m).button(button)) is not None),
            None,
        )
        if found is None:
            raise AssertionError(f"no bot message has a button {button!r}")
        self.act(lambda: self.server.press(self.user, *found))

    def message_update(self, text: str) -> dict[str, Any]:
        """A private-chat text message update as Telegram would send it, with a fresh update id."""
        server = self.server
        known = [*server.confirmed_update_ids, *server.dropped_update_ids,
                 *(update["update_id"] for update in server.pending_updates())]
        chat = {"id": self.user.id, "type": "private", "first_name": self.user.first_name}
        message = {"message_id": 900_000 + len(known), "from": self.user.to_dict(), "chat": chat,
                   "date": int(time.time()), "text": text}
        return {"update_id": max(known, default=100_000) + 1, "message": message}

    def last_messages(self, count: int = 1) -> list[BotMessage]:
        return [as_bot_message(m) for m in self.server.messages_to(self.user)[-count:]]

    async def wait_for_reply(self, min_messages: int = 1, timeout: float = 10.0) -> list[BotMessage]:
        deadline = time.monotonic() + timeout
        update_id = self._update_id
        if update_id is not None:
            await self.server.wait_for(lambda: self.server.is_confirmed(update_id), timeout)
        while True:
            await self._settle()
            changed = self._changed()
            if len(changed) >= min_messages:
                return changed
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {min_messages} bot messages, got {changed}")
            await asyncio.sleep(0.02)


class TelegramBot:
    """The whole bot (runtime + Telegram channel) on a data folder, against the emulated Bot API."""

    def __init__(
        self, server: TelegramApiServer, data_dir: Path, *, mode: str = "polling", webhook_port: int | None = None,
        **channel_options: Any,
    ) -> None:
        self.server = server
        env = {
            "STADTDIALOG_DATA_DIR": str(data_dir),
            "STADTDIALOG_PSEUDONYM_SECRET": "e2e-pseudonym-secret-0123456789",
            "STADTDIALOG_TELEGRAM_TOKEN": server.token,
            "STADTDIALOG_TELEGRAM_API_URL": server.url,
            "STADTDIALOG_TELEGRAM_MODE": mode,
            "STADTDIALOG_QUIET_HOURS": "off",
            # Telegram's 1 message/s per chat is paced by the bot and tested in test_telegram_pacing.py (against a
            # server that enforces it); everywhere else it would only add a second per message to the suite.
            "STADTDIALOG_TELEGRAM_CHAT_RATE": "0",
        }
        if mode == "webhook":
            assert webhook_port is not None
            env |= {
                "STADTDIALOG_TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{webhook_port}/telegram",
                "STADTDIALOG_TELEGRAM_WEBHOOK_SECRET": "e2e-webhook-secret",
                "STADTDIALOG_TELEGRAM_WEBHOOK_LISTEN": f"127.0.0.1:{webhook_port}",
            }
        self.env = env
        self.config: Config = load_config(env, cwd=data_dir)
        self.channel_options = {"poll_timeout": 1, "rate_limit": None, **channel_options}
        self.runtime: Runtime | None = None
        self.channel: TelegramChannel | None = None

    async def start(self) -> Runtime:
        config = self.config
        self.channel = TelegramChannel(
            self.server.token,
            api_url=config.telegram_api_url,
            mode=config.telegram_mode,
            webhook_url=config.telegram_webhook_url,
            webhook_secret=config.telegram_webhook_secret,
            webhook_listen=config.telegram_webhook_listen,
            **self.channel_options,
        )
        self.runtime = await asyncio.to_thread(build_runtime, config, [self.channel])
        await self.runtime.start()
        return self.runtime

    async def stop(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime.db.dispose()
            self.runtime = None

    async def restart(self) -> Runtime:
        await self.stop()
        return await self.start()

    async def settle(self) -> None:
        if self.runtime is not None:
            await self.runtime.wait_idle(timeout=10)

    def chat(self, language_code: str = "de", user: User | None = None) -> TelegramChat:
        """A new simulated citizen (or `user`) with their driver."""
        return TelegramChat(self.server, user or self.server.add_user(language_code=language_code), self.settle)

    def pseudonym(self, chat: TelegramChat) -> str:
        return pseudonym(self.config.pseudonym_secret, "telegram", str(chat.user.id))

    def rows_mentioning(self, *needles: str) -> dict[str, int]:
        """Per table, how many rows hold any of `needles` in a string or JSON column."""
        assert self.runtime is not None
        found: dict[str, int] = {}
        with self.runtime.db.unit_of_work() as uow:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
                if not columns:
                    continue
                for row in uow.session.execute(select(*columns)):
                    if any(needle in str(value) for value in row if value is not None for needle in needles):
                        found[table.name] = found.get(table.name, 0) + 1
        return found


@pytest.fixture(name="bot")
async def telegram_bot_fixture(telegram_api: TelegramApiServer, tmp_path: Path) -> AsyncIterator[TelegramBot]:
    """The bot polling the test Bot API server, on a fresh data dir; stopped afterwards."""
    harness = TelegramBot(telegram_api, tmp_path)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
