"""Telegram throughput: simulated citizens take a survey by button presses against the emulated Bot API.

    python -m benchmarks.telegram_throughput [--citizens 500] [--survey mobilitaet-quartier]

Every citizen (all started at once) sends /start, agrees, opens the survey, answers every question by tapping
(optional free-text/number questions are skipped with their button), then sends three commands back to back
without waiting. The bot runs in a child process (so it has a core of its own) with send pacing off; the Bot API
server and the citizens run here. Measured per run, from the server's point of view:

* updates/s — updates sent by citizens / (last reply received − first update enqueued);
* latency — update enqueued → the reply the citizen needs next received (p50/p99, ms);
* out_of_order — replies that arrive for an earlier update of a chat after a reply for a later one;
* duplicates — replies beyond what an update gets in the run's typical case (an update answered twice).

Runs: stadtdialog at 0 ms and 50 ms simulated round-trip latency, and as the reference a bare
python-telegram-bot `Application` (polling; echoes texts, answers callbacks; PTB's default sequential update
processing, or `concurrent_updates=True` with --concurrent-reference) at 0 ms. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import PACKAGE_ROOT
from surveys.engine import first_question, next_question
from surveys.loader import load_survey
from surveys.schema import AnswerValue, Question, QuestionType, Survey
from tests.e2e.telegram_api import ApiCall, TelegramApiServer, User

REPLY_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument"})
BURST = ("/hilfe", "/datenschutz", "/menu")
# What distinguishes the bot's answer to each burst command (German texts of handlers/texts/de.yaml).
BURST_MARKERS = {
    "/hilfe": "So funktioniert es", "/datenschutz": "Datenschutz in Kürze", "/menu": "Was möchten Sie tun?"
}
Predicate = Callable[[ApiCall], bool]


# --- the citizens' script ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One update a citizen sends (text or button payload) and the reply that lets them go on."""

    text: str | None
    payload: str | None
    done: Predicate


def _markup_payloads(call: ApiCall) -> list[str]:
    markup = call.param_json("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def needs(payload: str) -> Predicate:
    return lambda call: payload in _markup_payloads(call)


def is_edit(call: ApiCall) -> bool:
    return call.method == "editMessageText"


def survey_plan(survey: Survey) -> list[tuple[Question, AnswerValue]]:
    """A route through the survey that every button can answer: first options, top of scales, "yes", skips."""
    route: list[tuple[Question, AnswerValue]] = []
    answers: dict[str, AnswerValue] = {}
    question = first_question(survey)
    while question is not None:
        value: AnswerValue
        if question.type is QuestionType.SINGLE_CHOICE:
            value = question.options[0].id
        elif question.type is QuestionType.MULTIPLE_CHOICE:
            wanted = max(question.min_choices or 1, min(2, question.max_choices or 2))
            value = [option.id for option in question.options[:wanted]]
        elif question.type is QuestionType.SCALE:
            value = question.scale_spec.max
        elif question.type is QuestionType.YES_NO:
            value = True
        elif not question.required:
            value = None
        else:
            raise SystemExit(f"question {question.id} needs typing; choose a survey answerable by buttons")
        route.append((question, value))
        answers[question.id] = value
        question = next_question(survey, question.id, answers)
    return route


def stadtdialog_script(survey: Survey) -> list[Step]:
    presses: list[str] = ["consent:yes", "m:surveys", f"s:{survey.id}"]
    for question, value in survey_plan(survey):
        if value is None:
            presses.append(f"k:{question.id}")
        elif isinstance(value, list):
            presses += [f"t:{question.id}:{option}" for option in value] + [f"d:{question.id}"]
        elif isinstance(value, bool):
            presses.append(f"a:{question.id}:{'yes' if value else 'no'}")
        else:
            presses.append(f"a:{question.id}:{value}")
    steps = [Step("/start", None, needs("consent:yes"))]
    for index, payload in enumerate(presses):
        following = presses[index + 1] if index + 1 < len(presses) else "m:surveys"
        # a tick on a multiple-choice option edits the question in place; everything else brings new buttons
        steps.append(Step(None, payload, is_edit if payload.startswith("t:") else needs(following)))
    return steps


def reference_script(length: int) -> list[Step]:
    """As many updates as the stadtdialog script: /start, then presses on the echo bot's "weiter" button."""
    return [Step("/start", None, needs("next"))] + [Step(None, "next", needs("next")) for _ in range(length - 1)]


# --- one citizen -----------------------------------------------------------------------------------------------


@dataclass
class Citizen:
    user: User
    steps: Sequence[Step]
    burst_markers: dict[str, str]
    latencies: list[float] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)  # reply calls per closed-loop step
    burst_replies: list[int] = field(default_factory=list)  # burst index of each burst reply, in arrival order
    last_reply: float = 0.0
    think: float = 0.0  # seconds a citizen takes to read a reply before the next step (0: answers at once)
    failed: str | None = None
    _waiting: Predicate | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)
    _buttons: dict[str, int] = field(default_factory=dict)
    _in_burst: bool = False
    _burst_sent: list[float] = field(default_factory=list)

    def on_reply(self, call: ApiCall) -> None:
        """A bot call to this chat (in the order the server received them)."""
        self.last_reply = max(self.last_reply, call.time)
        result = call.result if isinstance(call.result, dict) else {}
        for payload in _markup_payloads(call):
            self._buttons[payload] = int(result.get("message_id", 0))
        if self._in_burst:
            text = str(call.params.get("text", ""))
            index = next((i for i, m in enumerate(self.burst_markers.values()) if m in text), None)
            if index is not None:
                self.burst_replies.append(index)
                if index < len(self._burst_sent):
                    self.latencies.append(call.time - self._burst_sent[index])
            if len(self.burst_replies) >= len(self.burst_markers):
                self._event.set()
            return
        if self.windows:
            self.windows[-1] += 1
        if self._waiting is not None and self._waiting(call):
            self._waiting = None
            self._event.set()

    async def run(self, server: TelegramApiServer, timeout: float) -> None:
        try:
            for index, step in enumerate(self.steps):
                if self.think and index:
                    await asyncio.sleep(self.think)
                self._event.clear()
                self._waiting = step.done
                self.windows.append(0)
                sent = time.time()
                if step.text is not None:
                    server.send_text(self.user, step.text)
                else:
                    assert step.payload is not None
                    server.press(self.user, self._buttons[step.payload], step.payload)
                await asyncio.wait_for(self._event.wait(), timeout)
                self.latencies.append(self.last_reply - sent)
            if self.think:
                await asyncio.sleep(self.think)
            self._event.clear()
            self._in_burst = True
            for text in self.burst_markers:
                self._burst_sent.append(time.time())
                server.send_text(self.user, text)
            await asyncio.wait_for(self._event.wait(), timeout)
        except (TimeoutError, KeyError) as exc:
            self.failed = f"{type(exc).__name__} at step {len(self.windows)}"


async def dispatch(server: TelegramApiServer, citizens: dict[int, Citizen], stop: asyncio.Event) -> None:
    """Hand every completed bot call to the citizen of its chat, in the order the server received them."""
    index = 0
    while not stop.is_set():
        calls = server.calls
        # Long polls stay open for seconds; only replies (answered at once) are waited for.
        while index < len(calls) and (calls[index].status is not None or calls[index].method not in REPLY_METHODS):
            call = calls[index]
            index += 1
            if call.method in REPLY_METHODS and call.ok:
                citizen = citizens.get(int(call.params.get("chat_id", 0)))
                if citizen is not None:
                    citizen.on_reply(call)
        await asyncio.sleep(0.002)


# --- one run -----------------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_once(
    role: str, citizens_count: int, latency: float, survey: Survey, extra: Sequence[str] = ()
) -> dict[str, Any]:
    async with TelegramApiServer(latency=latency) as server:
        with tempfile.TemporaryDirectory(prefix="stadtdialog-bench-") as data_dir:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "benchmarks.telegram_throughput", "--role", role, "--api-url", server.url,
                "--token", server.token, "--data-dir", data_dir, *extra, cwd=PACKAGE_ROOT,
            )
            try:
                await server.wait_for(lambda: bool(server.calls_to("getUpdates")), timeout=60)
                return await _drive(server, role, citizens_count, survey, process.pid)
            finally:
                await stop_bot(process, 30)


async def stop_bot(process: asyncio.subprocess.Process, timeout: float) -> None:
    """Stop the benchmark's bot process gracefully (SIGTERM), killing it if it does not exit within `timeout` s."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()


async def _drive(server: TelegramApiServer, role: str, count: int, survey: Survey, pid: int) -> dict[str, Any]:
    ours = role == "stadtdialog"
    steps = stadtdialog_script(survey)
    if not ours:
        steps = reference_script(len(steps))
    markers = BURST_MARKERS if ours else {text: text for text in BURST}
    citizens = {}
    for _ in range(count):
        user = server.add_user()
        citizens[user.id] = Citizen(user, steps, dict(markers))
    stop = asyncio.Event()
    dispatcher = asyncio.create_task(dispatch(server, citizens, stop))
    cpu_before, wall_before = _cpu_seconds(pid), time.process_time()
    started = time.time()
    await asyncio.gather(*(c.run(server, timeout=120) for c in citizens.values()))
    await asyncio.sleep(0.5)  # late duplicates would arrive now
    stop.set()
    await dispatcher
    cpu_after = _cpu_seconds(pid)
    finished = max(c.last_reply for c in citizens.values())
    updates = count * (len(steps) + len(BURST))
    latencies = sorted(x for c in citizens.values() for x in c.latencies)
    typical = [Counter(c.windows[i] for c in citizens.values() if len(c.windows) > i).most_common(1)[0][0]
               for i in range(len(steps))]
    duplicates = sum(max(0, n - typical[i]) for c in citizens.values() for i, n in enumerate(c.windows))
    duplicates += sum(n - 1 for c in citizens.values() for n in Counter(c.burst_replies).values() if n > 1)
    out_of_order = 0
    for citizen in citizens.values():
        highest = -1
        for index in citizen.burst_replies:
            out_of_order += index < highest
            highest = max(highest, index)
    return {
        "updates": updates,
        "seconds": round(finished - started, 2),
        "updates_per_s": round(updates / (finished - started), 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "out_of_order": out_of_order,
        "duplicates": duplicates,
        "failed_citizens": sum(c.failed is not None for c in citizens.values()),
        "bot_cpu_s": None if cpu_before is None or cpu_after is None else round(cpu_after - cpu_before, 1),
        "driver_cpu_s": round(time.process_time() - wall_before, 1),
    }


# --- the bots (child processes) ----------------------------------------------------------------------------------


async def serve_stadtdialog(api_url: str, token: str, data_dir: str, profile: str | None) -> None:
    from bot.app import build_runtime
    from bot.channels.telegram import TelegramChannel
    from bot.config import load_config
    from bot.logging_setup import setup_logging

    setup_logging("WARNING")
    env = {"STADTDIALOG_DATA_DIR": data_dir, "STADTDIALOG_PSEUDONYM_SECRET": "benchmark-secret-0123456789",
           "STADTDIALOG_TELEGRAM_TOKEN": token, "STADTDIALOG_TELEGRAM_API_URL": api_url,
           "STADTDIALOG_QUIET_HOURS": "off",
           # pacing off: this measures the bot's own throughput, not Telegram's limits (benchmarks.broadcast does)
           "STADTDIALOG_TELEGRAM_RATE": "0", "STADTDIALOG_TELEGRAM_CHAT_RATE": "0"}
    config = load_config(env, cwd=Path(data_dir))
    channel = TelegramChannel(token, api_url=api_url, poll_timeout=10, rate_limit=None)
    runtime = await asyncio.to_thread(build_runtime, config, [channel])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    profiler = None
    timings: dict[str, list[float]] = {}
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        _time_storage_calls(runtime, timings)
    await runtime.start()
    await stop.wait()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
        summary = {name: {"calls": int(calls), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
                   for name, (calls, wall, cpu) in timings.items()}
        Path(profile + ".threads.json").write_text(json.dumps(summary))
    await runtime.stop()
    runtime.db.dispose()


def _time_storage_calls(runtime: Any, timings: dict[str, list[float]]) -> None:
    """Diagnostics only: cProfile sees just the event loop; the runtime's storage work runs in worker threads.

    Wraps the runtime's thread-side methods to add up calls, wall time and thread CPU time per method."""
    for name in ("_store_events", "_process_batch", "_outbox_queue", "_outbox_update", "_pending_keys"):
        original = getattr(runtime, name, None)
        if original is None:  # the runtime changed; time what is still there
            continue

        def timed(*args: Any, __original: Any = original, __name: str = name) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return __original(*args)
            finally:
                entry = timings.setdefault(__name, [0.0, 0.0, 0.0])
                entry[0] += 1
                entry[1] += time.perf_counter() - wall
                entry[2] += time.thread_time() - cpu

        setattr(runtime, name, timed)


def serve_reference(api_url: str, token: str, concurrent: bool) -> None:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("weiter", callback_data="next")]])

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text, reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer()
        await context.bot.send_message(query.message.chat.id, "weiter", reply_markup=keyboard)

    app = (Application.builder().token(token).base_url(f"{api_url}/bot").base_file_url(f"{api_url}/file/bot")
           .concurrent_updates(concurrent).build())
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.run_polling(allowed_updates=["message", "callback_query"], stop_signals=(signal.SIGTERM, signal.SIGINT))


# --- main --------------------------------------------------------------------------------------------------------


async def benchmark(
    citizens: int, survey_key: str, latencies_ms: Sequence[int], reference: bool, profile: str | None = None,
    concurrent_reference: bool = False,
) -> dict[str, Any]:
    survey = load_survey(PACKAGE_ROOT / "surveys" / "library" / f"{survey_key}.yaml")
    results: dict[str, Any] = {"stadtdialog": {}}
    for ms in latencies_ms:
        extra = ["--profile", f"{profile}.{ms}ms"] if profile else []
        results["stadtdialog"][f"{ms}ms"] = await run_once("stadtdialog", citizens, ms / 1000, survey, extra)
    if reference:
        results["reference_ptb"] = {"0ms": await run_once("reference", citizens, 0.0, survey)}
    if reference and concurrent_reference:
        results["reference_ptb_concurrent"] = {
            "0ms": await run_once("reference", citizens, 0.0, survey, ["--concurrent"])}
    report: dict[str, Any] = {
        "benchmark": "telegram_throughput",
        "citizens": citizens,
        "survey": survey_key,
        "updates_per_citizen": len(stadtdialog_script(survey)) + len(BURST),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "results": results,
    }
    ours_0 = results["stadtdialog"].get("0ms")
    ours_50 = results["stadtdialog"].get("50ms")
    targets: dict[str, Any] = {}
    if ours_0 and reference:
        ratio = ours_0["updates_per_s"] / results["reference_ptb"]["0ms"]["updates_per_s"]
        targets["0ms_vs_reference"] = round(ratio, 2)
        targets["0ms_vs_reference_met"] = ratio >= 0.8
    if ours_50:
        targets["50ms_updates_per_s_met"] = ours_50["updates_per_s"] >= 150
        targets["50ms_in_order"] = ours_50["out_of_order"] == 0
    report["targets"] = targets
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=500)
    parser.add_argument("--survey", default="mobilitaet-quartier")
    parser.add_argument("--latencies", default="0,50", help="simulated round-trip latencies in ms (comma-separated)")
    parser.add_argument("--no-reference", action="store_true", help="skip the bare PTB reference run")
    parser.add_argument("--concurrent-reference", action="store_true",
                        help="also run the reference with concurrent_updates=True")
    # child-process roles
    parser.add_argument("--role", choices=("stadtdialog", "reference"), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--concurrent", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="write cProfile stats of the stadtdialog bot to PROFILE.<latency>ms")
    args = parser.parse_args(argv)
    if args.role == "stadtdialog":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_stadtdialog(args.api_url, args.token, args.data_dir, args.profile))
        return
    if args.role == "reference":
        serve_reference(args.api_url, args.token, args.concurrent)
        return
    latencies = [int(x) for x in args.latencies.split(",") if x.strip()]
    report = asyncio.run(benchmark(args.citizens, args.survey, latencies, not args.no_reference, args.profile,
                                   args.concurrent_reference))
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
