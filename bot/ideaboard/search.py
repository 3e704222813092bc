"""The similar-idea search worker (issue 13): `FindSimilar` rows in, SIMILAR events out.

The core asks for a search with an effect; `DecisionStore` stores it as an `idea_searches` row in the event's
transaction. After that commit the runtime kicks this worker (and on start, for rows a previous run left). Per row:
1. claim the row by counting the attempt only if no other worker counted one since it was read (each row is
   embedded by one worker at a time; a row whose worker died is offered again after a while: `store.pending_searches`)
   — a text that crashes the process is given up after `MAX_ATTEMPTS`: the citizen still hears back, without
   matches;
2. embed the text with the shared e5 embedder on the worker's own thread, outside any transaction;
3. bring the index up to date (a cheap query for ideas whose `publication_at` changed since the last sync, applied
   on the worker's thread) and search it;
4. in one transaction: load the matches' public data (approved, unmerged, not the citizen's own; a match gone
   meanwhile is dropped from the index), store the SIMILAR event in the chat's inbox (`event_id` "similar:<row id>":
   a rerun after a crash is a duplicate) and delete the row.
Embedding failure → a result without vector and matches: the idea is filed as usual.

The index holds approved, unmerged ideas with stored embeddings. It is built from stored vectors (nothing is
embedded at start) and follows `ideas.publication_at`, so several worker processes stay current without talking
to each other.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import numpy as np

from bot.ideaboard import store
from bot.storage.db import Database, UnitOfWork
from bot.storage.items import chat_key
from handlers.events import Inbound, InboundKind, SimilarIdea, SimilarResult
from nlp.embed import DIMENSIONS, FloatArray
from nlp.similar import MatchIndex, MatchParams, default_restorer, embedding_text, text_keys

log = logging.getLogger(__name__)

R = TypeVar("R")

SHOWN = 3
"""Matches the citizen sees at most."""
LOOKED_AT = 10
"""Matches asked of the index: some may turn out to be the citizen's own or gone."""
MAX_ATTEMPTS = 3
"""Attempts at one search before it is answered without embedding (a text that crashes the embedder)."""
BUILD_PAGE = 5000
"""Ideas read per query when the index is built at start."""
BATCH = 16
"""Rows read per round; each is embedded and answered on its own."""
RETRY_DELAY = 5.0
"""Seconds before searches that failed (the database was away) are tried again; a search that failed after its
claim waits until the claim times out (`store.CLAIM_TIMEOUT`; the scheduler's sweep kicks the worker)."""
SYNC_OVERLAP = timedelta(minutes=1)
"""Changes are re-read this far back: a transaction that committed late with an earlier `publication_at` (another
worker's clock, a long transaction) is still seen. Rows already seen in the same state are skipped."""


class TextEmbedder(Protocol):
    """What the worker needs of `nlp.embed.Embedder` (its prefix must be the matcher's: `bot.runtime`)."""

    @property
    def key(self) -> str: ...

    def embed_one(self, text: str) -> FloatArray: ...


def encode_vector(vector: FloatArray) -> str:
    """384 float32, little-endian, base64 (`SimilarResult.vector`, `SaveIdea.embedding`)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(data: bytes | str) -> FloatArray:
    """The stored or transported vector (bytes, or base64 text) as float32; ValueError when it is not one."""
    raw = base64.b64decode(data, validate=True) if isinstance(data, str) else data
    if len(raw) != DIMENSIONS * 4:
        raise ValueError(f"an embedding has {DIMENSIONS * 4} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def _signature(row: store.IndexRow) -> tuple[datetime | None, bool, int]:
    """What tells two states of an idea apart for the index (two changes may share a coarse timestamp); the text
    as its hash, so 100,000 remembered states cost little memory."""
    return row.publication_at, row.listed, hash(row.public_text)


@dataclass
class _Snapshot:
    """Every listed idea, read page by page for the first build: vectors as one joined buffer per page (not one
    object per idea), so the build's memory stays near the index's own."""

    ids: list[str]
    texts: list[str]
    pages: list[bytes]
    signatures: dict[str, tuple[datetime | None, bool, int]]


class SimilarIndex:
    """The match index and its sync with the database; a lock makes it safe for the runtime's DB threads."""

    def __init__(self, params: MatchParams | None = None) -> None:
        self.params = params or MatchParams.load()
        self._index: MatchIndex | None = None
        self._seen: dict[str, tuple[datetime | None, bool, int]] = {}  # id → what the index reflects
        self._read_at: datetime | None = None  # when the last feed started reading (this process's clock)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return 0 if self._index is None else len(self._index)

    def __contains__(self, idea_id: object) -> bool:
        return self._index is not None and idea_id in self._index

    @property
    def built(self) -> bool:
        return self._index is not None

    def feed(self, uow: UnitOfWork) -> list[store.IndexRow] | _Snapshot:
        """What the next `apply` needs from the database: every listed idea before the first build, afterwards the
        ideas whose publication changed since the last sync (a cheap indexed query; embeddings are read only for
        ideas that changed since this index saw them and belong in it)."""
        started = datetime.now(UTC)
        if self._index is None or self._read_at is None:
            self._read_at = started
            return self._snapshot(uow)
        # Every change committed before the last read was seen by it, except one whose timestamp lags its commit
        # (another worker's clock, a long transaction): the overlap covers those.
        since, self._read_at = self._read_at - SYNC_OVERLAP, started
        with self._lock:
            changed = [row for row in store.index_rows(uow, since) if self._seen.get(row.id) != _signature(row)]
        wanted = [row for row in changed if row.listed]
        return [row for row in changed if not row.listed] + store.with_embeddings(uow, wanted)

    @staticmethod
    def _snapshot(uow: UnitOfWork) -> _Snapshot:
        snapshot = _Snapshot([], [], [], {})
        after = ""
        while True:
            page = store.listed_page(uow, after, BUILD_PAGE)
            if not page:
                return snapshot
            after = page[-1].id
            blobs = []
            for row in page:
                if row.embedding is None or len(row.embedding) != DIMENSIONS * 4 or not row.public_text:
                    continue
                snapshot.ids.append(row.id)
                snapshot.texts.append(row.public_text)
                snapshot.signatures[row.id] = _signature(row)
                blobs.append(row.embedding)
            snapshot.pages.append(b"".join(blobs))

    def apply(self, rows: list[store.IndexRow] | _Snapshot) -> None:
        """Build the index from `feed`'s rows (first call) or add and remove what changed (CPU only: run it off the
        database threads — building 100,000 rows takes seconds)."""
        with self._lock:
            if isinstance(rows, _Snapshot):
                self._build(rows)
            elif self._index is not None:
                self._follow(rows)

    def sync(self, uow: UnitOfWork) -> None:
        """`feed` and `apply` in one go."""
        self.apply(self.feed(uow))

    def _build(self, snapshot: _Snapshot) -> None:
        matrix = np.empty((len(snapshot.ids), DIMENSIONS), dtype=np.float32)
        row = 0
        while snapshot.pages:  # each page's buffer is freed as soon as it is copied
            page = np.frombuffer(snapshot.pages.pop(0), dtype="<f4").reshape(-1, DIMENSIONS)
            matrix[row : row + len(page)] = page
            row += len(page)
        norms = np.linalg.norm(matrix, axis=1)
        good = np.isfinite(norms) & (norms > 0)
        matrix[good] /= norms[good, None]
        ids = [identifier for identifier, ok in zip(snapshot.ids, good, strict=True) if ok]
        keys = [text_keys(text) for text, ok in zip(snapshot.texts, good, strict=True) if ok]
        matrix = matrix[good] if not good.all() else matrix
        self._index = MatchIndex.build(ids, matrix, keys, self.params) if ids else MatchIndex(self.params)
        self._seen.update(snapshot.signatures)
        log.info("event=similar_index_built ideas=%s", len(ids))

    def _follow(self, rows: list[store.IndexRow]) -> None:
        assert self._index is not None
        for row in rows:
            if self._seen.get(row.id) == _signature(row):
                continue
            self._seen[row.id] = _signature(row)
            vector = self._vector(row) if row.listed else None
            if vector is not None and row.public_text:
                self._index.add(row.id, text_keys(row.public_text), vector)
            else:
                self._index.remove(row.id)

    @staticmethod
    def _vector(row: store.IndexRow) -> FloatArray | None:
        if row.embedding is None:
            return None
        try:
            return decode_vector(row.embedding)
        except ValueError:
            log.warning("event=similar_index_bad_embedding")
            return None

    def search(self, text: str, vector: FloatArray, limit: int) -> list[str]:
        """Ids of stored ideas proposing the same thing, best first (the matcher's threshold applied)."""
        with self._lock:
            if self._index is None or not len(self._index):
                return []
            return [match.id for match in self._index.search(text, vector, limit=limit)]

    def drop(self, idea_id: str) -> None:
        """Forget an idea a search found gone or unpublished (the next sync may bring it back if it changes)."""
        with self._lock:
            if self._index is not None:
                self._index.remove(idea_id)


class SimilarSearch:
    """Drains `idea_searches`: embeds off the event loop, answers each row with a SIMILAR event in the chat's inbox."""

    def __init__(
        self,
        database: Database,
        embedder: TextEmbedder | None,
        *,
        in_db: Callable[..., Awaitable[Any]],
        kick_chat: Callable[[str], None],
        clock: Callable[[], datetime],
        params: MatchParams | None = None,
    ) -> None:
        self.db = database
        self.embedder = embedder
        self._in_db = in_db
        self._kick_chat = kick_chat
        self._clock = clock
        self._params = params
        self._restorer = default_restorer()
        self.index: SimilarIndex | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self.running = False

    @property
    def enabled(self) -> bool:
        """Whether the core may ask for searches (an embedder is loaded)."""
        return self.embedder is not None

    def kick(self) -> None:
        """Make sure a drain runs (rows were added or a previous run left some)."""
        self._dirty = True
        if self.running and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain(), name="similar-search")

    @property
    def busy(self) -> bool:
        """A drain is running (tests wait for it)."""
        return self._task is not None and not self._task.done()

    async def wait_idle(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)

    async def stop(self) -> None:
        self.running = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    async def _drain(self) -> None:
        try:
            while self._dirty and self.running:
                self._dirty = False
                if self.embedder is not None:
                    await self.sync()  # at start: the index is built before the first citizen waits for it
                failed = False
                while self.running:
                    rows = await self._in_db(self._pending)
                    if not rows:
                        break
                    for row in rows:
                        try:
                            await self.answer(row)
                        except Exception as exc:  # its attempt is counted; the others must not wait for it
                            # the type only: a database error quotes its parameters, i.e. the citizen's text
                            log.error("event=similar_search_failed search_id=%s error=%s", row.id, type(exc).__name__)
                            failed = True
                    if failed:
                        break
                if failed and self.running:  # the rows stay stored; try again soon
                    self._dirty = True
                    await asyncio.sleep(RETRY_DELAY)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is away: the rows stay stored, the next kick or start tries again
            log.error("event=similar_search_failed error=%s", type(exc).__name__)

    def _pending(self) -> list[store.PendingSearch]:
        with self.db.unit_of_work(read_only=True) as uow:
            return store.pending_searches(uow, BATCH, self._clock())

    async def _off_loop(self, function: Callable[..., R], *args: Any) -> R:
        """CPU work (embedding, index) on the worker's own thread: never on the event loop or a database thread."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stadtdialog-similar")
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(function, *args))

    async def sync(self) -> SimilarIndex:
        """The index, brought up to date with the database (built from stored embeddings the first time)."""
        if self.index is None:
            self.index = SimilarIndex(self._params)
        index = self.index
        rows = await self._in_db(self._feed, index)
        await self._off_loop(index.apply, rows)
        return index

    def _feed(self, index: SimilarIndex) -> list[store.IndexRow] | _Snapshot:
        with self.db.unit_of_work(read_only=True) as uow:
            return index.feed(uow)

    async def answer(self, row: store.PendingSearch) -> None:
        """Embed, search and store the SIMILAR event for one row."""
        attempts = await self._in_db(self._claim, row)
        if attempts is None:
            return  # another worker claimed or answered it
        vector: FloatArray | None = None
        found: list[str] = []
        if self.embedder is not None and attempts <= MAX_ATTEMPTS:
            vector = await self._embed(row.text)
            if vector is not None:
                index = await self.sync()
                found = await self._off_loop(index.search, row.text, vector, LOOKED_AT)
        key = await self._in_db(self._finish, row, vector, found)
        if key is not None:
            self._kick_chat(key)

    def _claim(self, row: store.PendingSearch) -> int | None:
        with self.db.unit_of_work() as uow:
            return store.claim_search(uow, row)

    async def _embed(self, text: str) -> FloatArray | None:
        assert self.embedder is not None
        prepared = embedding_text(text, self._restorer)
        try:
            vector = await self._off_loop(self.embedder.embed_one, prepared)
        except Exception as exc:  # the citizen still hears back; the message may quote their words: log its type
            log.error("event=similar_embedding_failed error=%s", type(exc).__name__)
            return None
        array = np.asarray(vector, dtype=np.float32).reshape(-1)
        return array if array.shape == (DIMENSIONS,) and np.all(np.isfinite(array)) else None

    def _finish(self, row: store.PendingSearch, vector: FloatArray | None, found: list[str]) -> str | None:
        """Load the matches, store the result event and delete the row, in one transaction; the chat to kick."""
        with self.db.unit_of_work() as uow:
            contact = next((c for c in uow.contacts.for_citizen(row.citizen_id) if c.channel == row.channel), None)
            if contact is None:  # no way back to the citizen (the row would have gone with them): nothing to say
                store.delete_search(uow, row.id)
                return None
            result = SimilarResult(row.draft_id)
            if vector is not None and self.embedder is not None:
                result = SimilarResult(
                    row.draft_id, self._matches(uow, row, found), encode_vector(vector), self.embedder.key
                )
            event = Inbound(
                kind=InboundKind.SIMILAR, channel=row.channel, user_id=contact.channel_user_id,
                chat_id=contact.chat_id, event_id=f"similar:{row.id}", received_at=self._clock(),
                args=result.to_json(),
            )  # fmt: skip
            key = chat_key(row.channel, contact.chat_id)
            new = uow.inbox.add(event.to_dict(), channel=row.channel, event_id=event.event_id, chat_key=key,
                                received_at=event.received_at)  # fmt: skip
            store.delete_search(uow, row.id)
            log.info("event=similar_search_done matches=%s embedded=%s", len(result.matches), vector is not None)
            return key if new else None

    def _matches(self, uow: UnitOfWork, row: store.PendingSearch, found: list[str]) -> tuple[SimilarIdea, ...]:
        """The published ideas among `found` as this citizen may see them (never their own), at most `SHOWN`; ideas
        gone or unpublished since the last sync leave the index."""
        public = store.public_ideas(uow, found, row.citizen_id)
        matches: list[SimilarIdea] = []
        for idea_id in found:
            idea = public.get(idea_id)
            if idea is None:
                if self.index is not None:
                    self.index.drop(idea_id)
                continue
            if not idea.own:
                matches.append(idea.similar())
        return tuple(matches[:SHOWN])
