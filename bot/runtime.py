"""The runtime: stores inbound events, runs the pure core per event in one transaction, then sends.

Flow per event (DESIGN.md, "Acknowledge after commit"):
1. `accept()` writes the raw events to the `inbound_events` inbox in one transaction (duplicates dropped) and
   returns; only then does the channel acknowledge them upstream.
2. A worker per chat drains that chat's inbox in order: one transaction loads the state, runs
   `handlers.dialogue.handle`, stores state, answers, ideas and the outbound messages, and marks the event done.
3. Only after that commit does the outbox sender (`bot/outbox.py`) deliver the chat's messages, in order, and
   delete them.
Different chats are processed concurrently; one chat strictly sequentially.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bot.campaigns.tick import AudienceSettings, TickReport, campaign_tick
from bot.channels.base import Channel, ChannelStartError, ChannelUnreachableError, clean_inbound
from bot.classify import TextClassifier, classifiable_text
from bot.config import Config
from bot.decisions import DecisionStore, follow_up_id_of
from bot.group_commit import GroupCommit
from bot.ideaboard.search import SimilarSearch, TextEmbedder
from bot.identity import pseudonym
from bot.outbox import OutboxSender, RuntimeStats
from bot.outreach.claims import FollowUpClaimer, respect_rules
from bot.pacing import SendPacer, bulk_key
from bot.storage.db import Database, UnitOfWork
from bot.storage.items import FOLLOW_UP_FAILED, chat_key
from bot.survey_sync import catalog_generation, load_catalog
from bot.themes.jobs import ThemeJobs, shared_embedder
from handlers.events import CitizenState, FieldInfo, Inbound, InboundKind, Outbound, Texts
from surveys.catalog import SurveyCatalog

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""An event whose processing crashed this often is given up (the citizen gets an apology instead)."""
UNCONSENTED_RETENTION = timedelta(hours=24)
DONE_EVENT_RETENTION = timedelta(days=2)
DEAD_LETTER_RETENTION = timedelta(days=7)
"""Messages given up on (outbox status "failed") are kept this long after they were queued, for staff to notice
(`stadtdialog status`) and citizens to see in /meinedaten; then the housekeeping purges them (they hold text)."""
SQLITE_DB_THREADS = 1
"""SQLite has one writer: more threads would only queue on its write lock (and sleep in its busy handler)."""
POSTGRES_DB_THREADS = 4
MAX_BATCH = 64
START_RETRY_FIRST = 2.0
"""Seconds before a channel whose server was unreachable at start is tried again; doubled up to the maximum."""
START_RETRY_MAX = 300.0
"""Most events (of different chats) processed in one transaction, and most sent messages deleted in one."""

R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Processed:
    """What processing a chat's next event did. `queued`: None if nothing was pending, else whether messages were
    queued; `failed_item`: (inbox id, attempts, error) of an event whose processing raised."""

    queued: bool | None
    failed_item: tuple[int, int, str] | None = None
    done: bool = False
    searches_added: bool = False
    """The batch this event was in stored a similar-idea search and committed (the search worker is kicked)."""


def similar_embedder(classifier: TextClassifier | None) -> TextEmbedder | None:
    """The classifier's e5 embedder for the similar-idea search (`shared_embedder`: one model in memory, shared with
    the themes); None without a classifier or when its prefix is not the one the matcher was fitted with."""
    embedder = shared_embedder(classifier)
    if embedder is None:
        return None
    from nlp.similar import MatchParams

    if getattr(embedder, "prefix", None) != MatchParams.load().prefix:
        log.warning("event=similar_search_off reason=embedder_prefix")
        return None
    return embedder


class Runtime:
    """Wires storage, the dialogue core and the channels; see the module docstring for the flow."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        texts: Texts,
        fields: Sequence[FieldInfo],
        catalog: SurveyCatalog,
        clock: Callable[[], datetime] = utcnow,
        classifier: TextClassifier | None = None,
        embedder: TextEmbedder | None = None,
    ) -> None:
        self.config = config
        self.classifier = classifier
        self.db = database
        self.texts = texts
        self.fields = tuple(fields)
        self.catalog = catalog
        embedder = embedder if embedder is not None else similar_embedder(classifier)
        self.similar = SimilarSearch(
            database, embedder, in_db=self._in_db, kick_chat=self._kick_chat, clock=lambda: self.clock()
        )
        self.decisions = DecisionStore(
            config, texts, self.fields, lambda: self.catalog, similar_search=self.similar.enabled
        )
        self.clock = clock
        self.stats = RuntimeStats()
        self.channels: dict[str, Channel] = {}
        self.ready: dict[str, Channel] = {}  # started channels: the outbox sends only through these
        self.start_retry_first = START_RETRY_FIRST
        self.fatal = asyncio.Event()  # set when a channel can never start (e.g. its token was refused)
        self.fatal_error: ChannelStartError | None = None
        self._starters: set[asyncio.Task[None]] = set()
        self._chat_workers: dict[str, asyncio.Task[None]] = {}
        self._chat_dirty: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None
        parallel = SQLITE_DB_THREADS if database.is_sqlite else POSTGRES_DB_THREADS
        self._processing = GroupCommit(self._process_batch_async, parallel=parallel, max_batch=MAX_BATCH)
        self.pacer: SendPacer | None = SendPacer.from_config(config)  # one send budget per channel (bot/pacing.py)
        self.outbox = OutboxSender(
            database, self.ready, self._in_db, lambda: self.clock(), self.stats, parallel=parallel,
            max_batch=MAX_BATCH, pacer=self.pacer,
        )
        self.follow_ups = FollowUpClaimer(
            database, respect_rules(config), lambda: self.clock(), in_db=self._in_db, kick=self._kick_chat,
            pacer=lambda: getattr(self, "pacer", None), channels=lambda: tuple(self.channels),
            inbox_retention=DONE_EVENT_RETENTION,
        )
        # Background embeddings and the daily theme refresh (bot/themes), on the classifier's e5.
        self.themes = ThemeJobs(database, shared_embedder(classifier), lambda: self.clock())
        self._running = False
        self._catalog_generation: str | None = ""  # "": never checked, so the first check reloads
        self._idle = asyncio.Event()
        self._idle.set()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def add_channel(self, channel: Channel) -> None:
        self.channels[channel.name] = channel

    async def start(self) -> None:
        """Start channels and resume whatever a previous run left pending (inbox and outbox).

        A channel whose server is unreachable (`ChannelUnreachableError`) does not keep the others from starting:
        it is tried again in the background with back-off, and its messages wait in the outbox meanwhile. Any
        other `ChannelStartError` (a refused token or password) is raised.
        """
        self._running = True
        self.outbox.running = True
        self.similar.running = True
        for channel in self.channels.values():
            try:
                await channel.start(self)
            except ChannelUnreachableError as exc:
                log.warning("event=channel_unreachable channel=%s retry_in=%.0fs reason=%s", channel.name,
                            self.start_retry_first, exc)
                task = asyncio.create_task(self._start_later(channel), name=f"start:{channel.name}")
                self._starters.add(task)
                task.add_done_callback(self._starters.discard)
            else:
                self.ready[channel.name] = channel
        await self.follow_ups.recover()
        await self.resume_pending()
        self.similar.kick()  # searches a previous run left (each is answered, with or without an embedder)

    async def _start_later(self, channel: Channel) -> None:
        delay = self.start_retry_first
        while self._running:
            await asyncio.sleep(delay)
            try:
                await channel.start(self)
            except ChannelUnreachableError as exc:
                delay = min(delay * 2, START_RETRY_MAX)
                log.warning("event=channel_unreachable channel=%s retry_in=%.0fs reason=%s", channel.name, delay, exc)
            except ChannelStartError as exc:
                log.error("event=channel_start_failed channel=%s reason=%s", channel.name, exc)
                self.fatal_error = exc
                self.fatal.set()
                return
            except Exception:  # an unexpected failure of this attempt: its replies must not wait for ever
                delay = min(delay * 2, START_RETRY_MAX)
                log.exception("event=channel_start_crashed channel=%s retry_in=%.0fs", channel.name, delay)
            else:
                self.ready[channel.name] = channel
                log.info("event=channel_started_late channel=%s", channel.name)
                await self.resume_pending()  # its messages waited in the outbox
                return

    async def stop(self) -> None:
        """Stop channels, let running transactions finish; pending rows stay stored for the next start."""
        self._running = False
        for starter in list(self._starters):
            starter.cancel()
        await asyncio.gather(*self._starters, return_exceptions=True)
        for channel in list(self.channels.values()):  # half-started ones too (a webhook listener, a session)
            try:
                await channel.stop()
            except Exception:  # a failing channel must not keep the others from stopping
                log.exception("event=channel_stop_failed channel=%s", channel.name)
        await self.outbox.stop()
        await self.similar.stop()
        tasks = list(self._chat_workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._processing.stop()
        await self.themes.close()
        executor, self._executor = self._executor, None
        if executor is not None:  # let a running transaction finish without blocking the event loop
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
        if self.classifier is not None:
            await self.classifier.close()

    async def _in_db(self, function: Callable[..., R], *args: Any) -> R:
        """Run blocking database work on the runtime's database threads (one for SQLite)."""
        if self._executor is None:
            threads = SQLITE_DB_THREADS if self.db.is_sqlite else POSTGRES_DB_THREADS
            self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="stadtdialog-db")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(function, *args))

    async def resume_pending(self) -> None:
        """Kick workers for every chat that has unprocessed events or unsent messages, and the similar-idea search
        worker (a search row an error left behind, or one whose kick was lost, is answered within this interval)."""
        self.similar.kick()
        keys = await self._in_db(self._pending_keys)
        for key in keys[0]:
            self._kick_chat(key)
        for key in keys[1]:
            self.outbox.kick(key)

    def _pending_keys(self) -> tuple[list[str], list[str]]:
        with self.db.unit_of_work(read_only=True) as uow:
            return uow.inbox.pending_chat_keys(), uow.outbox.pending_chat_keys()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until no chat has work in flight (tests and the terminal use it)."""
        async with asyncio.timeout(timeout):
            while self._chat_workers or self.outbox.workers or self.similar.busy:
                await asyncio.gather(
                    *self._chat_workers.values(), *self.outbox.workers.values(), return_exceptions=True
                )
                await self.similar.wait_idle()

    # --- inbound -----------------------------------------------------------------------------------------------

    async def accept(self, events: Sequence[Inbound], cursor: tuple[str, str] | None = None) -> list[bool]:
        """Durably store events in the inbox, and the channel's `cursor` (key, value) in the same transaction;
        the channel may acknowledge them afterwards. A cursor alone (no events) is stored too."""
        if not events and cursor is None:
            return []
        events = await self._classified(events)
        try:
            results = await self._in_db(self._store_events, list(events), cursor)
        except Exception as exc:
            if not events:
                raise
            # One unstorable event must not stall the channel for everyone: store what can be stored.
            log.warning("event=inbox_batch_failed size=%s error=%s", len(events), type(exc).__name__)
            results = await self._in_db(self._store_events_alone, list(events), cursor)
        for event, new in zip(events, results, strict=True):
            if new:
                self._kick_chat(chat_key(event.channel, event.chat_id))
        self.stats.accepted += sum(results)
        self.stats.duplicates += len(results) - sum(results)
        return results

    async def _classified(self, events: Sequence[Inbound]) -> Sequence[Inbound]:
        """The events with the classifier's scores attached (one model call for all), before anything is stored:
        the scores travel in the inbox payload, so a restart does not classify again. A failing classifier costs
        the citizen only the proposal (they choose the field by hand), never the event."""
        if self.classifier is None:
            return events
        wanted = [(index, text) for index, event in enumerate(events) if (text := classifiable_text(event)) is not None]
        if not wanted:
            return events
        try:
            scores = await self.classifier.classify_many([text for _, text in wanted])
        except Exception as exc:  # the exception text may quote the citizen's words: log only its type
            log.error("event=classification_failed texts=%s error=%s", len(wanted), type(exc).__name__)
            return events
        classified = list(events)
        for (index, _), result in zip(wanted, scores, strict=True):
            if result is not None:
                classified[index] = replace(classified[index], classification=result)
        return classified

    def _store_events(self, events: list[Inbound], cursor: tuple[str, str] | None = None) -> list[bool]:
        with self.db.unit_of_work() as uow:
            results = [
                uow.inbox.add(
                    event.to_dict(),
                    channel=event.channel,
                    event_id=event.event_id,
                    chat_key=chat_key(event.channel, event.chat_id),
                    received_at=event.received_at,
                )
                for event in events
            ]
            if cursor is not None:
                uow.channel_state.set(cursor[0], cursor[1], self.clock())
            return results

    def _store_events_alone(self, events: list[Inbound], cursor: tuple[str, str] | None) -> list[bool]:
        """Each event in its own transaction, cleaned again if it fails (a channel that forgot `clean_inbound`);
        one still unstorable while the database works is skipped with a log line, so the channel can move on.
        Raises when the database itself fails (nothing can be stored now: the channel must retry)."""
        results: list[bool] = []
        for event in events:
            try:
                results += self._store_events([event])
                continue
            except Exception as exc:
                error = type(exc).__name__
            try:
                results += self._store_events([clean_inbound(event)])
                log.warning("event=inbound_cleaned channel=%s error=%s", event.channel, error)
                continue
            except Exception as exc:
                error = type(exc).__name__
            self.db.ping()  # raises when it is the database, not the event
            log.error("event=inbound_unstorable_skipped channel=%s error=%s", event.channel, error)
            results.append(False)
        if cursor is not None:
            self._store_events([], cursor)
        return results

    async def load_cursor(self, key: str) -> str | None:
        """The cursor a channel last stored with `accept` (e.g. "matrix:since"); None before the first."""

        def read() -> str | None:
            with self.db.unit_of_work(read_only=True) as uow:
                return uow.channel_state.get(key)

        return await self._in_db(read)

    def _kick_chat(self, key: str) -> None:
        self._chat_dirty.add(key)
        if key not in self._chat_workers and self._running:
            self._chat_workers[key] = asyncio.create_task(self._chat_worker(key), name=f"chat:{key}")

    async def _chat_worker(self, key: str) -> None:
        try:
            while key in self._chat_dirty:
                self._chat_dirty.discard(key)
                while self._running:
                    outcome = await self._processing.submit(key)
                    if outcome is None:
                        break
                    if outcome:
                        self.outbox.kick(key)
        except Exception:
            log.exception("event=chat_worker_crashed")
        finally:
            self._chat_workers.pop(key, None)

    async def _process_batch_async(self, keys: list[str]) -> list[bool | None]:
        """Process the next event of each chat in `keys` (distinct chats: a chat waits for its own outcome)."""
        processed = await self._in_db(self._process_batch, keys)
        self._release_unsent_bulk()
        if any(item.searches_added for item in processed):  # committed: the search worker may answer them now
            self.similar.kick()
        outcomes: list[bool | None] = []
        for item in processed:
            self.stats.failed += item.failed_item is not None
            self.stats.processed += item.done
            outcomes.append(item.queued)
        return outcomes

    def _release_unsent_bulk(self) -> None:
        """Claimed follow-ups that sent nothing no longer count against their channel's bulk capacity."""
        unsent, self.decisions.unsent = self.decisions.unsent, []
        if self.pacer is not None:
            for channel, follow_up_id in unsent:
                self.pacer.untrack_bulk(channel, bulk_key(follow_up_id))

    def _process_batch(self, keys: list[str]) -> list[_Processed]:
        """One transaction for the next event of several chats, each event in its own savepoint.

        A failing event rolls back only its savepoint and is counted in a fresh transaction after the commit; if
        the shared transaction itself fails, nothing of it is stored and the chats are processed one by one.
        """
        self.decisions.take_searches_added()  # this thread's flag covers this batch only
        try:
            with self.db.unit_of_work() as uow:
                processed = [self._process_next(uow, key) for key in keys]
        except Exception:
            if len(keys) == 1:
                raise
            log.exception("event=batch_failed size=%s", len(keys))
            return [self._process_alone(key) for key in keys]
        if self.decisions.take_searches_added():  # committed with this batch (a stray True only kicks once more)
            processed = [replace(item, searches_added=True) for item in processed]
        results: list[_Processed] = []
        for item in processed:
            if item.failed_item is None:
                results.append(item)
                continue
            try:
                queued = self._record_failure(*item.failed_item)
            except Exception:  # the others' outcomes are committed and must still reach their chat workers
                log.exception("event=recording_failure_failed inbox_id=%s", item.failed_item[0])
                queued = False
            results.append(_Processed(queued, item.failed_item, searches_added=item.searches_added))
        return results

    def _process_alone(self, key: str) -> _Processed:
        try:
            return self._process_batch([key])[0]
        except Exception:  # the event stays pending; the chat resumes with its next event or the next start
            log.exception("event=processing_failed chat_worker_stopped")
            return _Processed(None)

    def _process_next(self, uow: UnitOfWork, key: str) -> _Processed:
        """Process the oldest pending event of chat `key` inside a savepoint of the caller's transaction."""
        item = uow.inbox.next_for_chat(key)
        if item is None:
            return _Processed(None)
        try:
            with uow.session.begin_nested():
                claimed = uow.inbox.claim(item)
                if claimed is None:  # another worker took it
                    return _Processed(False)
                # cleaned again: an event stored before channels cleaned their text must not fail for ever
                queued = self._process_event(uow, clean_inbound(Inbound.from_dict(claimed.payload or {})))
                uow.inbox.mark_done(item.id)
            return _Processed(queued, done=True)
        except Exception as exc:
            log.exception("event=processing_failed inbox_id=%s attempts=%s", item.id, item.attempts + 1)
            return _Processed(False, (item.id, item.attempts + 1, type(exc).__name__))

    def _record_failure(self, item_id: int, attempts: int, error: str) -> bool:
        """Count a failed attempt; after MAX_ATTEMPTS give up and tell the citizen, so they always hear back.

        A failed follow-up is the bot's own doing, not something the citizen wrote: it ends as failed, and nobody
        gets an apology they did not ask for."""
        with self.db.unit_of_work() as uow:
            if attempts < MAX_ATTEMPTS:
                uow.inbox.retry(item_id, error)
                return False
            item = uow.inbox.lock(item_id)
            uow.inbox.mark_failed(item_id, error)
            if item is None or not item.payload:
                return False
            event = Inbound.from_dict(item.payload)
            follow_up_id = follow_up_id_of(event)
            if event.kind is InboundKind.FOLLOW_UP:
                if follow_up_id is not None:
                    uow.follow_ups.finish(follow_up_id, FOLLOW_UP_FAILED, "processing_failed", self.clock())
                return False
            citizen = pseudonym(self.config.pseudonym_secret, event.channel, event.user_id)
            state = uow.citizens.load_state(citizen) or CitizenState()
            message = Outbound(self.texts.get("error.internal", state.language))
            uow.outbox.enqueue(event.channel, event.chat_id, message.to_dict())
            return True

    def _process_event(self, uow: UnitOfWork, event: Inbound) -> bool:
        """Run the core for one event inside the caller's transaction (bot/decisions.py); True if messages
        were queued."""
        return self.decisions.process(uow, event, self.clock())

    # --- scheduled work (called by the scheduler) --------------------------------------------------------------

    async def feed_due_follow_ups(self) -> int:
        """Feed due follow_ups rows to their chats under the respect rules (bot/outreach/claims.py); how many."""
        return await self.follow_ups.tick()

    async def mark_unreachable(self, channel: str, user_id: str, chat_id: str | None = None) -> None:
        """The channel saw the citizen leave (e.g. the Matrix DM `chat_id`): skip them until they write again."""

        def mark() -> int:
            with self.db.unit_of_work() as uow:
                return uow.contacts.mark_unreachable_user(channel, user_id, self.clock(), chat_id=chat_id)

        if await self._in_db(mark):
            log.info("event=contact_unreachable channel=%s", channel)

    # --- the survey catalog and campaigns (called by the scheduler) ---------------------------------------------

    async def reload_catalog(self) -> None:
        """Load the survey catalog from the database again (the CLI closed, reopened or imported surveys)."""
        self.catalog = await self._in_db(load_catalog, self.db)
        log.info("event=catalog_reloaded")

    async def refresh_catalog(self) -> bool:
        """Reload the catalog if the CLI bumped its generation since the last check; True if it did."""
        generation = await self._in_db(catalog_generation, self.db)  # read before loading: no bump is missed
        if generation == self._catalog_generation:
            return False
        await self.reload_catalog()
        self._catalog_generation = generation
        return True

    async def campaign_tick(self) -> TickReport:
        """Start, remind and close due campaigns (bot/campaigns/tick.py); each batch is its own transaction."""
        settings = AudienceSettings(self.config.consent_version, self.config.staff, self.config.pseudonym_secret)
        return await campaign_tick(self._in_db, self.db, self.catalog, settings, self.clock())

    # --- housekeeping (called by the scheduler) ----------------------------------------------------------------

    async def housekeeping(self) -> dict[str, int]:
        """Purge citizens who never consented (24 h), processed inbox rows, old dead letters and staff audit entries
        past `config.audit_retention`; returns counts."""
        now = self.clock()

        def purge() -> dict[str, int]:
            with self.db.unit_of_work() as uow:
                return {
                    "unconsented": uow.citizens.purge_unconsented(now - UNCONSENTED_RETENTION),
                    "inbox": uow.inbox.purge_done(now - DONE_EVENT_RETENTION),
                    "dead_letters": uow.outbox.purge_failed(now - DEAD_LETTER_RETENTION),
                    "audit": uow.audit.purge(now - self.config.audit_retention),
                }

        counts = await self._in_db(purge)
        log.info("event=housekeeping %s", " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts
