"""Structured logs: one event per line as key=value; no message texts or user ids unless debug is enabled."""

from __future__ import annotations

import logging
import sys


class KeyValueFormatter(logging.Formatter):
    """`2026-11-26T12:00:00 level=INFO logger=bot.runtime event=... key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        line = f"{stamp} level={record.levelname} logger={record.name} {record.getMessage()}"
        if record.exc_info:
            line += " exc=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return line


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr (stdout belongs to the terminal chat and to CLI output)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # nio's warnings carry Matrix user ids; only errors pass
    logging.getLogger("nio").setLevel(logging.ERROR)
