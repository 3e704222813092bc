"""Matrix throughput: citizens complete a survey concurrently, by poll votes, in encrypted DMs on a real Synapse.

    python -m benchmarks.matrix_throughput [--citizens 50]

A test homeserver is started on loopback (see tests/e2e/synapse.py); the bot is exempted from the message rate
limit through the Synapse admin API (`override_ratelimit`), as an operator would do, and runs as `stadtdialog run`
in a child process. Every citizen is a matrix-nio client with its own E2EE store; all start at once: invite the
bot, agree, open the mobility survey and answer it by voting in the polls (optional questions skipped with their
answer), each vote sent as soon as the poll it answers has arrived. Measured:

* messages_per_s — bot events the citizens received / (last one received − first citizen action);
* latency — a citizen's vote sent → the next poll (the next thing to answer) received (p50/p99, ms);
* lost — votes that never got their next poll, plus completed surveys missing in the bot's database;
* duplicates — bot events identical to the one right before them in the same room (a reply sent twice);
* cpu_s_* — CPU seconds used during the run by Synapse, the bot process and the citizens' process.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.matrix_driver import BotProcess, MatrixCitizen, Received
from tests.e2e.synapse import Synapse, unique_name

SURVEY = "mobilitaet-quartier"
SCRIPT = (
    "consent:yes", "m:surveys", f"s:{SURVEY}", "a:bezirk:barmen", "t:unterwegs:bus", "d:unterwegs",
    "a:oepnv_zufrieden:4", "k:haltestelle_minuten", "a:mehr_rad:no", "k:verbesserung",
)
"""The answer each successive poll gets; after the last one the bot closes the survey and shows the menu."""
STEP_TIMEOUT = 60.0


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    first_action: float = float("inf")
    finished: int = 0


async def next_poll(citizen: MatrixCitizen, timeout: float) -> tuple[Received, float]:
    """The next poll the bot sends into the citizen's room, and when it arrived."""
    while True:
        item = await citizen.next(timeout)
        if item.kind == "poll":
            return item, time.monotonic()


async def play(citizen: MatrixCitizen, run: Run, start: asyncio.Event) -> None:
    await start.wait()
    run.first_action = min(run.first_action, time.monotonic())
    await citizen.open_dm()
    try:
        poll, _ = await next_poll(citizen, STEP_TIMEOUT)
        for payload in SCRIPT:
            assert payload in {answer for answer, _ in poll.answers}, (payload, poll.answers)
            sent = time.monotonic()
            await citizen.vote(poll.event_id, payload)
            poll, arrived = await next_poll(citizen, STEP_TIMEOUT)
            run.latencies.append(arrived - sent)
        assert "m:surveys" in {answer for answer, _ in poll.answers}, "the menu follows the closing"
        run.finished += 1
    except (TimeoutError, AssertionError):
        run.lost += 1


def duplicates(citizen: MatrixCitizen) -> int:
    shown = [(item.kind, item.text, item.answers) for item in citizen.seen]
    return sum(1 for before, after in itertools.pairwise(shown) if before == after)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def measure(count: int, directory: Path) -> dict[str, object]:
    server = Synapse(directory / "synapse", overrides={"rc_message": {"per_second": 0.2, "burst_count": 10}})
    await asyncio.to_thread(server.start)
    process: BotProcess | None = None
    citizens: list[MatrixCitizen] = []
    try:
        admin = server.register(unique_name("admin"), admin=True)
        bot = server.register(unique_name("stadtbot"))
        server.exempt_from_rate_limits(admin, bot.user_id)
        process = BotProcess(server, bot, directory / "bot")
        process.start()
        while not process.query("SELECT value FROM channel_state WHERE key = 'matrix:since'"):
            await asyncio.sleep(0.1)
        limit = asyncio.Semaphore(10)

        async def new_citizen() -> MatrixCitizen:
            # Citizens are people: Synapse's default message rate limit (0.2/s, burst 10) applies to them.
            async with limit:
                return await MatrixCitizen.join(server, directory / "citizens", bot.user_id)

        citizens = list(await asyncio.gather(*(new_citizen() for _ in range(count))))
        assert server.process is not None and process.process is not None
        pids = {"synapse": server.process.pid, "bot": process.process.pid}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        citizens_before = sum(os.times()[:2])
        run, start = Run(), asyncio.Event()
        tasks = [asyncio.create_task(play(citizen, run, start)) for citizen in citizens]
        start.set()
        await asyncio.gather(*tasks)
        arrivals = [item for c in citizens for item in c.seen]
        last = time.monotonic()
        cpu = {f"cpu_s_{name}": round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
        cpu["cpu_s_citizens"] = round(sum(os.times()[:2]) - citizens_before, 1)
        completed = process.query("SELECT count(*) FROM responses WHERE status = 'completed'")[0][0]
        received = len(arrivals)
        return {
            "benchmark": "matrix_throughput",
            "citizens": count,
            "survey": SURVEY,
            "finished": run.finished,
            "bot_events": received,
            "votes": len(run.latencies),
            "seconds": round(last - run.first_action, 2),
            "messages_per_s": round(received / (last - run.first_action), 1),
            "latency_p50_ms": round(percentile(run.latencies, 0.50) * 1000, 1),
            "latency_p99_ms": round(percentile(run.latencies, 0.99) * 1000, 1),
            "lost": run.lost + max(0, run.finished - completed),
            "duplicates": sum(duplicates(c) for c in citizens),
            "encrypted": all(item.decrypted for item in arrivals),
            **cpu,
            "python": platform.python_version(),
            "cpus": len(os.sched_getaffinity(0)),
        }
    finally:
        for citizen in citizens:
            with contextlib.suppress(Exception):
                await citizen.close()
        if process is not None:
            process.stop()
        await asyncio.to_thread(server.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="matrix-bench-") as directory:
        result = asyncio.run(measure(args.citizens, Path(directory)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
