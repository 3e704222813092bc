"""Matrix citizens and the Matrix bot for the end-to-end tests against the real homeserver of `synapse.py`.

`MatrixCitizen` is a citizen's own matrix-nio client with its own E2EE store: it opens an encrypted DM with the
bot, writes, votes in polls (unstable MSC3381 or stable `m.poll.response` form) and sees what the bot sends,
decrypted. It implements the channel-neutral `ChatDriver` of `tests/e2e/scenarios.py` (a poll is a message with
buttons; an ended poll or an `m.replace` edit changes the message it refers to), so the Telegram scenarios run
unchanged on Matrix.

`MatrixBot` runs the whole bot in this process (restartable); `BotProcess` runs `stadtdialog run` as an operator
would, in a subprocess that can be SIGKILLed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scenarios import BotMessage
from tests.e2e.synapse import Account, Synapse, unique_name

POLL_START = ("org.matrix.msc3381.poll.start", "m.poll.start")
POLL_END = ("org.matrix.msc3381.poll.end", "m.poll.end")
TEXT = "org.matrix.msc1767.text"
QUIET = 0.3
"""Seconds without a new bot event after which a reply counts as complete."""


@dataclass(frozen=True)
class Received:
    """One event the bot sent, as the citizen's client sees it."""

    event_id: str
    kind: str  # text | poll | poll_end | edit | file | undecryptable | other
    text: str
    answers: tuple[tuple[str, str], ...] = ()
    relates_to: str | None = None
    decrypted: bool = False
    source: dict[str, Any] = field(default_factory=dict, repr=False)


def received(event: Any) -> Received:
    from nio import MegolmEvent

    source = dict(getattr(event, "source", {}) or {})
    content = source.get("content") or {}
    relates = content.get("m.relates_to") or {}
    kind, text, answers = "other", "", ()
    event_type = source.get("type")
    if isinstance(event, MegolmEvent):
        kind = "undecryptable"
    elif event_type in POLL_START:
        poll = content.get(POLL_START[0]) or content.get("m.poll") or {}
        kind = "poll"
        text = (poll.get("question") or {}).get(TEXT, "")
        answers = tuple((a["id"], a.get(TEXT, "")) for a in poll.get("answers", []))
    elif event_type in POLL_END:
        kind, text = "poll_end", content.get(TEXT, "")
    elif event_type == "m.room.message":
        if relates.get("rel_type") == "m.replace":
            kind, text = "edit", (content.get("m.new_content") or {}).get("body", "")
        elif content.get("msgtype") == "m.file":
            kind, text = "file", content.get("body", "")
        else:
            kind, text = "text", content.get("body", "")
    return Received(str(source.get("event_id")), kind, text, answers, relates.get("event_id"),
                    bool(getattr(event, "decrypted", False)), source)


class MatrixCitizen:
    """One citizen in one room with the bot; a `ChatDriver` (see tests/e2e/scenarios.py)."""

    lang = "de"

    def __init__(self, server: Synapse, account: Account, store_dir: Path, bot_user_id: str, *,
                 settle: Callable[[str], Awaitable[None]] | None = None, stable_votes: bool = False) -> None:
        from nio import AsyncClient, AsyncClientConfig

        store_dir.mkdir(parents=True, exist_ok=True)
        self.server = server
        self.account = account
        self.bot_user_id = bot_user_id
        self.client = AsyncClient(server.url, account.user_id, store_path=str(store_dir),
                                  config=AsyncClientConfig(encryption_enabled=True))
        self.room_id = ""
        self.stable_votes = stable_votes
        self.inbox: asyncio.Queue[Received] = asyncio.Queue()
        self.seen: list[Received] = []
        self.messages: dict[str, BotMessage] = {}  # the chat as the citizen sees it, edits and poll ends applied
        self._versions: dict[str, int] = {}
        self._before: dict[str, int] = {}
        self._changes = 0
        self._settle = settle
        self.sent_by_bot: dict[str, list[str]] | None = None  # room id → event ids, from an in-process bot
        self._last_action: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def user_id(self) -> str:
        return self.account.user_id

    @classmethod
    async def join(cls, server: Synapse, directory: Path, bot_user_id: str, **options: Any) -> MatrixCitizen:
        """Register a new user, log in (a fresh device with its own key store) and start syncing."""
        username = unique_name("citizen")
        account = await asyncio.to_thread(server.register, username)
        citizen = cls(server, account, directory / username, bot_user_id, **options)
        response = await citizen.client.login(account.password, device_name="citizen")
        assert getattr(response, "access_token", None), response
        await citizen._maintain_keys()
        await citizen.client.sync(timeout=0, full_state=True)
        citizen._task = asyncio.create_task(citizen._sync_loop())
        return citizen

    async def second_device(self, directory: Path) -> MatrixCitizen:
        """The same citizen logging in on another device (its own key store), looking at the same room."""
        other = MatrixCitizen(self.server, self.account, directory / f"{self.account.user_id[1:]}-2",
                              self.bot_user_id)
        response = await other.client.login(self.account.password, device_name="second phone")
        assert getattr(response, "access_token", None), response
        await other._maintain_keys()
        await other.client.sync(timeout=0, full_state=True)
        other.room_id = self.room_id
        other._task = asyncio.create_task(other._sync_loop())
        return other

    async def _maintain_keys(self) -> None:
        from bot.channels.matrix_session import maintain_keys  # the bot's own round, for the citizen's client

        await maintain_keys(self.client)

    async def _sync_loop(self) -> None:
        from nio import SyncResponse

        while True:
            try:
                await self._maintain_keys()
                response = await self.client.sync(timeout=30_000)
            except Exception:  # the homeserver may be restarting on purpose
                await asyncio.sleep(0.2)
                continue
            if not isinstance(response, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            info = response.rooms.join.get(self.room_id)
            for event in [] if info is None else info.timeline.events:
                source = getattr(event, "source", None) or {}
                if "state_key" in source or source.get("sender") != self.bot_user_id:
                    continue
                item = received(event)
                await self._record(item)
                self.seen.append(item)
                self.inbox.put_nowait(item)

    async def _record(self, item: Received) -> None:
        """Apply a bot event to the chat view: new message, ended poll (buttons gone) or edit."""
        ref = item.event_id
        if item.kind in ("poll_end", "edit") and item.relates_to in self.messages:
            ref = item.relates_to
            old = self.messages[ref]
            self.messages[ref] = replace(old, text=item.text or old.text, buttons=())  # type: ignore[arg-type]
        elif item.kind == "poll":
            self.messages[ref] = BotMessage(ref, item.text, item.answers)
        elif item.kind == "file":
            self.messages[ref] = BotMessage(ref, item.text, document_name=item.source["content"].get("filename"),
                                            document=await self._download(item))
        else:
            self.messages[ref] = BotMessage(ref, item.text)
        self._versions[ref] = self._versions.get(ref, 0) + 1
        self._changes += 1

    async def _download(self, item: Received) -> bytes:
        from nio import MemoryDownloadResponse
        from nio.crypto import decrypt_attachment

        content = item.source["content"]
        encrypted = content.get("file")
        response = await self.client.download(encrypted["url"] if encrypted else content["url"])
        assert isinstance(response, MemoryDownloadResponse), response
        if not encrypted:
            return bytes(response.body)
        return bytes(decrypt_attachment(response.body, encrypted["key"]["k"], encrypted["hashes"]["sha256"],
                                        encrypted["iv"]))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.close()

    # --- talking ---------------------------------------------------------------------------------------------

    async def open_dm(self, *, encrypted: bool = True, is_direct: bool = True,
                      also_invite: tuple[str, ...] = ()) -> str:
        """Create a (by default encrypted, direct) room and invite the bot; returns the room id."""
        from nio import RoomCreateResponse, RoomPreset

        state = [{"type": "m.room.encryption", "state_key": "",
                  "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        response = await self.client.room_create(
            is_direct=is_direct, preset=RoomPreset.trusted_private_chat,
            invite=[self.bot_user_id, *also_invite], initial_state=state,
        )
        assert isinstance(response, RoomCreateResponse), response
        self.room_id = response.room_id
        return self.room_id

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.05)

    def bot_is_member(self) -> bool:
        room = self.client.rooms.get(self.room_id)
        user = None if room is None else room.users.get(self.bot_user_id)
        return user is not None and not user.invited

    async def _send(self, event_type: str, content: dict[str, Any]) -> str:
        from nio import RoomSendResponse

        if self.client.should_query_keys:
            await self.client.keys_query()
        response = await self.client.room_send(self.room_id, event_type, content, ignore_unverified_devices=True)
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def say(self, text: str) -> str:
        return await self._send("m.room.message", {"msgtype": "m.text", "body": text})

    async def edit(self, event_id: str, text: str) -> str:
        return await self._send("m.room.message", {
            "msgtype": "m.text", "body": "* " + text, "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        })

    async def send_image(self) -> str:
        return await self._send("m.room.message", {
            "msgtype": "m.image", "body": "photo.png", "url": "mxc://localhost/notarealimage",
            "info": {"mimetype": "image/png", "size": 1},
        })

    async def vote(self, poll_event_id: str, answer_id: str, *, stable: bool | None = None) -> str:
        """Answer a poll in the unstable MSC3381 form (Element today) or the stable `m.poll.response` form."""
        relates = {"rel_type": "m.reference", "event_id": poll_event_id}
        if self.stable_votes if stable is None else stable:
            return await self._send("m.poll.response", {"m.relates_to": relates, "m.selections": [answer_id]})
        return await self._send("org.matrix.msc3381.poll.response", {
            "m.relates_to": relates, "org.matrix.msc3381.poll.response": {"answers": [answer_id]},
        })

    async def send_undecryptable(self) -> str:
        """An encrypted event of a Megolm session that was never shared: nobody can decrypt it."""
        from uuid import uuid4

        from nio import Api, RoomSendResponse

        assert self.client.olm is not None
        content = {
            "algorithm": "m.megolm.v1.aes-sha2", "device_id": self.client.device_id,
            "sender_key": self.client.olm.account.identity_keys["curve25519"],
            "session_id": secrets.token_urlsafe(32), "ciphertext": secrets.token_urlsafe(96),
        }
        method, path, data = Api.room_send(self.client.access_token, self.room_id, "m.room.encrypted", content,
                                           uuid4())
        response = await self.client._send(RoomSendResponse, method, path, data, (self.room_id,))
        assert isinstance(response, RoomSendResponse), response
        return str(response.event_id)

    async def next(self, timeout: float = 20.0) -> Received:
        """The next event from the bot."""
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def until(self, kind: str, timeout: float = 20.0) -> tuple[Received, list[Received]]:
        """Bot events up to the first of `kind`: that one, and those before it."""
        before: list[Received] = []
        deadline = time.monotonic() + timeout
        while True:
            item = await self.next(max(0.1, deadline - time.monotonic()))
            if item.kind == kind:
                return item, before
            before.append(item)

    async def quiet(self, seconds: float = 1.0) -> list[Received]:
        """Everything the bot sends until it has been silent for `seconds`."""
        items: list[Received] = []
        while True:
            try:
                items.append(await asyncio.wait_for(self.inbox.get(), seconds))
            except TimeoutError:
                return items

    # --- ChatDriver ------------------------------------------------------------------------------------------

    def _act(self, event_id: str) -> None:
        self._last_action = event_id

    def snapshot(self) -> None:
        """Start a new action: what changes from now on is its reply."""
        self._before = dict(self._versions)
        while not self.inbox.empty():
            self.inbox.get_nowait()

    async def send_text(self, text: str) -> None:
        self.snapshot()
        self._act(await self.say(text))

    async def press(self, button: str) -> None:
        """Vote for the answer with this payload or label in the newest open poll that offers it."""
        for message in reversed(list(self.messages.values())):
            payload = message.button(button)
            if payload is not None:
                self.snapshot()
                self._act(await self.vote(message.ref, payload))
                return
        raise AssertionError(f"no open poll has an answer {button!r}")

    def last_messages(self, count: int = 1) -> list[BotMessage]:
        return list(self.messages.values())[-count:]

    def changed(self) -> list[BotMessage]:
        return [m for ref, m in self.messages.items() if self._versions[ref] != self._before.get(ref)]

    async def wait_for_reply(self, min_messages: int = 1, timeout: float = 10.0) -> list[BotMessage]:
        deadline = time.monotonic() + timeout
        if self._settle is not None and self._last_action is not None:
            await self._settle(self._last_action)
        while len(self.changed()) < min_messages or not self._delivered():
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {min_messages} bot messages, got {self.changed()}")
            await asyncio.sleep(0.02)
        if self.sent_by_bot is None:
            changes = -1
            while changes != self._changes:  # without a view into the bot: until it has been quiet for a moment
                changes = self._changes
                await asyncio.sleep(QUIET)
        return self.changed()

    def _delivered(self) -> bool:
        """Whether every event the bot sent into this room has reached this client (when the bot tells)."""
        if self.sent_by_bot is None:
            return True
        seen = {item.event_id for item in self.seen}
        return all(event_id in seen for event_id in self.sent_by_bot.get(self.room_id, ()))


# --- the bot -----------------------------------------------------------------------------------------------------


def bot_environment(server: Synapse, account: Account, data_dir: Path) -> dict[str, str]:
    """The bot's configuration as environment variables (what an operator would set)."""
    return {
        "STADTDIALOG_DATA_DIR": str(data_dir),
        "STADTDIALOG_MATRIX_HOMESERVER": server.url,
        "STADTDIALOG_MATRIX_USER": account.user_id,
        "STADTDIALOG_MATRIX_PASSWORD": account.password,
        "STADTDIALOG_QUIET_HOURS": "off",
        "STADTDIALOG_MATRIX_RATE": "0",  # the test homeserver's limits are relaxed: the bot is as good as exempted
        "STADTDIALOG_PSEUDONYM_SECRET": "e2e-matrix-pseudonym-secret",
        "STADTDIALOG_LOG_LEVEL": "INFO",
    }


class MatrixBot:
    """The whole bot (runtime, storage, dialogue core, Matrix channel) in this process, stoppable and restartable."""

    def __init__(self, server: Synapse, account: Account, directory: Path, *, grace: float = 2.0,
                 allowed_servers: tuple[str, ...] = (), token_login: bool = False) -> None:
        from bot.config import load_config

        directory.mkdir(parents=True, exist_ok=True)
        self.server = server
        self.account = account
        self.directory = directory
        self.grace = grace
        self.allowed_servers = allowed_servers
        self.token_login = token_login
        self.config = load_config(bot_environment(server, account, directory / "data"), cwd=directory)
        self.runtime: Any = None
        self.channel: Any = None
        self.sent: dict[str, list[str]] = {}  # room id → ids of the events the bot sent there

    @classmethod
    def register(cls, server: Synapse, directory: Path, **options: Any) -> MatrixBot:
        return cls(server, server.register(unique_name("stadtbot")), directory, **options)

    @property
    def user_id(self) -> str:
        return self.account.user_id

    async def start(self) -> None:
        from bot.app import build_runtime
        from bot.channels.matrix import MatrixChannel
        from bot.channels.matrix_session import MatrixSettings

        self.channel = MatrixChannel(MatrixSettings(
            homeserver=self.server.url, user_id=self.account.user_id, data_dir=self.config.data_dir,
            password=None if self.token_login else self.account.password,
            access_token=self.account.access_token if self.token_login else None,
            allowed_servers=self.allowed_servers,
            sync_timeout_ms=5_000, undecryptable_grace=self.grace,
        ))
        send = self.channel.send

        async def recording_send(chat_id: str, message: Any, key: str = "") -> Any:
            result = await send(chat_id, message, key)
            self.sent.setdefault(chat_id, []).extend(result.message_ids)
            return result

        self.channel.send = recording_send
        self.runtime = await asyncio.to_thread(build_runtime, self.config, [self.channel])
        await self.runtime.start()
        await asyncio.wait_for(self.channel.ready.wait(), 30)

    async def stop(self) -> None:
        if self.runtime is not None:
            with contextlib.suppress(TimeoutError):
                await self.runtime.wait_idle(timeout=5)
            await self.runtime.stop()
            self.runtime.db.dispose()
            self.runtime = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def settle(self, event_id: str, timeout: float = 15.0) -> None:
        """Wait until the bot has stored and processed the citizen's event and sent every reply.

        Judged from the database, as the runtime itself sees it: the event is no longer pending and the outbox
        is empty (a row is deleted only after its send returned, i.e. after `sent` recorded the event ids).
        """
        deadline = time.monotonic() + timeout
        while not await asyncio.to_thread(self._handled, event_id):
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not handle the event in time")
            await asyncio.sleep(0.02)

    def _handled(self, event_id: str) -> bool:
        """The event is done, and so is what it set off: a similar-idea search and the event bringing its result
        (stored in the same transaction as the search row's deletion), and every reply is sent."""
        data = self.config.data_dir
        status = read_only(data, "SELECT status FROM inbound_events WHERE event_id = ?", event_id)
        pending = read_only(data, "SELECT count(*) FROM outbox WHERE status = 'pending'")
        searching = read_only(data, "SELECT count(*) FROM idea_searches")
        open_events = read_only(data, "SELECT count(*) FROM inbound_events WHERE status NOT IN ('done', 'failed')")
        idle = all(bool(rows) and rows[0][0] == 0 for rows in (pending, searching, open_events))
        return bool(status) and status[0][0] in ("done", "failed") and idle

    def stored(self, event_id: str) -> bool:
        """Whether the bot has stored the citizen's event (processed or not)."""
        return bool(read_only(self.config.data_dir, "SELECT 1 FROM inbound_events WHERE event_id = ?", event_id))

    def cursor(self) -> str | None:
        with self.runtime.db.unit_of_work() as uow:
            value: str | None = uow.channel_state.get("matrix:since")
            return value

    async def citizen(self, directory: Path, *, greet: bool = True, **options: Any) -> MatrixCitizen:
        """A new citizen with an encrypted DM to the bot; with `greet`, after the bot joined and greeted."""
        citizen = await MatrixCitizen.join(self.server, directory, self.user_id, settle=self.settle, **options)
        citizen.sent_by_bot = self.sent
        if greet:
            citizen.snapshot()
            await citizen.open_dm()
            await citizen.wait_for_reply(min_messages=2)  # the privacy notice and the consent poll
        return citizen

    def pseudonym(self, citizen: MatrixCitizen) -> str:
        from bot.identity import pseudonym

        return pseudonym(self.config.pseudonym_secret, "matrix", citizen.user_id)

    def rows_mentioning(self, *needles: str) -> dict[str, int]:
        """Per table, how many rows hold any of `needles` in a string or JSON column."""
        from sqlalchemy import JSON, String, Text, select

        from bot.storage.models import Base

        found: dict[str, int] = {}
        with self.runtime.db.unit_of_work() as uow:
            for table in Base.metadata.sorted_tables:
                columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
                for row in uow.session.execute(select(*columns)) if columns else []:
                    if any(needle in str(value) for value in row if value is not None for needle in needles):
                        found[table.name] = found.get(table.name, 0) + 1
        return found


class BotProcess:
    """The bot as an operator runs it (`stadtdialog run`), in a subprocess that can be SIGKILLed."""

    def __init__(self, server: Synapse, account: Account, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.data_dir = directory / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
        self.env.update(bot_environment(server, account, self.data_dir))
        self.env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "bot.log").open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], env=self.env,
                                            cwd=self.directory, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the bot's SQLite database while the bot runs."""
        return read_only(self.data_dir, sql, *params)


def read_only(data_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Query the bot's SQLite database read-only (no write lock: the bot keeps its pace)."""
    path = data_dir / "stadtdialog.sqlite3"
    if not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        try:
            return list(db.execute(sql, params).fetchall())
        except sqlite3.OperationalError:  # not migrated yet
            return []



# --- fixtures shared by the Matrix test modules (imported there; registered under the names "bot"/"citizen") -----


@pytest.fixture(name="bot")
async def bot_fixture(synapse_server: Synapse, tmp_path: Path) -> AsyncIterator[MatrixBot]:
    """The bot on the session's homeserver, started on a fresh data dir; stopped afterwards."""
    harness = MatrixBot.register(synapse_server, tmp_path / "bot")
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture(name="citizen")
async def citizen_fixture(bot: MatrixBot, tmp_path: Path) -> AsyncIterator[MatrixCitizen]:
    """A citizen with an encrypted DM to the bot, greeted."""
    person = await bot.citizen(tmp_path / "citizens")
    try:
        yield person
    finally:
        await person.close()


def answers_in_db(bot: MatrixBot, citizen: MatrixCitizen) -> dict[str, object]:
    """The citizen's stored answers, question id → value."""
    with bot.runtime.db.unit_of_work() as uow:
        export = uow.citizens.export(bot.pseudonym(citizen))
    return {a["question_id"]: a["value"] for r in export["responses"] for a in r["answers"]}
