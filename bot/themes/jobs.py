"""The scheduler's theme jobs: the embedding backlog (every minute, a small batch) and the daily refresh.

Both run on one thread of their own, niced to the lowest CPU priority (Linux schedules threads separately), so
the classifier, the similar search and the database threads of citizen traffic always come first. Without a
classifier (`STADTDIALOG_CLASSIFIER=off`) there is no embedder: nothing is embedded, the refresh still groups what
is stored.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from bot.storage.db import Database
from nlp.similar import default_restorer, embedding_text

from .embedding import BATCH, EmbedReport, TextEmbedder, embed_backlog
from .refresh import REFRESH_AGE, RefreshReport, refresh_themes

log = logging.getLogger(__name__)
R = TypeVar("R")
LOWEST_PRIORITY = 19


def shared_embedder(classifier: object | None) -> TextEmbedder | None:
    """The classifier's e5 embedder (`bot.classify.TextClassifier` → `nlp.model.FieldClassifier.scorer.embedder`),
    or None when no classifier is loaded: e5 is never loaded a second time for themes."""
    model = getattr(classifier, "model", None)
    scorer = getattr(model, "scorer", None)
    embedder = getattr(scorer, "embedder", None)
    return embedder if embedder is not None and hasattr(embedder, "embed_one") else None


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, LOWEST_PRIORITY)  # 0: the calling thread on Linux
    except (OSError, AttributeError):  # not permitted or not on this platform: still correct, only less polite
        log.debug("event=themes_nice_unavailable")


class ThemeJobs:
    """Async front of `embed_backlog` and `refresh_themes` for the scheduler."""

    def __init__(self, database: Database, embedder: TextEmbedder | None, clock: Callable[[], datetime], *,
                 batch: int = BATCH) -> None:
        self.database = database
        self.embedder = embedder
        self.clock = clock
        self.batch = batch
        self._restorer: Callable[[str], str] | None = None
        self._restorer_loaded = False
        self._executor: ThreadPoolExecutor | None = None

    def prepare(self, text: str) -> str:
        """The text e5 embeds (`nlp.similar.embedding_text` with the classifier's umlaut lexicon)."""
        if not self._restorer_loaded:
            self._restorer, self._restorer_loaded = default_restorer(), True
        return embedding_text(text, self._restorer)

    async def _run(self, function: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stadtdialog-themes",
                                                initializer=_lower_priority)
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: function(*args, **kwargs))

    async def embed_tick(self) -> EmbedReport:
        """Embed one small batch of waiting answers and ideas (nothing without an embedder)."""
        if self.embedder is None:
            return EmbedReport()
        return await self._run(embed_backlog, self.database, self.embedder, self.prepare, self.clock(),
                               limit=self.batch)

    async def refresh_tick(self) -> RefreshReport:
        """Refresh the themes when the last refresh (by any worker) is older than `REFRESH_AGE`."""
        return await self._run(refresh_themes, self.database, self.clock(), min_age=REFRESH_AGE)

    async def close(self) -> None:
        """Stop the thread (a running batch is allowed to finish)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
