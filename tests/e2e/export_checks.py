"""Shared part of the export end-to-end tests: the test survey, what each citizen answers, the table an analyst
must get (built from the scripted answers alone, never from the export code), the CLI run in-process and the
read-back of every format (csv both dialects, xlsx, sav, jsonl) compared cell by cell.

The expected statuses follow the contract of issue 11: answered / skipped (answered with "skip") / not_shown
(branching passed it over) / not_reached (unfinished, at or after the question the citizen stopped before) /
not_offered (the version lacks it); follow-ups answered / not_reached (sent, no answer) / not_asked.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import math
import os
import re
import stat
import zipfile
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.analytics.model import STATUS_CODES, STATUS_LABELS, Status
from nlp.fields import load_fields
from surveys.loader import load_survey
from surveys.schema import Question, QuestionType, Survey
from tests.e2e.scenarios import (
    MENU_SURVEYS,
    Answer,
    BotMessage,
    ChatDriver,
    answer_by_buttons,
    current_question,
    newest_with,
    open_survey,
    say,
    tap,
)

DATA = Path(__file__).with_name("data")
KEY = "e2e-umfrage"
SHORT_KEY = "e2e-kurz"
V1 = load_survey(DATA / "e2e-umfrage.v1.yaml")
V2 = load_survey(DATA / "e2e-umfrage.v2.yaml")
SHORT = load_survey(DATA / "e2e-kurz.yaml")
VERSIONS: dict[int, Survey] = {1: V1, 2: V2}
CITY = ZoneInfo("Europe/Berlin")
FIELD_KEYS = [f.key for f in load_fields()]
FOLLOW_UP = "bus_seitdem"

# --- what the contract says the table looks like, written out by hand for this survey -----------------------------

QUESTION_ORDER = ["bezirk", "unterwegs", "oepnv", "2-minuten", "mehr_rad", "rad_hindernis", "trasse", "wunsch",
                  "wartezeit"]
"""Questions in order of first appearance (v1 in its order, then what v2 added)."""
VARIABLE_NAME = {"2-minuten": "q_2_minuten"}
"""SPSS-valid names of ids that are not (starts with a digit, has a hyphen); every other id is its own name."""
OPTION_CODES: dict[str, dict[str, int]] = {
    # ronsdorf has an explicit `code: 10`; vohwinkel is new in v2 (listed before ronsdorf) and gets the next free one
    "bezirk": {"elberfeld": 1, "barmen": 2, "ronsdorf": 10, "vohwinkel": 3},
    "unterwegs": {"fuss": 1, "bus": 2, "rad": 3, "auto": 4},
    "rad_hindernis": {"steigung": 1, "radwege": 2},
    FOLLOW_UP: {"besser": 1, "gleich": 2, "schlechter": 3},
}
META = ["respondent", "response", "version", "campaign", "channel", "completed", "started_at", "finished_at"]
META_TYPES = {"respondent": "text", "response": "text", "version": "integer", "campaign": "text", "channel": "text",
              "completed": "integer", "started_at": "datetime", "finished_at": "datetime"}
CODEBOOK_COLUMNS = ["variable", "question_id", "option_id", "kind", "type", "label_de", "label_en", "code",
                    "code_label_de", "code_label_en", "versions", "follow_up", "field_key", "status_variable",
                    "missing_codes"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def name_of(question_id: str) -> str:
    return VARIABLE_NAME.get(question_id, question_id)


def question_of(question_id: str) -> Question:
    """The question (or follow-up question) in the newest version that has it."""
    for survey in (V2, V1):
        question = survey.question(question_id)
        if question is not None:
            return question
        follow_up = survey.follow_up(question_id)
        if follow_up is not None:
            return follow_up.question
    raise KeyError(question_id)


def versions_of(question_id: str) -> tuple[int, ...]:
    return tuple(v for v, s in VERSIONS.items() if s.question(question_id) or s.follow_up(question_id))


def all_options(question_id: str) -> list[str]:
    """Option ids across both versions, in order of first appearance."""
    seen: list[str] = []
    for survey in (V1, V2):
        question = survey.question(question_id)
        for option in [] if question is None else question.options:
            if option.id not in seen:
                seen.append(option.id)
    return seen


@dataclass(frozen=True)
class ExpectedVariable:
    name: str
    type: str  # a VarType value
    question_id: str | None = None
    option_id: str | None = None
    status_of: str | None = None  # the question id whose status this STATUS variable holds
    missing_codes: bool = False  # the contract's rule for this variable
    score_field: str | None = None


def expected_variables() -> list[ExpectedVariable]:
    """Every column in the contract's order: meta, then per question its values and its status, then follow-ups."""
    variables = [ExpectedVariable(name, META_TYPES[name]) for name in META]
    for question_id in [*QUESTION_ORDER, FOLLOW_UP]:
        question = question_of(question_id)
        name = name_of(question_id)
        match question.type:
            case QuestionType.MULTIPLE_CHOICE:
                variables += [ExpectedVariable(f"{name}_{o}", "integer", question_id, o, missing_codes=True)
                              for o in all_options(question_id)]
            case QuestionType.FREE_TEXT:
                variables.append(ExpectedVariable(name, "text", question_id))
                variables.append(ExpectedVariable(f"{name}_field", "text", question_id))
                variables += [ExpectedVariable(f"{name}_score_{k}", "number", question_id, score_field=k)
                              for k in FIELD_KEYS]
            case QuestionType.NUMBER:
                low = question.min
                variables.append(ExpectedVariable(name, "integer" if question.integer else "number", question_id,
                                                  missing_codes=low is not None and low > -91))
            case _:
                variables.append(ExpectedVariable(name, "integer", question_id, missing_codes=True))
        variables.append(ExpectedVariable(f"{name}_status", "status", question_id, status_of=question_id))
    return variables


# --- the citizens' plans and what was played --------------------------------------------------------------------


@dataclass
class Plan:
    """What one citizen does with the test survey."""

    name: str
    version: int
    answers: dict[str, Answer]
    lang: str = "de"
    stop_before: str | None = None  # leaves the survey unfinished when this question comes up
    typed: dict[str, str] = field(default_factory=dict)  # typed instead of tapped (and numbers: how written)
    redacted: dict[str, str] = field(default_factory=dict)  # free text as the export must show it
    offer: bool | None = None  # the follow-up offer: None = not offered, True = "yes", False = "no"
    follow_up_answer: str | None = None  # answered when asked; None = asked and left unanswered
    short_survey: bool = False  # also answers e2e-kurz (pseudonyms per survey)
    idea: tuple[str, str, str] | None = None  # (text, field, redacted text) submitted after the survey
    campaign: str | None = None  # invited by this campaign (name), and started the survey from the invitation


@dataclass
class Played:
    """One citizen's response as it happened (times are the bot's clock when the actions were processed)."""

    plan: Plan
    channel: str
    asked: list[str]
    started_at: datetime
    finished_at: datetime | None
    citizen_id: str = ""  # filled from the database after the run
    response_id: str = ""
    follow_up: Status = Status.NOT_ASKED
    classified: dict[str, tuple[str | None, dict[str, float]]] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)  # channel ids, user names, room ids … never exported


class Clock:
    """The bot's clock, set by the scenario (the runtime calls it for every event it processes)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ChatClocks:
    """One time per chat, for citizens answering at the same time (Synapse is slow: one after the other would
    take minutes). The runtime hands the dialogue core `self.clock()` in exactly one place, `_process_event`; this
    wraps that call so that the events of a chat with a time set here carry that time (others: the runtime's)."""

    def __init__(self) -> None:
        self.times: dict[str, datetime] = {}

    def install(self, runtime: Any) -> None:
        original = runtime._process_event
        times = self.times

        def process(uow: Any, event: Any) -> bool:
            moment = times.get(event.chat_id)
            return original(uow, event) if moment is None else bool(runtime.decisions.process(uow, event, moment))

        runtime._process_event = process

    def setter(self, chat_id: str) -> Callable[[datetime], None]:
        return lambda moment: self.times.__setitem__(chat_id, moment)


async def play(
    chat: ChatDriver, plan: Plan, clock: Clock | Callable[[datetime], None], start: datetime, channel: str,
    opener: Callable[[], Awaitable[Any]] | None = None,
) -> Played:
    """Open the test survey and answer as `plan` says; the clock is `start` at the opening and one minute later
    for every question, so started_at and finished_at are known exactly (`clock`: the runtime's, or a setter of
    this chat's time)."""
    survey = VERSIONS[plan.version]

    def set_now(moment: datetime) -> None:
        if isinstance(clock, Clock):
            clock.now = moment
        else:
            clock(moment)

    set_now(start)
    await (open_survey(chat, survey.id) if opener is None else opener())
    asked: list[str] = []
    while (question := current_question(survey, chat.lang, chat.last_messages(3))) is not None:
        if question.id == plan.stop_before:
            return Played(plan, channel, asked, start, None)
        assert question.id not in asked, f"{plan.name}: question {question.id} asked twice"
        asked.append(question.id)
        set_now(start + timedelta(minutes=len(asked)))
        if question.id in plan.typed:
            await say(chat, plan.typed[question.id])
        else:
            await answer_by_buttons(chat, question, plan.answers.get(question.id))
    assert plan.stop_before is None, f"{plan.name}: the survey ended before {plan.stop_before}"
    played = Played(plan, channel, asked, start, start + timedelta(minutes=len(asked)))
    offer = newest_with(chat.last_messages(4), "fa:yes")
    assert (offer is not None) == (plan.offer is not None), f"{plan.name}: follow-up offer {chat.last_messages(4)}"
    if plan.offer is not None:
        await tap(chat, "fa:yes" if plan.offer else "fa:no")
    return played


async def take_short_survey(chat: ChatDriver) -> None:
    await open_survey(chat, SHORT_KEY)
    question = current_question(SHORT, chat.lang, chat.last_messages(3))
    assert question is not None and question.id == "zufrieden"
    replies = await answer_by_buttons(chat, question, True)
    assert newest_with(replies, MENU_SURVEYS) is not None, replies


async def answer_follow_up(chat: ChatDriver, option: str) -> list[BotMessage]:
    return await tap(chat, f"a:{FOLLOW_UP}:{option}")


def expected_followup_status(plan: Plan) -> Status:
    if not plan.offer:
        return Status.NOT_ASKED
    return Status.ANSWERED if plan.follow_up_answer is not None else Status.NOT_REACHED


def fill_from_database(database: Any, played: Sequence[Played], secret: bytes) -> None:
    """The internal ids (citizen, response) and the classifier's view of free-text answers, from the bot's
    database: the classifier's output is not scripted; everything else of the expected table is."""
    from sqlalchemy import text

    with database.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT r.id, r.citizen_id, r.started_at, s.key, s.version FROM responses r "
            "JOIN surveys s ON s.id = r.survey_id")).all()
        answers = connection.execute(text(
            "SELECT response_id, question_id, field, scores FROM answers WHERE scores IS NOT NULL")).all()
    for p in played:
        mine = [r for r in rows if r[3] == KEY and _as_utc(r[2]) == p.started_at]
        assert len(mine) == 1, f"{p.plan.name}: no single response started at {p.started_at}: {rows}"
        p.response_id, p.citizen_id = mine[0][0], mine[0][1]
        assert mine[0][4] == p.plan.version, f"{p.plan.name} answered version {mine[0][4]}"
        for response_id, question_id, best, scores in answers:
            if response_id == p.response_id:
                loaded = json.loads(scores) if isinstance(scores, str) else scores
                p.classified[question_id] = (best, {k: float(v) for k, v in loaded.items()})
    del secret


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


# --- the expected table --------------------------------------------------------------------------------------------


def export_pseudonym(secret: bytes, value: str, scope: str, prefix: str = "p_") -> str:
    """The contract's pseudonym: prefix + 16 hex of HMAC-SHA256(secret, "export\\x1f{scope}\\x1f{value}")."""
    digest = hmac.new(secret, f"export\x1f{scope}\x1f{value}".encode(), hashlib.sha256).hexdigest()
    return prefix + digest[:16]


def expected_status(p: Played, question_id: str) -> Status:
    """The status of one question of one response, from what the citizen was asked and answered."""
    if question_id == FOLLOW_UP:
        return Status.NOT_OFFERED if VERSIONS[p.plan.version].follow_up(FOLLOW_UP) is None else p.follow_up
    survey = VERSIONS[p.plan.version]
    if survey.question(question_id) is None:
        return Status.NOT_OFFERED
    if question_id in p.asked:
        return Status.ANSWERED if p.plan.answers.get(question_id) is not None else Status.SKIPPED
    if p.finished_at is not None:
        return Status.NOT_SHOWN
    ids = [q.id for q in survey.questions]
    assert p.plan.stop_before is not None
    return Status.NOT_SHOWN if ids.index(question_id) < ids.index(p.plan.stop_before) else Status.NOT_REACHED


def expected_row(p: Played, secret: bytes, scope: str) -> dict[str, Any]:
    """Variable name → the value the analyst must see (None: an empty cell)."""
    row: dict[str, Any] = {
        "respondent": export_pseudonym(secret, p.citizen_id, scope),
        "response": export_pseudonym(secret, p.response_id, "response", "r_"),
        "version": p.plan.version,
        "campaign": p.plan.campaign,
        "channel": p.channel,
        "completed": 1 if p.finished_at is not None else 0,
        "started_at": p.started_at,
        "finished_at": p.finished_at,
    }
    for question_id in [*QUESTION_ORDER, FOLLOW_UP]:
        question = question_of(question_id)
        name = name_of(question_id)
        status = expected_status(p, question_id)
        value: Answer = p.plan.answers.get(question_id) if question_id != FOLLOW_UP else p.plan.follow_up_answer
        if status is not Status.ANSWERED:
            value = None
        match question.type:
            case QuestionType.MULTIPLE_CHOICE:
                for option in all_options(question_id):
                    row[f"{name}_{option}"] = None if value is None else int(option in value)  # type: ignore[operator]
            case QuestionType.FREE_TEXT:
                best, scores = p.classified.get(question_id, (None, {}))
                row[name] = None if value is None else p.plan.redacted.get(question_id, str(value))
                row[f"{name}_field"] = None if value is None else best
                for key in FIELD_KEYS:
                    row[f"{name}_score_{key}"] = None if value is None else round(scores[key], 4)
            case QuestionType.SINGLE_CHOICE:
                row[name] = None if value is None else OPTION_CODES[question_id][str(value)]
            case QuestionType.YES_NO:
                row[name] = None if value is None else int(bool(value))
            case _:
                row[name] = value
        row[f"{name}_status"] = status
    return row


# --- running the CLI in-process ------------------------------------------------------------------------------------


@dataclass
class CliRun:
    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"stadtdialog {' '.join(self.args)} → exit {self.code}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def run_cli(env: Mapping[str, str], args: Sequence[str]) -> CliRun:
    """`bot.cli.main(args)` with the bot's environment (and nothing else of STADTDIALOG_*); never raises."""
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("STADTDIALOG_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except Exception as exc:  # a crash is a finding, reported by the test that needs the file
                code = -1
                err.write(f"{type(exc).__name__}: {exc}")
    return CliRun(list(args), code, out.getvalue(), err.getvalue())


def codebook_path(path: Path) -> Path | None:
    """`FILE.codebook.csv` beside the export (accepted as x.codebook.csv or x.csv.codebook.csv)."""
    for candidate in (path.with_suffix(".codebook.csv"), path.with_name(path.name + ".codebook.csv")):
        if candidate.is_file():
            return candidate
    return None


@dataclass
class Scenario:
    """A finished scenario: the bot's environment (for the CLI), the citizens' responses and the identifiers that
    must never be exported; exports are written into `out`, each once."""

    env: dict[str, str]
    secret: bytes
    played: dict[str, Played]
    identifiers: list[str]
    out: Path
    runs: dict[str, CliRun] = field(default_factory=dict)

    def expected(self, scope: str = KEY) -> dict[str, dict[str, Any]]:
        return {name: expected_row(p, self.secret, scope) for name, p in self.played.items()}

    def export(self, name: str, *args: str) -> Path:
        """Run one export into the output folder (once per name) and return its path."""
        path = self.out / name
        if name not in self.runs:
            self.runs[name] = run_cli(self.env, [*args, "--out", str(path)])
        return path

    def responses(self, fmt: str, dialect: str | None = None) -> tuple[Path, CliRun]:
        suffix = {"csv": "csv", "xlsx": "xlsx", "jsonl": "jsonl", "sav": "sav"}[fmt]
        name = f"responses-{dialect}.{suffix}" if dialect else f"responses.{suffix}"
        args = ["export", "responses", "--survey", KEY, "--format", fmt]
        if dialect:
            args += ["--dialect", dialect]
        path = self.export(name, *args)
        return path, self.runs[name]


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one scenario (the bot migrates it), dropped afterwards."""
    import secrets

    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    libpq = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"stadtdialog_e2e_{secrets.token_hex(6)}"
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def database_identifiers(database: Any) -> list[str]:
    """Internal ids that must never reach an export: citizen ids (and their hash part), channel user and chat ids,
    response and idea ids."""
    from sqlalchemy import text

    found: list[str] = []
    with database.engine.connect() as connection:
        for (citizen,) in connection.execute(text("SELECT id FROM citizens")):
            found += [citizen, citizen.removeprefix("c_")]
        for row in connection.execute(text("SELECT channel_user_id, chat_id FROM contacts")):
            found += [str(v) for v in row if v]
        found += [r for (r,) in connection.execute(text("SELECT id FROM responses"))]
        found += [i for (i,) in connection.execute(text("SELECT id FROM ideas"))]
    return found


# --- reading back ------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """An export read back: header and rows as the format gives them, plus format-specific metadata."""

    fmt: str  # excel | plain | xlsx | sav | jsonl
    header: list[str]
    rows: list[dict[str, Any]]
    meta: Any = None
    raw_cells: list[dict[str, Any]] = field(default_factory=list)  # xlsx: name → openpyxl cell


def read_csv(path: Path, dialect: str) -> Table:
    raw = path.read_bytes()
    if dialect == "excel":
        assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: the excel dialect starts with a UTF-8 BOM"
        text = raw[3:].decode("utf-8")
        delimiter = ";"
    else:
        assert not raw.startswith(b"\xef\xbb\xbf"), f"{path.name}: the plain dialect has no BOM"
        text = raw.decode("utf-8")
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header, *body = list(reader)
    return Table(dialect, header, [dict(zip(header, row, strict=True)) for row in body])


def read_xlsx(path: Path, sheet: str = "Daten") -> Table:
    import openpyxl

    book = openpyxl.load_workbook(path)
    assert sheet in book.sheetnames, f"{path.name}: sheets {book.sheetnames}"
    ws = book[sheet]
    rows = list(ws.iter_rows())
    header = [str(c.value) for c in rows[0]]
    return Table("xlsx", header, [{h: c.value for h, c in zip(header, r, strict=False)} for r in rows[1:]],
                 meta={"freeze_panes": ws.freeze_panes, "sheets": book.sheetnames,
                       "widths": {k: v.width for k, v in ws.column_dimensions.items()}},
                 raw_cells=[dict(zip(header, r, strict=False)) for r in rows[1:]])


def read_sav(path: Path) -> Table:
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    header = list(frame.columns)
    rows = [{h: _plain(v) for h, v in zip(header, record, strict=True)}
            for record in frame.itertuples(index=False, name=None)]
    return Table("sav", header, rows, meta=meta)


def _plain(value: Any) -> Any:
    import pandas

    if value is pandas.NaT:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    return value


def read_jsonl(path: Path) -> Table:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return Table("jsonl", list(rows[0]) if rows else [], rows)


# --- comparing cell by cell ----------------------------------------------------------------------------------------


def local(moment: datetime) -> datetime:
    return moment.astimezone(CITY)


def _number(text: str, dialect: str) -> float | None:
    if dialect == "excel":
        if "." in text:
            return None
        text = text.replace(",", ".")
    elif "," in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _csv_cell_problem(var: ExpectedVariable, expected: Any, got: str, dialect: str) -> str | None:
    if expected is None:
        return None if got == "" else "expected an empty cell"
    match var.type:
        case "status":
            return None if got == str(expected) else f"expected status {expected}"
        case "text":
            want = "'" + expected if str(expected).startswith(FORMULA_START) else str(expected)
            return None if got == want else f"expected {want!r}"
        case "integer":
            return None if got == str(int(expected)) else f"expected {int(expected)}"
        case "number":
            number = _number(got, dialect)
            if number is None:
                return f"not a number in the {dialect} dialect (decimal {'comma' if dialect == 'excel' else 'point'})"
            return None if math.isclose(number, float(expected), abs_tol=1e-9) else f"expected {expected}"
        case "datetime":
            if dialect == "excel":
                want = local(expected).strftime("%Y-%m-%d %H:%M:%S")
                return None if got == want else f"expected local time {want!r}"
            try:
                parsed = datetime.fromisoformat(got)
            except ValueError:
                return "not ISO 8601"
            if parsed.tzinfo is None:
                return "ISO 8601 without offset"
            if parsed not in (expected, expected.replace(microsecond=0)):
                return f"expected {expected.isoformat()}"
            return None
    return f"unknown type {var.type}"


def _xlsx_cell_problem(var: ExpectedVariable, expected: Any, got: Any, cell: Any) -> str | None:
    if expected is None:
        return None if got in (None, "") else "expected an empty cell"
    match var.type:
        case "status":
            return None if got == str(expected) else f"expected status {expected}"
        case "text":
            if cell is not None and cell.data_type != "s":
                return f"a text cell of data type {cell.data_type!r} (formula?)"
            return None if got == str(expected) else f"expected {expected!r}"
        case "integer" | "number":
            if not isinstance(got, int | float) or isinstance(got, bool):
                return f"expected the number {expected}, got a {type(got).__name__}"
            return None if math.isclose(float(got), float(expected), abs_tol=1e-9) else f"expected {expected}"
        case "datetime":
            if not isinstance(got, datetime):
                return f"expected a date, got a {type(got).__name__}"
            want = local(expected).replace(tzinfo=None)
            return None if abs(got - want) < timedelta(seconds=1) else f"expected local time {want}"
    return f"unknown type {var.type}"


def _sav_cell_problem(var: ExpectedVariable, expected: Any, got: Any, status: Status | None) -> str | None:
    if var.type == "text":
        want = "" if expected is None else str(expected)
        return None if got == want else f"expected {want!r}"
    if var.type == "status":
        return None if got == STATUS_CODES[expected] else f"expected code {STATUS_CODES[expected]} ({expected})"
    if var.type == "datetime":
        if expected is None:
            return None if got is None or (isinstance(got, float) and math.isnan(got)) else "expected empty"
        if not isinstance(got, datetime):
            return f"expected a datetime, got {got!r}"
        want = local(expected).replace(tzinfo=None)
        return None if abs(got - want) < timedelta(seconds=1) else f"expected local time {want}"
    if expected is None:
        if var.missing_codes:
            assert status is not None
            return None if got == STATUS_CODES[status] else f"expected the user-missing status code " \
                                                            f"{STATUS_CODES[status]} ({status})"
        return None if isinstance(got, float) and math.isnan(got) else "expected system-missing"
    if not isinstance(got, int | float) or (isinstance(got, float) and math.isnan(got)):
        return f"expected {expected}"
    return None if math.isclose(float(got), float(expected), abs_tol=1e-9) else f"expected {expected}"


def compare(table: Table, expected: Mapping[str, Mapping[str, Any]], key: str = "started_at") -> list[str]:
    """Every mismatch between the read-back table and the expected rows (keyed by citizen name), one line each.

    Rows are matched to citizens by their start time (each citizen started at a different minute)."""
    problems: list[str] = []
    variables = expected_variables()
    missing = [v.name for v in variables if v.name not in table.header]
    if missing:
        problems.append(f"{table.fmt}: columns missing: {missing}")
    extra = [h for h in table.header if h not in {v.name for v in variables}]
    if extra:
        problems.append(f"{table.fmt}: unexpected columns: {extra}")
    if len(table.rows) != len(expected):
        problems.append(f"{table.fmt}: {len(table.rows)} rows, expected {len(expected)}")
    by_start = {_start_key(table.fmt, row.get(key)): i for i, row in enumerate(table.rows)}
    for citizen, want in expected.items():
        index = by_start.get(_start_key("expected", want[key]))
        if index is None:
            problems.append(f"{table.fmt}: no row of {citizen} (started {want[key]})")
            continue
        got = table.rows[index]
        cells = table.raw_cells[index] if table.raw_cells else {}
        for var in variables:
            if var.name not in got:
                continue
            status = want[f"{name_of(var.question_id)}_status"] if var.question_id else None
            value = got[var.name]
            if table.fmt in ("excel", "plain"):
                problem = _csv_cell_problem(var, want[var.name], value, table.fmt)
            elif table.fmt == "xlsx":
                problem = _xlsx_cell_problem(var, want[var.name], value, cells.get(var.name))
            else:
                missing_declared = var.name in (table.meta.missing_ranges or {})
                checked = var if var.score_field is None else ExpectedVariable(
                    var.name, var.type, var.question_id, missing_codes=missing_declared)
                problem = _sav_cell_problem(checked, want[var.name], value, status)
            if problem:
                problems.append(f"{table.fmt}: {citizen}.{var.name}: {problem}, got {value!r}")
    return problems


def _start_key(fmt: str, value: Any) -> str:
    """A start time as minute precision in the city's zone, whatever the format made of it."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None and fmt != "expected" else local(value).replace(tzinfo=None)
        return moment.strftime("%Y-%m-%d %H:%M")
    text = str(value)
    with contextlib.suppress(ValueError):
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is not None:
            parsed = local(parsed).replace(tzinfo=None)
        return parsed.strftime("%Y-%m-%d %H:%M")
    return text[:16]


# --- JSONL ------------------------------------------------------------------------------------------------------


def compare_jsonl(
    table: Table, played: Mapping[str, Played], expected: Mapping[str, Mapping[str, Any]], *, with_codes: bool = False
) -> list[str]:
    """The JSONL lines against the plans: meta as in the table, answers nested by question id (`with_codes`: only
    whether multiple-choice answers carry their options' codes)."""
    problems: list[str] = []
    if len(table.rows) != len(expected):
        problems.append(f"jsonl: {len(table.rows)} lines, expected {len(expected)}")
    by_response = {str(row.get("response")): row for row in table.rows}
    for citizen, want in expected.items():
        line = by_response.get(want["response"])
        if line is None:
            by_start = {_start_key("jsonl", row.get("started_at")): row for row in table.rows}
            line = by_start.get(_start_key("expected", want["started_at"]))
            problems.append(f"jsonl: {citizen}: no line with response {want['response']}")
            if line is None:
                continue
        p = played[citizen]
        for name in META:
            got = line.get(name)
            exp = want[name]
            if name in ("started_at", "finished_at"):
                ok = (got is None) if exp is None else (
                    isinstance(got, str) and _iso_equal(got, exp))
            elif name == "completed":
                ok = got in (exp, bool(exp))
            elif name == "campaign":
                ok = got in (None, "") if exp is None else got == exp
            else:
                ok = got == exp
            if not ok:
                problems.append(f"jsonl: {citizen}.{name}: expected {exp!r}, got {got!r}")
        answers = line.get("answers")
        if not isinstance(answers, dict):
            problems.append(f"jsonl: {citizen}: 'answers' is not an object: {answers!r}")
            continue
        for question_id in [*QUESTION_ORDER, FOLLOW_UP]:
            status = want[f"{name_of(question_id)}_status"]
            entry = answers.get(question_id)
            if entry is None:
                problems.append(f"jsonl: {citizen}: no answer entry for {question_id} (status {status})")
                continue
            if entry.get("status") != str(status):
                problems.append(f"jsonl: {citizen}.{question_id}: status {entry.get('status')!r}, expected {status}")
            value = entry.get("value")
            planned = p.plan.follow_up_answer if question_id == FOLLOW_UP else p.plan.answers.get(question_id)
            if status is not Status.ANSWERED:
                if value is not None:
                    problems.append(f"jsonl: {citizen}.{question_id}: value {value!r} for status {status}")
                continue
            question = question_of(question_id)
            match question.type:
                case QuestionType.MULTIPLE_CHOICE:
                    # documented in bot/analytics/writers/jsonl.py: value = option id → 1/0, plus `chosen` (ids)
                    # and `codes` (their codes) — the contract's "list of option ids + codes"
                    chosen = sorted(planned)  # type: ignore[arg-type]
                    ok = value == {o: int(o in chosen) for o in all_options(question_id)} and sorted(
                        entry.get("chosen") or []) == chosen
                    codes = sorted(OPTION_CODES[question_id][o] for o in chosen)
                    if with_codes and sorted(entry.get("codes") or []) != codes:
                        problems.append(f"jsonl: {citizen}.{question_id}: codes {entry.get('codes')!r}, "
                                        f"expected {codes}")
                case QuestionType.SINGLE_CHOICE:
                    ok = value == OPTION_CODES[question_id][str(planned)]
                case QuestionType.YES_NO:
                    ok = value in (planned, int(bool(planned)))
                case QuestionType.FREE_TEXT:
                    ok = value == p.plan.redacted.get(question_id, planned)
                    best, scores = p.classified.get(question_id, (None, {}))
                    if entry.get("field") != best:
                        problems.append(f"jsonl: {citizen}.{question_id}.field: {entry.get('field')!r}, "
                                        f"expected {best!r}")
                    got_scores = entry.get("scores") or {}
                    if set(got_scores) != set(scores) or any(
                            not math.isclose(float(got_scores[k]), scores[k], abs_tol=1e-4) for k in scores):
                        problems.append(f"jsonl: {citizen}.{question_id}.scores: {got_scores!r}, expected {scores!r}")
                case _:
                    ok = isinstance(value, int | float) and math.isclose(float(value), float(planned))  # type: ignore[arg-type]
            if not ok:
                problems.append(f"jsonl: {citizen}.{question_id}: value {value!r}, planned {planned!r}")
    return problems


def _iso_equal(text: str, moment: datetime) -> bool:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return parsed.tzinfo is not None and parsed in (moment, moment.replace(microsecond=0))


# --- the codebook ----------------------------------------------------------------------------------------------------


def read_codebook_csv(path: Path, dialect: str) -> list[dict[str, str]]:
    table = read_csv(path, dialect)
    assert table.header == CODEBOOK_COLUMNS, f"{path.name}: columns {table.header}"
    return table.rows


def read_codebook_sheet(path: Path) -> list[dict[str, str]]:
    table = read_xlsx(path, "Codebook")
    assert table.header[: len(CODEBOOK_COLUMNS)] == CODEBOOK_COLUMNS, f"Codebook sheet columns {table.header}"
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in table.rows]


def _versions(text: str) -> set[int]:
    return {int(v) for v in re.findall(r"\d+", text)}


def _code(text: str) -> str:
    """A code as written (excel: '1', '-91'; a float-ish '1.0' from a sheet is the same code)."""
    with contextlib.suppress(ValueError):
        number = float(text.replace(",", "."))
        if number.is_integer():
            return str(int(number))
    return text


def codebook_problems(rows: Sequence[Mapping[str, str]], where: str) -> list[str]:
    """The codebook documents every variable (question id, both-language texts, versions), every option code with
    both labels, every status code with both labels and its key, and the strategy fields."""
    problems: list[str] = []
    variable_rows: dict[str, Mapping[str, str]] = {}
    labels: dict[str, dict[str, tuple[str, str]]] = {}
    for row in rows:
        if row["variable"].startswith("*"):  # *status*, *field*, *table*, *note* rows
            continue
        if row["kind"] != "":  # a variable's own row (value-label rows leave kind empty)
            if row["variable"] in variable_rows:
                problems.append(f"{where}: variable {row['variable']} documented twice")
            variable_rows[row["variable"]] = row
        else:
            labels.setdefault(row["variable"], {})[_code(row["code"])] = (row["code_label_de"], row["code_label_en"])
    for var in expected_variables():
        row = variable_rows.get(var.name)
        if row is None:
            problems.append(f"{where}: variable {var.name} not documented")
            continue
        if var.question_id is None:
            continue
        question = question_of(var.question_id)
        if row["question_id"] != var.question_id:
            problems.append(f"{where}: {var.name}: question_id {row['question_id']!r}, expected {var.question_id!r}")
        labelled = var.option_id is None and var.score_field is None and not var.name.endswith("_field")
        if labelled and (question.text.de not in row["label_de"] or question.text.get("en") not in row["label_en"]):
            problems.append(f"{where}: {var.name}: labels {row['label_de']!r} / {row['label_en']!r} lack the "
                            f"question text {question.text.de!r} / {question.text.get('en')!r}")
        if var.option_id is not None and row["option_id"] != var.option_id:
            problems.append(f"{where}: {var.name}: option_id {row['option_id']!r}, expected {var.option_id!r}")
        if _versions(row["versions"]) != set(versions_of(var.question_id)):
            problems.append(f"{where}: {var.name}: versions {row['versions']!r}, "
                            f"expected {versions_of(var.question_id)}")
        is_follow_up = row["follow_up"].strip().lower() in ("1", "true", "yes", "ja", "wahr")
        if is_follow_up != (var.question_id == FOLLOW_UP):
            problems.append(f"{where}: {var.name}: follow_up {row['follow_up']!r}")
        if var.score_field is not None and row["field_key"] != var.score_field:
            problems.append(f"{where}: {var.name}: field_key {row['field_key']!r}, expected {var.score_field!r}")
        if var.type != "status" and var.question_id and row["status_variable"] != f"{name_of(var.question_id)}_status":
            problems.append(f"{where}: {var.name}: status_variable {row['status_variable']!r}")
        if var.question_id in OPTION_CODES and var.option_id is None and var.type == "integer":
            want = {str(code): _option_texts(var.question_id, option)
                    for option, code in OPTION_CODES[var.question_id].items()}
            if labels.get(var.name) != want:
                problems.append(f"{where}: {var.name}: value labels {labels.get(var.name)}, expected {want}")
        if var.question_id == "2-minuten" and var.type != "status" and row["missing_codes"].strip().lower() not in (
                "1", "true", "yes", "ja", "wahr"):
            problems.append(f"{where}: {var.name}: missing_codes {row['missing_codes']!r}, expected true (min 0)")
        if var.question_id == "wartezeit" and var.type != "status" and row["missing_codes"].strip().lower() in (
                "1", "true", "yes", "ja", "wahr"):
            problems.append(f"{where}: {var.name}: missing_codes {row['missing_codes']!r}, expected false (no min)")
    text = "\n".join(";".join(row.values()) for row in rows)
    for status, code in STATUS_CODES.items():
        de, en = STATUS_LABELS[status]
        documented = [r for r in rows if _code(r["code"]) in (str(code), str(status))
                      and r["code_label_de"] == de and r["code_label_en"] == en]
        if not documented:
            problems.append(f"{where}: status {status} ({code}) not documented with both labels")
        if str(status) not in text:
            problems.append(f"{where}: the status key {status!r} (what CSV cells show) is not in the codebook")
    for field_info in load_fields():
        if not any(field_info.key in r.values() and (field_info.name_de in text) for r in rows):
            problems.append(f"{where}: strategy field {field_info.key} ({field_info.name_de}) not documented")
    return problems


def option_code_problems(rows: Sequence[Mapping[str, str]], where: str) -> list[str]:
    """Every multiple-choice option's stable numeric code is in the codebook, on its 0/1 variable's own row."""
    problems = []
    for var in expected_variables():
        if var.option_id is None or var.question_id is None:
            continue
        code = OPTION_CODES[var.question_id][var.option_id]
        own = [r for r in rows if r["variable"] == var.name and r["kind"] != ""]
        if not own or _code(own[0]["code"]) != str(code):
            problems.append(f"{where}: {var.name}: option code {own[0]['code'] if own else None!r}, expected {code}")
    return problems


def _option_texts(question_id: str, option_id: str) -> tuple[str, str]:
    for survey in (V2, V1):
        question = survey.question(question_id)
        follow_up = survey.follow_up(question_id)
        target = question or (follow_up.question if follow_up else None)
        option = None if target is None else target.option(option_id)
        if option is not None:
            return option.text.de, option.text.get("en")
    raise KeyError(option_id)


# --- SPSS metadata ------------------------------------------------------------------------------------------------


def sav_meta_problems(meta: Any) -> list[str]:
    """Variable labels, value labels (options, yes/no, scale ends, statuses) and the user-missing range."""
    problems: list[str] = []
    labels = meta.column_names_to_labels
    value_labels = meta.variable_value_labels
    ranges = meta.missing_ranges or {}
    status_labels = {float(code): STATUS_LABELS[s][0] for s, code in STATUS_CODES.items()}
    for var in expected_variables():
        if var.question_id is not None and var.option_id is None and var.type != "status" \
                and var.score_field is None and not var.name.endswith("_field"):
            text = question_of(var.question_id).text.de
            if text not in (labels.get(var.name) or ""):
                problems.append(f"sav: {var.name}: variable label {labels.get(var.name)!r} lacks {text!r}")
        if var.type == "status":
            got = {float(k): v for k, v in (value_labels.get(var.name) or {}).items()}
            if got != status_labels:
                problems.append(f"sav: {var.name}: value labels {got}, expected {status_labels}")
        if var.missing_codes and var.type in ("integer", "number"):
            got_range = ranges.get(var.name)
            if not got_range or not any(r.get("lo") == -99 and r.get("hi") == -91 for r in got_range):
                problems.append(f"sav: {var.name}: missing ranges {got_range!r}, expected -99..-91")
        elif var.type in ("integer", "number") and var.name in ranges and var.score_field is None:
            problems.append(f"sav: {var.name}: declares user-missing {ranges[var.name]} though a value may fall there")
        if var.question_id in OPTION_CODES and var.option_id is None and var.type == "integer":
            want = {float(c): _option_texts(var.question_id, o)[0] for o, c in OPTION_CODES[var.question_id].items()}
            got = {float(k): v for k, v in (value_labels.get(var.name) or {}).items()}
            if {k: v for k, v in got.items() if k > 0} != want:
                problems.append(f"sav: {var.name}: value labels {got}, expected {want}")
        if var.question_id is not None and question_of(var.question_id).type == QuestionType.YES_NO \
                and var.type == "integer":
            got = {float(k): str(v).lower() for k, v in (value_labels.get(var.name) or {}).items()}
            if "ja" not in got.get(1.0, "") or "nein" not in got.get(0.0, ""):
                problems.append(f"sav: {var.name}: yes/no value labels {got}")
        if var.name == "oepnv":
            got = {float(k): v for k, v in (value_labels.get(var.name) or {}).items()}
            if got.get(1.0) != "sehr unzufrieden" or got.get(5.0) != "sehr zufrieden":
                problems.append(f"sav: oepnv: scale labels {got}")
        if var.option_id is not None:
            got = {float(k) for k in (value_labels.get(var.name) or {})}
            if not {0.0, 1.0} <= got:
                problems.append(f"sav: {var.name}: option value labels {value_labels.get(var.name)}")
    completed = {float(k) for k in (value_labels.get("completed") or {})}
    if completed != {0.0, 1.0}:
        problems.append(f"sav: completed: value labels {value_labels.get('completed')}")
    return problems


# --- privacy ------------------------------------------------------------------------------------------------------


def output_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def file_contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """The bytes to search: an xlsx's XML members unzipped, every other file as it is."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path.name}!{member}", archive.read(member)
    else:
        yield path.name, path.read_bytes()


def identifier_leaks(files: Iterable[Path], identifiers: Iterable[str]) -> list[str]:
    """Which identifier turns up in which file (UTF-8 and, for .sav, also UTF-16 is searched)."""
    needles = sorted({i for i in identifiers if i and len(i) >= 5})
    leaks = []
    for path in files:
        for where, content in file_contents(path):
            for needle in needles:
                if needle.encode() in content or needle.encode("utf-16-le") in content:
                    leaks.append(f"{where}: {needle}")
    return leaks


def not_private(files: Iterable[Path]) -> list[str]:
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in files}
    return [f"{p.name}: {oct(mode)}" for p, mode in modes.items() if mode != 0o600]


# --- the report ---------------------------------------------------------------------------------------------------


@dataclass
class ReportCell:
    attrs: dict[str, str]
    text: str = ""

    @property
    def suppressed(self) -> bool:
        return self.attrs.get("data-suppressed") == "1" or "suppressed" in self.attrs.get("class", "").split()

    def value(self, key: str) -> int | None:
        """The number in `data-<key>`; None when empty (suppressed)."""
        raw = self.attrs.get(f"data-{key}", "")
        return int(raw) if raw.strip().lstrip("-").isdigit() else None


@dataclass
class ReportTable:
    table_id: str
    rows: dict[str, list[ReportCell]] = field(default_factory=dict)  # tr data-key → its td cells
    footer: set[str] = field(default_factory=set)  # data-keys of rows in <tfoot>
    columns: list[str] = field(default_factory=list)  # header cells (th in thead)


@dataclass
class ReportFigure:
    chart: str
    classes: str
    caption: str = ""
    svgs: int = 0
    tables: list[str] = field(default_factory=list)


class ReportParser:
    """A small structural reading of the report HTML (stdlib html.parser): figures, their tables, every cell."""

    def __init__(self, html: str) -> None:
        from html.parser import HTMLParser

        self.figures: list[ReportFigure] = []
        self.tables: dict[str, ReportTable] = {}
        self.external: list[str] = []
        self.term_sections: list[str] = []  # data-terms of the top-terms boxes (a strategy field each)
        self.text_parts: list[str] = []
        figure: list[ReportFigure] = []
        table: list[ReportTable] = []
        row: list[tuple[str, list[ReportCell]]] = []
        cell: list[ReportCell] = []
        in_caption = [False]
        in_foot = [False]
        in_head = [False]
        header: list[str] = []
        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                a = {k: v or "" for k, v in attrs}
                for key in ("src", "href"):
                    if a.get(key, "").startswith(("http:", "https:", "//")):
                        outer.external.append(f"<{tag} {key}={a[key]}>")
                if tag == "figure" and "chart" in a.get("class", "").split():
                    figure.append(ReportFigure(a.get("data-chart", ""), a.get("class", "")))
                elif tag == "figcaption" and figure:
                    in_caption[0] = True
                elif tag == "svg" and figure:
                    figure[-1].svgs += 1
                elif tag == "table":
                    table.append(ReportTable(a.get("data-table") or a.get("id", "")))
                    if figure:
                        figure[-1].tables.append(table[-1].table_id)
                elif tag == "tfoot":
                    in_foot[0] = True
                elif tag == "thead":
                    in_head[0] = True
                elif tag == "th" and in_head[0] and table:
                    header.append("")
                elif tag == "section" and "data-terms" in a:
                    outer.term_sections.append(a["data-terms"])
                elif tag == "tr" and table:
                    row.append((a.get("data-key", ""), []))
                elif tag == "td" and row:
                    cell.append(ReportCell(a))

            def handle_endtag(self, tag: str) -> None:
                if tag == "figure" and figure:
                    outer.figures.append(figure.pop())
                elif tag == "figcaption":
                    in_caption[0] = False
                elif tag == "td" and cell and row:
                    row[-1][1].append(cell.pop())
                elif tag == "tr" and row and table:
                    key, cells = row.pop()
                    table[-1].rows[key] = cells
                    if in_foot[0]:
                        table[-1].footer.add(key)
                elif tag == "tfoot":
                    in_foot[0] = False
                elif tag == "thead":
                    in_head[0] = False
                elif tag == "th" and in_head[0] and table and header:
                    table[-1].columns.append(header.pop().strip())
                elif tag == "table" and table:
                    done = table.pop()
                    outer.tables[done.table_id] = done

            def handle_data(self, data: str) -> None:
                outer.text_parts.append(data)
                if in_caption[0] and figure:
                    figure[-1].caption += data
                if cell:
                    cell[-1].text += data
                if header:
                    header[-1] += data

        Parser().feed(html)

    @property
    def text(self) -> str:
        return " ".join(self.text_parts)

    def chart(self, chart: str) -> ReportFigure | None:
        return next((f for f in self.figures if f.chart == chart), None)


def expected_counts(plans: Iterable[Plan], played: Mapping[str, Played], question_id: str) -> dict[str, int]:
    """How many citizens gave each answer (option id, "yes"/"no", scale point) and how many skipped."""
    counts: dict[str, int] = {}
    for plan in plans:
        p = played[plan.name]
        status = expected_status(p, question_id)
        if status is Status.SKIPPED:
            counts["skipped"] = counts.get("skipped", 0) + 1
        if status is not Status.ANSWERED:
            continue
        value = plan.answers[question_id]
        keys = value if isinstance(value, list) else [
            "yes" if value is True else "no" if value is False else str(value)]
        for key in keys:
            counts[str(key)] = counts.get(str(key), 0) + 1
    return counts


def report_count_problems(report: ReportParser, table_id: str, expected: Mapping[str, int], k: int) -> list[str]:
    """Cell by cell: a shown count equals what the citizens answered and is 0 or ≥ k; a count below k is
    suppressed; a suppressed cell is marked (data-suppressed, a visible marker) and never alone in its table."""
    table = report.tables.get(table_id)
    if table is None:
        return [f"report: no table {table_id}"]
    problems: list[str] = []
    suppressed = 0
    for key, cells in table.rows.items():
        if key in table.footer or not cells:
            continue
        count_cell = cells[0]
        want = expected.get(key, 0)
        if count_cell.suppressed:
            suppressed += 1
            if count_cell.value("count") is not None or not count_cell.text.strip() or any(
                    ch.isdigit() for ch in count_cell.text.replace(str(k), "")):
                problems.append(f"report {table_id}.{key}: suppressed cell shows {count_cell.text!r} "
                                f"{count_cell.attrs}")
            continue
        got = count_cell.value("count")
        if got != want:
            problems.append(f"report {table_id}.{key}: count {got}, the citizens answered {want}")
        if got is not None and 0 < got < k:
            problems.append(f"report {table_id}.{key}: {got} < k={k} shown")
    if suppressed == 1:
        problems.append(f"report {table_id}: exactly one suppressed cell — the total gives it away")
    return problems


def secondary_suppression_problems(report: ReportParser, k: int) -> list[str]:
    """In every table whose rows add up to its total (one answer per person): total − shown cells must not reveal a
    suppressed cell (at least two suppressed, and together ≥ k unless they are all zero-free small cells)."""
    problems = []
    for table_id, table in report.tables.items():
        total_key = next((key for key in table.footer if key == "total"), None)
        if total_key is None:
            continue
        total = table.rows[total_key][0].value("count") if table.rows[total_key] else None
        body = [(key, cells[0]) for key, cells in table.rows.items() if key not in table.footer and cells]
        hidden = [key for key, cell in body if cell.suppressed]
        if not hidden or total is None:
            continue
        shown = sum(cell.value("count") or 0 for _, cell in body if not cell.suppressed)
        rest = total - shown
        if len(hidden) == 1:
            problems.append(f"report {table_id}: one suppressed cell ({hidden[0]}) = total − shown = {rest}")
        elif rest < k:
            problems.append(f"report {table_id}: suppressed cells {hidden} sum to {rest} < k={k}")
    return problems


def render_report(path: Path, screenshots: Path) -> dict[str, Any]:
    """Open the report in headless Chromium (the Debian package) at laptop and phone width; console errors, page
    errors, failed requests, figures without a visible chart, page-level horizontal scrolling; screenshots kept."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"errors": [], "requests": [], "hidden_charts": [], "overflow": {}, "shots": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            for name, width, height in (("laptop", 1366, 768), ("phone", 390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.on("console", lambda m: result["errors"].append(f"console {m.type}: {m.text}")
                        if m.type in ("error", "warning") else None)
                page.on("pageerror", lambda e: result["errors"].append(f"page error: {e}"))
                page.on("request", lambda r: result["requests"].append(r.url)
                        if not r.url.startswith(("file:", "data:", "about:")) else None)
                page.goto(path.resolve().as_uri())
                page.wait_for_load_state("load")
                result["hidden_charts"] += [f"{name}: {c}" for c in page.evaluate(
                    """() => [...document.querySelectorAll('figure.chart')].filter(f => {
                        const svg = f.querySelector('svg'); if (!svg) return true;
                        const box = svg.getBoundingClientRect();
                        return box.width < 100 || box.height < 50 || box.width > window.innerWidth + 1;
                    }).map(f => f.dataset.chart)""")]
                result["overflow"][name] = page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth")
                shot = screenshots / f"report-{name}.png"
                page.screenshot(path=str(shot), full_page=True)
                result["shots"].append(shot)
                page.close()
        finally:
            browser.close()
    return result


def singled_out_fields(report: ReportParser) -> list[str]:
    """Strategy fields whose idea count is suppressed in "ideas per field" but which another part of the report
    names as having ideas (a column of "ideas per field over time", a top-terms box) while leaving others out —
    naming only the fields that have ideas gives away what the suppression hid."""
    per_field = report.tables.get("ideas-per-field")
    if per_field is None:
        return ["no ideas-per-field table"]
    fields = load_fields()
    hidden = {key for key, cells in per_field.rows.items() if cells and cells[0].suppressed}
    over_time = report.tables.get("ideas-over-time")
    in_columns = {f.key for f in fields if over_time is not None and f.name_de in over_time.columns}
    in_terms = set(report.term_sections)
    named = in_columns | in_terms
    if named >= {f.key for f in fields}:
        return []
    return sorted(f"{key}: suppressed in ideas-per-field, named in"
                  + (" the ideas-over-time columns" if key in in_columns else "")
                  + (" the top-terms boxes" if key in in_terms else "")
                  for key in named & hidden)
