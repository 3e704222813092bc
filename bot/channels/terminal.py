"""The terminal chat: the embedded default when no messenger is configured (and a way to try everything).

Lines typed on stdin become events of one local citizen; replies are printed with their buttons as numbered
lines (type the number or the label to press one). Documents are written into the data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.channels.base import EventSink, SentMessage, text_event
from handlers.events import Outbound

CHANNEL = "terminal"
MAX_LINE = 64 * 1024


class TerminalChannel:
    """Reads stdin line by line; `finished` is set at end of input once every reply has been printed."""

    name = CHANNEL

    def __init__(
        self,
        *,
        user_id: str = "local",
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        export_dir: Path | None = None,
        language: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.user_id = user_id
        self._stdin = stdin or sys.stdin
        self._stdout = stdout or sys.stdout
        self._export_dir = export_dir or Path("data") / "exports"
        self._language = language
        self._clock = clock
        self._session = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._sent = itertools.count(1)
        self.finished = asyncio.Event()

    async def start(self, sink: EventSink) -> None:
        self._print("stadtdialog – Terminal-Chat. Schreiben Sie /start. Beenden mit Strg+D.\n"
                    "stadtdialog – terminal chat. Type /start. Quit with Ctrl+D.\n")
        self._task = asyncio.create_task(self._read_loop(sink), name="terminal-reader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # the reader may be blocked on stdin; there is nothing of it to keep
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _read_loop(self, sink: EventSink) -> None:
        try:
            while True:
                line = await asyncio.to_thread(self._stdin.readline, MAX_LINE)
                if line == "":
                    break
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                event = text_event(
                    CHANNEL,
                    self.user_id,
                    self.user_id,
                    f"{self._session}:{next(self._counter)}",
                    text,
                    self._clock(),
                    self._language,
                )
                await sink.accept([event])
                await sink.wait_idle(timeout=60)
        finally:
            await sink.wait_idle(timeout=60)
            self.finished.set()

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        """Print the message; buttons as numbered lines, a document as a file in the export folder."""
        lines = [("(aktualisiert) " if message.replaces else "") + message.text]
        for number, button in enumerate(message.all_buttons(), start=1):
            lines.append(f"  [{number}] {button.label}")
        if message.document is not None:
            self._export_dir.mkdir(parents=True, exist_ok=True)
            stamp = self._clock().strftime("%Y%m%d-%H%M%S")
            path = self._export_dir / f"{stamp}-{message.document.filename}"
            path.write_bytes(message.document.content)
            lines.append(f"  → {path}")
        self._print("\n".join(lines) + "\n")
        return SentMessage((str(next(self._sent)),))

    def _print(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()
