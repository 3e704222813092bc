"""Follow-up claiming at scale: `python -m benchmarks.followups` prints one JSON line per database.

Default: 1,000,000 pending follow_ups rows spread over 90 days, 10,000 of them due uniformly over one minute from
noon (city time). The simulated clock starts at noon and advances with real time. The bot is the real runtime
(claimer ticking every second as in production, chat workers, outbox, the classifier loaded as in production)
with an unthrottled fake channel that records when each message is handed to it. Figures:
`lateness_p50_s` / `lateness_p99_s` (row due → its message handed to the channel), `peak_rss_mb` (whole process),
`claim_ms_100k` / `claim_ms_1m` (one claiming batch with 100,000 and with 1,000,000 pending rows).

What the dialogue core answers to a due follow-up is another part of the bot; here each FOLLOW_UP event is
answered by a one-line stand-in so the time axis alone is measured (claim → inbox → process → outbox → channel).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
NOON = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CITIZENS = 100_000
CHANNEL = "bench"


@dataclass
class SimulatedClock:
    """Noon at `start()`, then advancing with real time."""

    origin: datetime = NOON
    began: float = field(default_factory=time.monotonic)

    def start(self) -> None:
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.origin + timedelta(seconds=time.monotonic() - self.began)


@dataclass
class RecordingSink:
    """An unthrottled channel: records the simulated time each message is handed to it."""

    clock: SimulatedClock
    name: str = CHANNEL
    handed: dict[str, datetime] = field(default_factory=dict)

    async def start(self, sink: Any) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, message: Any, key: str = "") -> Any:
        from bot.channels.base import SentMessage

        self.handed.setdefault(chat_id, self.clock())
        return SentMessage((str(len(self.handed)),))


def _stand_in_core() -> None:
    """Answer FOLLOW_UP events with one short message (the real answer is the dialogue's part)."""
    import bot.decisions as decisions_module
    from handlers.events import FOLLOW_UP_SENT, Decision, FollowUpOutcome, InboundKind, Outbound

    real = decisions_module.handle

    def handle(inbound: Any, state: Any, ctx: Any) -> Any:
        if inbound.kind is not InboundKind.FOLLOW_UP:
            return real(inbound, state, ctx)
        row_id = json.loads(inbound.args)["follow_up_id"]
        return Decision(state, (Outbound("Kurze Nachfrage"),), (FollowUpOutcome(row_id, FOLLOW_UP_SENT),))

    decisions_module.handle = handle


def _create_database(backend: str, workdir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}", None
    from sqlalchemy import create_engine

    name = f"stadtdialog_bench_{os.getpid()}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def _drop_database(name: str) -> None:
    from sqlalchemy import create_engine

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


SECRET = "bench-secret-0123456789"


@functools.cache
def _citizen(number: int) -> str:
    """The pseudonym the runtime derives for the bench channel's user `number`."""
    from bot.identity import pseudonym

    return pseudonym(SECRET.encode(), CHANNEL, str(number))


def _seed_citizens(database: Any, due_citizens: int) -> None:
    from bot.storage import models as m

    rows = [
        {"id": _citizen(n), "language": "de", "language_chosen": True, "consent_version": "2", "consent_at": NOON,
         "training_consent": False, "created_at": NOON, "last_seen_at": NOON, "outreach_count": 0}
        for n in range(CITIZENS)
    ]
    contacts = [{"citizen_id": _citizen(n), "channel": CHANNEL, "channel_user_id": str(n), "chat_id": str(n)}
                for n in range(CITIZENS)]
    opt_ins = [{"citizen_id": _citizen(n), "topic": "followups", "fields": [], "source": "bench",
                "notice_version": "2", "granted_at": NOON} for n in range(due_citizens)]
    with database.engine.begin() as connection:
        connection.execute(insert(m.Citizen), rows)
        connection.execute(insert(m.Contact), contacts)
        connection.execute(insert(m.OptIn), opt_ins)


def _follow_up_rows(count: int, *, due: bool, start: int, rng: random.Random) -> list[dict[str, Any]]:
    """`due`: one per citizen, due uniformly over the minute after noon; else spread over 90 days after it."""
    rows = []
    for index in range(count):
        if due:
            citizen, due_at = _citizen(start + index), NOON + timedelta(seconds=60 * index / count)
        else:
            citizen = _citizen(rng.randrange(CITIZENS))
            due_at = NOON + timedelta(minutes=2, seconds=rng.uniform(0, 90 * 86400))
        rows.append({"citizen_id": citizen, "due_at": due_at, "kind": "survey_followup", "payload": {"n": index},
                     "status": "pending", "attempts": 0, "created_at": NOON, "unsolicited": True})
    return rows


def _insert_follow_ups(database: Any, rows: list[dict[str, Any]]) -> None:
    from bot.storage import models as m

    if database.is_sqlite:
        with database.engine.begin() as connection:
            connection.execute(insert(m.FollowUp), rows)
        return
    columns = ("citizen_id", "due_at", "kind", "payload", "status", "attempts", "created_at", "unsolicited")
    buffer = io.StringIO()
    for row in rows:
        values = [row["citizen_id"], row["due_at"].isoformat(), row["kind"], json.dumps(row["payload"]),
                  row["status"], str(row["attempts"]), row["created_at"].isoformat(), "t"]
        buffer.write("\t".join(values) + "\n")
    raw = database.engine.raw_connection()
    try:
        statement = f"COPY follow_ups ({', '.join(columns)}) FROM STDIN"  # the fastest bulk load PostgreSQL has
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.write(buffer.getvalue())
        raw.commit()
        with raw.cursor() as cursor:
            cursor.execute("ANALYZE follow_ups")
        raw.commit()
    finally:
        raw.close()


def _claim_ms(database: Any, rounds: int = 15) -> float:
    """Median time of one claiming batch's reads (due rows + their citizens' facts), rolled back each time."""
    from bot.outreach.claims import BATCH_SIZE, IN_FLIGHT
    from bot.storage.repositories.claims import FollowUpClaimRepository

    timings = []
    for _ in range(rounds):
        with database.engine.connect() as connection:
            from sqlalchemy.orm import Session

            with Session(connection) as session:
                begin = time.perf_counter()
                repo = FollowUpClaimRepository(session)
                rows = repo.due(NOON + timedelta(seconds=61), BATCH_SIZE)
                ids = [row.citizen_id for row in rows]
                repo.citizens(ids), repo.contacts(ids), repo.opt_ins(ids), repo.in_flight(ids, IN_FLIGHT)
                timings.append((time.perf_counter() - begin) * 1000)
                session.rollback()
    return round(statistics.median(timings), 2)


def _plan_uses_index(database: Any) -> bool:
    """Whether the database plans the due-rows query through the (status, due_at) index at this table size."""
    from bot.outreach.claims import BATCH_SIZE
    from bot.storage.repositories.claims import FollowUpClaimRepository

    with database.unit_of_work(read_only=True) as uow:
        query = FollowUpClaimRepository(uow.session).due_query(NOON + timedelta(seconds=61), BATCH_SIZE)
        compiled = query.compile(uow.session.get_bind(), compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        plan = " ".join(str(row[-1]) for row in uow.session.execute(text(explain + str(compiled))))
    return "ix_follow_ups_status_due_at" in plan


async def _deliver(config: Any, due: int, timeout_s: float) -> list[float]:
    from bot.app import build_runtime
    from bot.scheduler import build_scheduler

    clock = SimulatedClock()
    sink = RecordingSink(clock)
    runtime = await asyncio.to_thread(build_runtime, config, [sink])
    runtime.clock = clock
    scheduler = build_scheduler(runtime)
    clock.start()
    await runtime.start()
    runtime.follow_ups.awake_since = NOON
    scheduler.start()
    deadline = time.monotonic() + 60 + timeout_s
    while len(sink.handed) < due and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
    scheduler.shutdown(wait=False)
    await runtime.stop()
    runtime.db.dispose()
    lateness = []
    for chat_id, handed in sink.handed.items():
        due_at = NOON + timedelta(seconds=60 * int(chat_id) / due)
        lateness.append((handed - due_at).total_seconds())
    return sorted(lateness)


def run(backend: str, pending: int, due: int, timeout_s: float) -> dict[str, Any]:
    """Measure one database backend; returns the figures."""
    from bot.config import load_config
    from bot.storage.db import Database

    _stand_in_core()
    rng = random.Random(10)
    with tempfile.TemporaryDirectory(prefix="stadtdialog-bench-") as workdir:
        url, pg_name = _create_database(backend, Path(workdir))
        try:
            database = Database(url)
            database.migrate()
            began = time.perf_counter()
            _seed_citizens(database, due)
            first = min(pending, 100_000)
            _insert_follow_ups(database, _follow_up_rows(due, due=True, start=0, rng=rng))
            _insert_follow_ups(database, _follow_up_rows(first - due, due=False, start=0, rng=rng))
            claim_small = _claim_ms(database)
            for offset in range(first, pending, 100_000):
                _insert_follow_ups(database, _follow_up_rows(min(100_000, pending - offset), due=False, start=0,
                                                            rng=rng))
            claim_large = _claim_ms(database)
            uses_index = _plan_uses_index(database)
            seeded_s = time.perf_counter() - began
            database.dispose()
            environ = {"STADTDIALOG_DATABASE_URL": url, "STADTDIALOG_DATA_DIR": str(Path(workdir) / "data"),
                       "STADTDIALOG_PSEUDONYM_SECRET": SECRET,
                       "STADTDIALOG_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING")}
            config = load_config(environ, cwd=Path(workdir))
            lateness = asyncio.run(_deliver(config, due, timeout_s))
        finally:
            if pg_name is not None:
                _drop_database(pg_name)
    p99 = lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))] if lateness else None
    return {
        "benchmark": "followups",
        "database": backend,
        "pending": pending,
        "due": due,
        "delivered": len(lateness),
        "lateness_p50_s": round(statistics.median(lateness), 3) if lateness else None,
        "lateness_p99_s": None if p99 is None else round(p99, 3),
        "lateness_max_s": round(lateness[-1], 3) if lateness else None,
        "claim_ms_100k": claim_small,
        "claim_ms_1m": claim_large,
        "claim_ratio": round(claim_large / claim_small, 2) if claim_small else None,
        "plan_uses_status_due_at_index": uses_index,
        "seed_s": round(seeded_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, run, print one JSON line per database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000, help="pending rows in the table (default 1M)")
    parser.add_argument("--due", type=int, default=10_000, help="rows due over the first minute (default 10,000)")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait after the minute")
    args = parser.parse_args(argv)
    if args.due > min(args.pending, CITIZENS):
        parser.error(f"--due must not exceed --pending nor {CITIZENS} (one due row per citizen)")
    if args.database == "both":  # one process per database, so each peak RSS is its own
        for backend in ("sqlite", "postgresql"):
            subprocess.run([sys.executable, "-m", "benchmarks.followups", "--pending", str(args.pending), "--due",
                            str(args.due), "--timeout", str(args.timeout), "--database", backend], check=True)
        return 0
    print(json.dumps(run(args.database, args.pending, args.due, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
