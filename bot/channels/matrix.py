"""The Matrix channel: a thin adapter over matrix-nio's AsyncClient (E2EE with a persistent key store).

Receiving is one sync loop. Each sync's events go to the runtime together with the new since-token in ONE
transaction (`sink.accept(events, cursor=("matrix:since", token))`), so a restart neither replays history nor
loses what arrived; duplicates are dropped by event id. The first start ever syncs once to learn the position and
handles no history. A message that cannot be decrypted waits (with the events behind it in that room) while the
room key is requested; meanwhile the stored since-token stays at the sync that brought it, so even a crash cannot
lose it. If the key does not come, the citizen is told (MEDIA "undecryptable").

Rooms: direct-message invites are joined (optionally only from `allowed_servers`) and greeted as if the citizen
had pressed Start (`/start`); anything in a room that is not one-to-one becomes a GROUP event, which the core
answers politely — after that reply the bot leaves the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from nio import (
    AsyncClient,
    EncryptionError,
    InviteMemberEvent,
    LocalProtocolError,
    MegolmEvent,
    MessageDirection,
    RoomMemberEvent,
    RoomMessagesResponse,
    SyncResponse,
)

from bot.channels.base import EventSink, RecipientUnreachableError, RetryLater, SentMessage, text_event
from bot.channels.matrix_inbound import (
    CHANNEL,
    Held,
    HeldEvents,
    VoteMemory,
    group_event,
    server_of,
    to_inbound,
    undecryptable,
)
from bot.channels.matrix_rooms import Rooms
from bot.channels.matrix_send import NETWORK_ERRORS, MatrixSender
from bot.channels.matrix_session import (
    MatrixLoginError,
    MatrixSettings,
    MatrixUnreachableError,
    maintain_keys,
    open_client,
    password_login,
)
from bot.config import Config, ConfigError
from handlers.events import Inbound, Outbound

log = logging.getLogger(__name__)

CURSOR_KEY = "matrix:since"
TIMELINE_LIMIT = 100
"""Events per room and sync; a longer gap (bot down, chatty citizen) is fetched page by page, up to BACKFILL_PAGES."""
BACKFILL_PAGES = 10
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0


def sync_filter(own_user_id: str, *, first_start: bool) -> dict[str, Any]:
    """What the bot syncs: room timelines without its own echoes (each would wake the sync loop for nothing), no
    presence, typing or receipts. The first start ever needs no history at all, only the current state."""
    timeline: dict[str, Any] = {"limit": 1} if first_start else {"limit": TIMELINE_LIMIT,
                                                                 "not_senders": [own_user_id]}
    return {"room": {"timeline": timeline, "ephemeral": {"types": []}}, "presence": {"types": []}}


@dataclass
class _Batch:
    """What one sync yields: events for the runtime, and room actions to take once they are stored."""

    events: list[Inbound] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    gone: list[tuple[str, str]] = field(default_factory=list)  # (user, DM room) left: unreachable until they write


class MatrixChannel:
    """Citizens on Matrix; `ready` is set once the first sync has been stored."""

    name = CHANNEL

    def __init__(self, settings: MatrixSettings, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self._clock = clock
        self.client: AsyncClient | None = None
        self._sender: MatrixSender | None = None
        self._sink: EventSink | None = None
        self._task: asyncio.Task[None] | None = None
        self._rooms: Rooms | None = None
        self._held = HeldEvents()
        self._votes = VoteMemory()
        self.ready = asyncio.Event()

    @classmethod
    def from_config(cls, config: Config) -> MatrixChannel:
        if not config.matrix_homeserver or not config.matrix_user:
            raise ConfigError("STADTDIALOG_MATRIX_HOMESERVER", "Matrix needs a homeserver URL and a user id")
        if not (config.matrix_password or config.matrix_access_token) and not (
            config.data_dir / "matrix" / "session.json"
        ).is_file():
            raise ConfigError("STADTDIALOG_MATRIX_PASSWORD", "Matrix needs a password or an access token")
        return cls(MatrixSettings(
            homeserver=config.matrix_homeserver.rstrip("/"),
            user_id=config.matrix_user,
            data_dir=config.data_dir,
            password=config.matrix_password,
            access_token=config.matrix_access_token,
            allowed_servers=config.matrix_allowed_servers,
        ))

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self, sink: EventSink) -> None:
        """Log in (or restore the stored device) and start the sync loop."""
        self._sink = sink
        try:
            self.client = await open_client(self.settings)
        except NETWORK_ERRORS as exc:
            raise MatrixUnreachableError(f"homeserver unreachable at start: {type(exc).__name__}") from None
        self._sender = MatrixSender(self.client)
        self._rooms = Rooms(self.client, self.ready)
        self._task = asyncio.create_task(self._sync_loop(), name="matrix-sync")

    async def stop(self) -> None:
        tasks = [*([self._task] if self._task is not None else []), *(self._rooms.cancel() if self._rooms else [])]
        if self._task is not None:
            self._task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client is not None:
            await self.client.close()

    # --- sending -----------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        """Render and send one message into room `chat_id` (see matrix_render for the forms); `key` makes the
        transaction ids, so the homeserver drops a repeat of a message sent just before a crash."""
        if self._sender is None or self._rooms is None:
            raise RetryLater(5, "matrix_not_started")
        await self._rooms.ensure(chat_id)
        if self._alone(chat_id) and chat_id not in self._rooms.leave_after_reply:
            raise RecipientUnreachableError("matrix_dm_left")  # the citizen left: nobody would read it
        ids = await self._sender.deliver(chat_id, message, key)
        if chat_id in self._rooms.leave_after_reply:
            await self._rooms.leave(chat_id)
        return SentMessage(ids)

    # --- receiving ---------------------------------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        client, sink, rooms = self.client, self._sink, self._rooms
        assert client is not None and sink is not None and rooms is not None
        since: str | None = None
        loaded, first, seq, backoff = False, True, 0, BACKOFF_START
        while True:
            try:
                if not loaded:
                    since, loaded = await sink.load_cursor(CURSOR_KEY), True
                await self._maintain_keys()
                response = await client.sync(
                    timeout=0 if first else self._poll_timeout(),
                    since=since,
                    full_state=True if first else None,
                    sync_filter=sync_filter(client.user_id, first_start=since is None),
                )
                if not isinstance(response, SyncResponse):
                    await self._sync_error(response, backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                seq += 1
                batch = await self._read_sync(response, since, seq)
                batch.events.extend(self._release_held())
                for user_id, room_id in batch.gone:  # stored before the cursor moves past the leave
                    await sink.mark_unreachable(CHANNEL, user_id, room_id)
                await self._accept(batch.events, self._held.cursor(response.next_batch))
                for room_id in batch.joins:
                    rooms.join(room_id)
                for room_id in batch.leaves:
                    rooms.leave_soon(room_id)
                since, first, backoff = response.next_batch, False, BACKOFF_START
                await rooms.synced()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network loss, homeserver restart, anything: never stop listening
                log.warning("event=matrix_sync_failed error=%s retry_in=%.0f", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    def _poll_timeout(self) -> int:
        """Long-poll, but wake up in time when an undecryptable message's grace period ends."""
        nearest = self._held.nearest_deadline()
        if nearest is None:
            return self.settings.sync_timeout_ms
        remaining_ms = int((nearest - asyncio.get_running_loop().time()) * 1000) + 50
        return max(200, min(self.settings.sync_timeout_ms, remaining_ms))

    async def _sync_error(self, response: Any, backoff: float) -> None:
        code = getattr(response, "status_code", None)
        log.warning("event=matrix_sync_error code=%s retry_in=%.0f", code, backoff)
        if code == "M_UNKNOWN_TOKEN" and self.settings.password and self.client is not None:
            with contextlib.suppress(MatrixLoginError, *NETWORK_ERRORS):
                # Log in again as the same device, so the key store stays valid.
                fresh = await password_login(self.settings, self.settings.matrix_dir / "store",
                                             self.client.config.pickle_key, self.client.device_id)
                self.client.access_token = fresh.access_token
                await fresh.close()
                return
        await asyncio.sleep(backoff)

    async def _maintain_keys(self) -> None:
        """Key upload/query/claim and pending to-device messages; a failure waits for the next round."""
        assert self.client is not None
        try:
            await maintain_keys(self.client)
        except (*NETWORK_ERRORS, LocalProtocolError) as exc:
            log.warning("event=matrix_key_maintenance_failed error=%s", type(exc).__name__)

    async def _accept(self, events: list[Inbound], cursor: str) -> None:
        """Store events and cursor together; retry until it worked (the sync position must not move before)."""
        assert self._sink is not None
        delay = BACKOFF_START
        while True:
            try:
                await self._sink.accept(events, cursor=(CURSOR_KEY, cursor))
                return
            except Exception as exc:  # the database may be briefly unavailable; the error text may hold data
                log.warning("event=matrix_accept_failed error=%s events=%s retry_in=%.0f",
                            type(exc).__name__, len(events), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)

    async def _read_sync(self, response: SyncResponse, since: str | None, seq: int) -> _Batch:
        """Turn one sync into Inbound events and room actions; on the first start ever, handle no history."""
        client = self.client
        assert client is not None
        batch = _Batch()
        now = self._clock()
        for room_id, invite in response.rooms.invite.items():
            self._read_invite(room_id, invite.invite_state, now, batch)
        if since is None:
            return batch
        deadline = asyncio.get_running_loop().time() + self.settings.undecryptable_grace
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch:
                events = [*await self._backfill(room_id, info.timeline.prev_batch, since), *events]
            for event in events:
                source = getattr(event, "source", None) or {}
                if source.get("sender") == client.user_id:
                    continue
                if isinstance(event, RoomMemberEvent):
                    if event.membership in ("leave", "ban") and self._alone(room_id):
                        batch.leaves.append(room_id)
                        if event.state_key and event.state_key != client.user_id:
                            batch.gone.append((event.state_key, room_id))
                    continue
                if isinstance(event, MegolmEvent) or room_id in self._held:
                    if isinstance(event, MegolmEvent):
                        event.room_id = room_id
                        self._request_key(event)
                    self._held.add(room_id, Held(event, since, seq, deadline))
                    continue
                inbound = self._inbound(room_id, source, now)
                if inbound is not None:
                    batch.events.append(inbound)
        return batch

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events of a gap the sync skipped (its timeline was `limited`), oldest first."""
        assert self.client is not None
        chunks: list[Any] = []
        start: str | None = prev_batch
        for _ in range(BACKFILL_PAGES):
            response = await self.client.room_messages(room_id, start=start, end=since,
                                                        direction=MessageDirection.back, limit=TIMELINE_LIMIT)
            if not isinstance(response, RoomMessagesResponse) or not response.chunk:
                break
            chunks.extend(response.chunk)
            start = response.end
            if not start or start == since:
                break
        else:
            log.warning("event=matrix_gap_too_long pages=%s", BACKFILL_PAGES)
        return list(reversed(chunks))

    def _read_invite(self, room_id: str, invite_state: list[Any], now: datetime, batch: _Batch) -> None:
        assert self.client is not None and self._rooms is not None
        own = self.client.user_id
        invite = next((e for e in invite_state if isinstance(e, InviteMemberEvent)
                       and e.state_key == own and e.membership == "invite"), None)
        if invite is None or self._rooms.joining(room_id):
            return
        inviter = invite.sender
        allowed = self.settings.allowed_servers
        if allowed and server_of(inviter) not in allowed:
            log.info("event=matrix_invite_declined reason=server_not_allowed")
            batch.leaves.append(room_id)
            return
        # Stable across replays (so duplicates drop), but without the room id: event ids outlive /loeschen.
        event_id = "invite:" + hashlib.sha256(room_id.encode()).hexdigest()[:32]
        if invite.content.get("is_direct") is True:
            # Joining a DM is the Matrix way of pressing Start; the core greets like it does on Telegram.
            batch.events.append(text_event(CHANNEL, inviter, room_id, event_id, "/start", now))
        else:
            self._rooms.leave_after_reply.add(room_id)
            batch.events.append(group_event(inviter, room_id, event_id, now))
        batch.joins.append(room_id)

    def _inbound(self, room_id: str, source: dict[str, Any], now: datetime) -> Inbound | None:
        inbound = self._as_group_if_needed(room_id, to_inbound(source, room_id, now, self._votes))
        room = None if self.client is None else self.client.rooms.get(room_id)
        if inbound is not None and room is not None and room.encrypted:
            inbound = replace(inbound, encrypted=True)  # staff see citizens' full texts only in encrypted rooms
        return inbound

    def _as_group_if_needed(self, room_id: str, inbound: Inbound | None) -> Inbound | None:
        """A room with more than two members is a group: one polite GROUP answer, then nothing until we left."""
        assert self.client is not None and self._rooms is not None
        room = self.client.rooms.get(room_id)
        leaving = self._rooms.leave_after_reply
        if inbound is None or not (room_id in leaving or (room and room.member_count > 2)):
            return inbound
        if room_id in leaving:
            return None
        leaving.add(room_id)
        return group_event(inbound.user_id, room_id, inbound.event_id, inbound.received_at)

    def _alone(self, room_id: str) -> bool:
        assert self.client is not None
        room = self.client.rooms.get(room_id)
        return room is not None and room.joined_count <= 1 and room.invited_count == 0

    def _request_key(self, event: MegolmEvent) -> None:
        assert self.client is not None
        if event.session_id in self.client.outgoing_key_requests:
            return
        task = asyncio.create_task(self.client.request_room_key(event), name="matrix-key-request")
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failure only delays the notice

    def _release_held(self) -> list[Inbound]:
        """Events of rooms whose undecryptable head is now decrypted or past its grace period, in order."""
        client = self.client
        assert client is not None

        def decrypt(event: MegolmEvent) -> Any | None:
            try:
                return client.decrypt_event(event)
            except EncryptionError:
                return None

        released: list[Inbound] = []
        now = self._clock()
        clock = asyncio.get_running_loop().time()
        for room_id, event, given_up in self._held.release(clock, decrypt, lambda e: isinstance(e, MegolmEvent)):
            if given_up:
                log.info("event=matrix_undecryptable")
                inbound = self._as_group_if_needed(room_id, undecryptable(event.source, room_id, now))
            else:
                inbound = self._inbound(room_id, getattr(event, "source", None) or {}, now)
            if inbound is not None:
                released.append(inbound)
        return released
