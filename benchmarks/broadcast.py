"""Broadcast: a campaign's invitations to 10,000 citizens within Telegram's limits while 20 citizens take a survey.

    python -m benchmarks.broadcast [--citizens 10000] [--answering 20] [--think 3] [--rate 30] [--chat-rate 1]
                                   [--unpaced]

The test Bot API server (tests/e2e/telegram_api.py) enforces 30 messages/s overall and 1 message/s per chat
(bursts of 3) and refuses excess with HTTP 429 + retry_after, as Telegram does. Set-up: `--citizens` consented
citizens with a contact and a current `surveys` opt-in, one running campaign, and one `invitation` follow_ups row
per citizen due now (kind, campaign_id, payload {campaign_id, survey_key, survey_version} — what the campaign
materialiser writes). The bot runs in a child process (a core of its own) with the real Telegram channel, outbox
and pacer (`STADTDIALOG_TELEGRAM_RATE` / `…_CHAT_RATE` at their defaults); the server and the answering
citizens run here. Measured from the server's point of view:

* fraction_of_limit — every message the bot got through while the broadcast ran (invitations and replies) ÷
  (rate × duration);
* duration_s — first to last invitation the bot got through;
* lost / duplicates — audience chats without an invitation / invitations beyond one per chat;
* http_429 — flood errors the server answered;
* interactive_p50_s / interactive_p99_s — a citizen's update → the reply they need next (survey by buttons,
  then three commands at once). Citizens take `--think` seconds to read each reply before they tap (Telegram's
  1 message/s per chat makes a citizen who taps faster than that wait, whatever the bot does);
* invited — audience chats that received their invitation; rows_sent — follow_ups rows marked done/sent.

How invitations are fed (`FEED` below): the real path, `feed_with_scheduler` — the scheduler's follow-up
claimer (bot/outreach/claims.py; it claims unsolicited rows only up to `pacer.bulk_capacity`, so the broadcast fans
out just in time) feeds each row to the dialogue core, which writes the invitation as a bulk outbox message
delivering its row. `feed_stand_in` (claims rows up to `bulk_capacity` itself and queues a placeholder
invitation directly) measured the outbox and pacer before the claimer and the invitation were merged; switch with
the one line `FEED = …`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.telegram_throughput import BURST_MARKERS, Citizen, dispatch, stadtdialog_script, stop_bot
from bot.config import PACKAGE_ROOT
from surveys.loader import load_survey
from tests.e2e.telegram_api import TelegramApiServer, User

SURVEY = "mobilitaet-quartier"
FEED_TICK_S = 0.25
"""How often the stand-in claimer looks for due invitations."""
FEED_HORIZON_S = 2.0
"""The claimer fills the channel's send budget of the next this many seconds, no more."""
REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument"})


# --- feeding invitations (in the bot process) -------------------------------------------------------------------


async def feed_stand_in(runtime: Any) -> None:
    """Stand-in for the scheduler's just-in-time claimer and the core's invitation (see the module docstring)."""
    from bot.pacing import bulk_key

    while True:
        capacity = runtime.pacer.bulk_capacity("telegram", FEED_HORIZON_S) if runtime.pacer else 100
        if capacity > 0:
            queued = await runtime._in_db(_queue_invitations, runtime, capacity)
            for key, follow_up_id in queued:
                if runtime.pacer is not None:
                    runtime.pacer.track_bulk("telegram", bulk_key(follow_up_id))
                runtime.outbox.kick(key)
        await asyncio.sleep(FEED_TICK_S)


def _queue_invitations(runtime: Any, limit: int) -> list[tuple[str, int]]:
    from bot.storage.items import FOLLOW_UP_QUEUED, PRIORITY_BULK, chat_key
    from handlers.events import Button, Outbound

    now = runtime.clock()
    queued: list[tuple[str, int]] = []
    with runtime.db.unit_of_work() as uow:
        for due in uow.follow_ups.claim_due(now, limit):
            contact = uow.contacts.for_citizen(due.citizen_id)[0]
            survey = due.payload["survey_key"]
            # a placeholder of the campaign engineer's invitation: text, "take part" and "no more invitations"
            message = Outbound(f"Neue Umfrage: {survey}", buttons=((Button(f"s:{survey}", "Mitmachen"),),
                                                                   (Button("abo:off", "Keine Einladungen mehr"),)))
            uow.outbox.enqueue(contact.channel, contact.chat_id, message.to_dict(), now=now, priority=PRIORITY_BULK,
                               follow_up_id=due.id)
            uow.follow_ups.finish(due.id, FOLLOW_UP_QUEUED, None, now)
            queued.append((chat_key(contact.channel, contact.chat_id), due.id))
    return queued


async def feed_with_scheduler(runtime: Any) -> None:
    """The real path: the scheduler's follow-up claimer (bounded by `pacer.bulk_capacity`) and the core."""
    from bot.scheduler import build_scheduler

    scheduler = build_scheduler(runtime)  # as `stadtdialog run` does (bot/app.py)
    scheduler.start()
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)


FEED: Callable[[Any], Coroutine[Any, Any, None]] = feed_with_scheduler


async def serve_bot(api_url: str, token: str, data_dir: str, unpaced: bool = False) -> None:
    from bot.app import build_runtime
    from bot.channels.telegram import TelegramChannel
    from bot.config import load_config
    from bot.logging_setup import setup_logging

    setup_logging("WARNING")
    env = _env(api_url, token, data_dir)
    if unpaced:  # the pacer off: only the server's 429s hold the bot back
        env |= {"STADTDIALOG_TELEGRAM_RATE": "0", "STADTDIALOG_TELEGRAM_CHAT_RATE": "0"}
    config = load_config(env, cwd=Path(data_dir))
    runtime = await asyncio.to_thread(build_runtime, config, [TelegramChannel.from_config(config)], classify=False)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await runtime.start()
    feeder = asyncio.create_task(FEED(runtime))
    await stop.wait()
    feeder.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await feeder
    stats = {"sent": runtime.stats.sent, "rate_limited": runtime.stats.rate_limited,
             "granted": runtime.pacer.granted if runtime.pacer else None}
    Path(data_dir, "bot-stats.json").write_text(json.dumps(stats))
    await runtime.stop()
    runtime.db.dispose()


def _env(api_url: str, token: str, data_dir: str) -> dict[str, str]:
    return {"STADTDIALOG_DATA_DIR": data_dir, "STADTDIALOG_PSEUDONYM_SECRET": "benchmark-secret-0123456789",
            "STADTDIALOG_TELEGRAM_TOKEN": token, "STADTDIALOG_TELEGRAM_API_URL": api_url,
            "STADTDIALOG_QUIET_HOURS": "off", "STADTDIALOG_CLASSIFIER": "off"}


# --- set-up (here, before the bot starts) ------------------------------------------------------------------------


def seed(data_dir: str, api_url: str, token: str, users: Sequence[User]) -> int:
    """The audience as the campaign materialiser leaves it; returns the campaign id."""
    from sqlalchemy import insert, select

    from bot.app import field_infos
    from bot.config import load_config
    from bot.identity import pseudonym
    from bot.storage import models as m
    from bot.storage.db import Database
    from bot.survey_sync import import_surveys

    config = load_config(_env(api_url, token, data_dir), cwd=Path(data_dir))
    database = Database(config.database_url)
    database.migrate()
    now = datetime.now(UTC)
    import_surveys(database, config.survey_dir, {f.key for f in field_infos()}, now)
    with database.unit_of_work() as uow:
        session = uow.session
        version = session.execute(select(m.Survey.version).where(m.Survey.key == SURVEY, m.Survey.active)).scalar_one()
        campaign_id = session.execute(insert(m.Campaign).values(
            name="Benchmark", survey_key=SURVEY, survey_version=version, status="running",
            audience={"channels": [], "languages": [], "fields": []}, starts_at=now,
            ends_at=now.replace(year=now.year + 1), created_at=now, launched_at=now,
        ).returning(m.Campaign.id)).scalar_one()
        ids = [pseudonym(config.pseudonym_secret, "telegram", str(user.id)) for user in users]
        session.execute(insert(m.Citizen), [
            {"id": cid, "language": "de", "language_chosen": False, "consent_version": config.consent_version,
             "consent_at": now, "training_consent": False, "created_at": now, "last_seen_at": now} for cid in ids])
        session.execute(insert(m.Contact), [
            {"citizen_id": cid, "channel": "telegram", "channel_user_id": str(user.id), "chat_id": str(user.id)}
            for cid, user in zip(ids, users, strict=True)])
        session.execute(insert(m.Conversation), [  # idle at the menu: nothing awaits their answer
            {"citizen_id": cid, "flow": "menu", "data": {}, "updated_at": now} for cid in ids])
        session.execute(insert(m.OptIn), [
            {"citizen_id": cid, "topic": "surveys", "fields": [], "source": "abo",
             "notice_version": config.consent_version, "granted_at": now} for cid in ids])
        payload = {"campaign_id": campaign_id, "survey_key": SURVEY, "survey_version": version}
        session.execute(insert(m.FollowUp), [
            {"citizen_id": cid, "due_at": now, "kind": "invitation", "payload": payload, "status": "pending",
             "attempts": 0, "created_at": now, "campaign_id": campaign_id, "unsolicited": True} for cid in ids])
    database.dispose()
    return int(campaign_id)


def rows_sent(data_dir: str, api_url: str, token: str) -> int:
    from sqlalchemy import func, select

    from bot.config import load_config
    from bot.storage import models as m
    from bot.storage.db import Database

    database = Database(load_config(_env(api_url, token, data_dir), cwd=Path(data_dir)).database_url)
    with database.unit_of_work(read_only=True) as uow:
        count = uow.session.execute(select(func.count()).select_from(m.FollowUp).where(
            m.FollowUp.kind == "invitation", m.FollowUp.status == "done", m.FollowUp.outcome == "sent")).scalar_one()
    database.dispose()
    return int(count)


# --- the run -----------------------------------------------------------------------------------------------------


async def run(citizens: int, answering: int, think: float, rate: float, chat_rate: float,
              unpaced: bool = False) -> dict[str, Any]:
    survey = load_survey(PACKAGE_ROOT / "surveys" / "library" / f"{SURVEY}.yaml")
    steps = stadtdialog_script(survey)
    expected_s = citizens / rate
    async with TelegramApiServer(enforce_rate_limits=True, overall_rate=rate, chat_rate=chat_rate) as server:
        audience = [server.add_user() for _ in range(citizens)]
        for user in audience:
            server.open_chat(user)
        with tempfile.TemporaryDirectory(prefix="stadtdialog-broadcast-") as data_dir:
            await asyncio.to_thread(seed, data_dir, server.url, server.token, audience)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.broadcast", "--role", "bot", "--api-url", server.url,
                "--token", server.token, "--data-dir", data_dir, *(["--unpaced"] if unpaced else []),
                cwd=PACKAGE_ROOT,
            )
            try:
                await server.wait_for(lambda: bool(server.calls_to("getUpdates")), timeout=120)
                figures = await _drive(server, audience, answering, think, steps, expected_s)
            finally:
                await stop_bot(process, 60)
            figures["rows_sent"] = await asyncio.to_thread(rows_sent, data_dir, server.url, server.token)
            stats_file = Path(data_dir, "bot-stats.json")
            figures["bot"] = json.loads(stats_file.read_text()) if stats_file.exists() else None
    figures["http_429"] = server.http_429
    return figures


async def _drive(server: TelegramApiServer, audience: Sequence[User], answering: int, think: float,
                 steps: Sequence[Any], expected_s: float) -> dict[str, Any]:
    audience_ids = {user.id for user in audience}
    answerers: dict[int, Citizen] = {}
    for _ in range(answering):
        user = server.add_user()
        answerers[user.id] = Citizen(user, steps, dict(BURST_MARKERS), think=think)
    stop = asyncio.Event()
    dispatcher = asyncio.create_task(dispatch(server, answerers, stop))
    rng = random.Random(10)

    async def answer_later(citizen: Citizen) -> None:
        # citizens start while the broadcast is in full swing, spread over its first half
        await asyncio.sleep(3 + rng.random() * max(1.0, expected_s / 2))
        await citizen.run(server, timeout=120)

    answering_task = asyncio.gather(*(answer_later(c) for c in answerers.values()))

    def invited() -> int:
        return len({int(c.params["chat_id"]) for c in server.calls_to("sendMessage")
                    if c.ok and int(c.params.get("chat_id", 0)) in audience_ids})

    await server.wait_for(lambda: invited() >= len(audience), timeout=expected_s * 3 + 120)
    await answering_task
    await asyncio.sleep(2.0)  # late duplicates would arrive now
    stop.set()
    await dispatcher
    delivered = [c for c in server.calls if c.method in REPLY_METHODS and c.ok]
    invitations = [c for c in delivered if int(c.params.get("chat_id", 0)) in audience_ids]
    first, last = min(c.time for c in invitations), max(c.time for c in invitations)
    duration = last - first
    sent = [c for c in delivered if first <= c.time <= last]
    per_chat = Counter(int(c.params["chat_id"]) for c in invitations)
    latencies = sorted(x for c in answerers.values() for x in c.latencies)
    rate = server.overall_rate
    return {
        "fraction_of_limit": round(len(sent) / (rate * duration), 3) if duration > 0 else None,
        "lost": len(audience) - len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "interactive_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "interactive_p99_s": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 3) if latencies else None,
        "invited": len(per_chat),
        "duration_s": round(duration, 1),
        "messages": len(sent),
        "interactive_messages": len(sent) - len(invitations),
        "interactive_updates": len(latencies),
        "failed_citizens": sum(c.failed is not None for c in answerers.values()),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=10_000, help="audience size (a quick run: 1000)")
    parser.add_argument("--answering", type=int, default=20, help="citizens taking a survey meanwhile")
    parser.add_argument("--think", type=float, default=3.0, help="seconds a citizen reads a reply before tapping")
    parser.add_argument("--rate", type=float, default=30.0, help="the server's overall limit, messages/s")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="the server's per-chat limit, messages/s")
    parser.add_argument("--unpaced", action="store_true",
                        help="switch the bot's pacer off (rates 0): only the server's 429s hold it back")
    parser.add_argument("--role", choices=("bot",), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "bot":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_bot(args.api_url, args.token, args.data_dir, args.unpaced))
        return
    started = time.time()
    figures = asyncio.run(run(args.citizens, args.answering, args.think, args.rate, args.chat_rate, args.unpaced))
    report = {
        "benchmark": "broadcast",
        **figures,
        "citizens": args.citizens,
        "answering": args.answering,
        "think_s": args.think,
        "paced": not args.unpaced,
        "feed": FEED.__name__,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "wall_s": round(time.time() - started, 1),
    }
    report["targets_met"] = bool(
        (report["fraction_of_limit"] or 0) >= 0.95 and report["lost"] == 0 and report["duplicates"] == 0
        and report["interactive_p99_s"] is not None and report["interactive_p99_s"] < 3.0
    )
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
