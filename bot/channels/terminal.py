"""The terminal chat: the embedded default when no messenger is configured (and a way to try everything).

Lines typed on stdin become events of one local citizen; replies are printed with their buttons as numbered
lines (type the number or the label to press one). Documents (the /meinedaten export) are written into a folder
of the chat under the export folder (`data/exports/<chat>/`, folders 0700, files 0600); the goodbye of /loeschen
(`Outbound.farewell`) removes that folder, so the channel deletes its own files without touching storage.

Stdin is read in a thread of its own that can be told to stop (select with a short timeout, then `os.read`):
a thread blocked in `readline` would keep the process alive after Ctrl-C until the next Enter, because
asyncio waits for its executor's threads when it shuts down.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import hashlib
import itertools
import logging
import os
import re
import select
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.channels.base import EventSink, SentMessage, text_event
from bot.files import private_dir, write_private_file
from handlers.events import Outbound

log = logging.getLogger(__name__)

CHANNEL = "terminal"
MAX_LINE = 64 * 1024
POLL_SECONDS = 0.2
"""How often the stdin thread looks whether it should stop while no input arrives."""
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
        self._stop_reading = threading.Event()
        self.finished = asyncio.Event()

    async def start(self, sink: EventSink) -> None:
        self._print("stadtdialog – Terminal-Chat. Schreiben Sie /start. Beenden mit Strg+D oder Strg+C.\n"
                    "stadtdialog – terminal chat. Type /start. Quit with Ctrl+D or Ctrl+C.\n")
        self._task = asyncio.create_task(self._read_loop(sink), name="terminal-reader")

    async def stop(self) -> None:
        """Stop reading at once (Ctrl-C): what was typed and accepted stays stored; the stdin thread ends by itself."""
        self._stop_reading.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _read_loop(self, sink: EventSink) -> None:
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def hand_over(line: str | None) -> bool:
            try:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            except RuntimeError:  # the loop is closed: the bot has stopped, nobody is waiting
                return False
            return True

        def read() -> None:
            try:
                for line in self._lines():
                    if not hand_over(line):
                        return
            except (OSError, ValueError) as exc:  # stdin closed or broken: the chat ends as at end of input
                log.warning("event=terminal_stdin_failed error=%s", type(exc).__name__)
            hand_over(None)

        # A daemon thread: should it still be inside `select` when the process ends, it must not hold the exit up.
        threading.Thread(target=read, name="terminal-stdin", daemon=True).start()
        try:
            while (line := await lines.get()) is not None:
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
            await sink.wait_idle(timeout=60)  # end of input: every reply printed before the bot stops
        finally:
            self.finished.set()

    def _lines(self) -> Iterator[str]:
        """The lines of stdin (each at most MAX_LINE characters) until its end or until `stop()`."""
        try:
            descriptor = self._stdin.fileno()
        except (AttributeError, OSError, ValueError):  # an in-memory stream: reading it never blocks
            while not self._stop_reading.is_set() and (line := self._stdin.readline(MAX_LINE)):
                yield line
            return
        # Bytes that do not decode become U+FFFD rather than ending the chat.
        decoder = codecs.getincrementaldecoder(getattr(self._stdin, "encoding", None) or "utf-8")(errors="replace")
        pending = ""
        while not self._stop_reading.is_set():
            ready, _, _ = select.select([descriptor], [], [], POLL_SECONDS)
            if not ready:
                continue
            chunk = os.read(descriptor, 65536)
            pending += decoder.decode(chunk, final=not chunk)
            while "\n" in pending or len(pending) >= MAX_LINE:
                cut = min(pending.find("\n") + 1 or MAX_LINE, MAX_LINE)
                line, pending = pending[:cut], pending[cut:]
                yield line
            if not chunk:  # end of input
                if pending:
                    yield pending
                return

    async def send(self, chat_id: str, message: Outbound, key: str = "") -> SentMessage:
        """Print the message; buttons as numbered lines, a document as a file in the export folder."""
        lines = [("(aktualisiert) " if message.replaces else "") + message.text]
        for number, button in enumerate(message.all_buttons(), start=1):
            lines.append(f"  [{number}] {button.label}")
        if message.document is not None:
            folder = private_dir(self.chat_folder(chat_id))
            stamp = self._clock().strftime("%Y%m%d-%H%M%S")
            path = folder / f"{stamp}-{Path(message.document.filename).name}"
            write_private_file(path, message.document.content)
            lines.append(f"  → {path}")
        self._print("\n".join(lines) + "\n")
        if message.farewell:
            shutil.rmtree(self.chat_folder(chat_id), ignore_errors=True)
        return SentMessage((str(next(self._sent)),))

    def chat_folder(self, chat_id: str) -> Path:
        """Where the chat's documents go: its id when that is a plain name, else a hash of it."""
        name = chat_id if _PLAIN_NAME.fullmatch(chat_id) else hashlib.sha256(chat_id.encode()).hexdigest()[:16]
        return self._export_dir / name

    def _print(self, text: str) -> None:
        self._stdout.write(text + "\n")
        self._stdout.flush()
