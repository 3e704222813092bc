"""Analyst exports end to end on Matrix: citizens answer the test survey in encrypted DMs on the real Synapse (two
versions, branching, a skipped question, an unfinished response, a follow-up answered days later), then
`stadtdialog export responses` in every format is read back cell by cell; no Matrix user id, room id or internal
id reaches any file.

The scenario runs once per module on the session's homeserver; each test checks one property of the files."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import load_config
from tests.e2e import export_checks as ec
from tests.e2e.matrix_driver import MatrixBot, MatrixCitizen, bot_environment
from tests.e2e.scenarios import give_consent
from tests.e2e.synapse import Synapse, synapse_server  # noqa: F401  (the session's homeserver fixture)

pytestmark = pytest.mark.e2e

T0 = datetime(2026, 11, 3, 16, 40, 5, 500_000, tzinfo=UTC)  # 17:40:05 in Wuppertal (winter time)
FOLLOW_UPS_DUE = T0 + timedelta(days=9)

PLANS = [
    ec.Plan("mia", 1, {"bezirk": "ronsdorf", "unterwegs": ["bus"], "oepnv": 1, "2-minuten": 3, "mehr_rad": True,
                       "rad_hindernis": "radwege", "trasse": False, "wunsch": "Ein Unterstand an der Haltestelle"},
            offer=True, follow_up_answer="besser"),
    ec.Plan("max", 1, {"bezirk": "barmen", "unterwegs": ["bus", "auto"]}, stop_before="oepnv"),
    ec.Plan("mona", 2, {"bezirk": "vohwinkel", "unterwegs": ["fuss"], "2-minuten": None, "wartezeit": 2.25,
                        "mehr_rad": False, "wunsch": "Rufen Sie mich an, Tel. 0202 563 1234"},
            redacted={"wunsch": "Rufen Sie mich an, Tel. [TELEFON]"}),
]


async def run_citizens(server: Synapse, base: Path) -> ec.Scenario:
    surveys = base / "surveys"
    surveys.mkdir()
    shutil.copy(ec.DATA / "e2e-umfrage.v1.yaml", surveys / "e2e-umfrage.yaml")
    bot = MatrixBot.register(server, base / "bot")
    env = {**bot_environment(server, bot.account, bot.directory / "data"), "STADTDIALOG_SURVEY_DIR": str(surveys)}
    bot.config = load_config(env, cwd=bot.directory)
    clock = ec.Clock(T0)
    chat_clocks = ec.ChatClocks()
    await bot.start()
    bot.runtime.clock = clock
    chat_clocks.install(bot.runtime)
    played: dict[str, ec.Played] = {}
    citizens: dict[str, MatrixCitizen] = {}
    identifiers: list[str] = []
    try:
        joined = await asyncio.gather(*(bot.citizen(base / "citizens") for _ in PLANS))
        citizens = {plan.name: citizen for plan, citizen in zip(PLANS, joined, strict=True)}
        for citizen in joined:
            identifiers += [citizen.user_id, citizen.room_id, citizen.user_id[1:].split(":")[0],
                            str(citizen.client.device_id)]
        await asyncio.gather(*(give_consent(citizen) for citizen in joined))

        async def answer(number: int, plan: ec.Plan) -> None:
            citizen = citizens[plan.name]
            start = T0 + timedelta(hours=number)
            played[plan.name] = await ec.play(citizen, plan, chat_clocks.setter(citizen.room_id), start, "matrix")

        await asyncio.gather(*(answer(n, p) for n, p in enumerate(PLANS) if p.version == 1))
        (surveys / "e2e-umfrage.yaml").write_bytes((ec.DATA / "e2e-umfrage.v2.yaml").read_bytes())
        await bot.restart()  # imports version 2
        bot.runtime.clock = clock
        chat_clocks.install(bot.runtime)
        await asyncio.gather(*(answer(n, p) for n, p in enumerate(PLANS) if p.version == 2))
        chat_clocks.times.clear()
        clock.now = FOLLOW_UPS_DUE
        for plan in PLANS:
            if plan.offer:
                citizens[plan.name].snapshot()
        assert await bot.runtime.feed_due_follow_ups() == sum(1 for p in PLANS if p.offer)
        for plan in PLANS:
            if not plan.offer:
                continue
            citizen = citizens[plan.name]
            played[plan.name].follow_up = ec.expected_followup_status(plan)
            await citizen.wait_until(lambda c=citizen: any(  # type: ignore[misc]
                m.button(f"a:{ec.FOLLOW_UP}:besser") for m in c.last_messages(3)))
            if plan.follow_up_answer is not None:
                thanks = await ec.answer_follow_up(citizen, plan.follow_up_answer)
                assert any("Danke" in m.text for m in thanks), thanks
        ec.fill_from_database(bot.runtime.db, list(played.values()), bot.config.pseudonym_secret)
        identifiers += ec.database_identifiers(bot.runtime.db)
        secret = bot.config.pseudonym_secret
        database_url = bot.config.database_url
    finally:
        for citizen in citizens.values():
            await citizen.close()
        await bot.stop()
    out = base / "exports"
    out.mkdir()
    return ec.Scenario({**env, "STADTDIALOG_DATABASE_URL": database_url}, secret, played, identifiers, out)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scenario(synapse_server: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ec.Scenario]:  # noqa: F811
    yield await run_citizens(synapse_server, tmp_path_factory.mktemp("exports-matrix"))


def test_citizens_took_the_routes_the_scenario_describes(scenario: ec.Scenario) -> None:
    assert {name: p.asked for name, p in scenario.played.items()} == {
        "mia": ["bezirk", "unterwegs", "oepnv", "2-minuten", "mehr_rad", "rad_hindernis", "trasse", "wunsch"],
        "max": ["bezirk", "unterwegs"],
        "mona": ["bezirk", "unterwegs", "2-minuten", "wartezeit", "mehr_rad", "wunsch"],
    }
    assert ec.expected_status(scenario.played["max"], "oepnv") is ec.Status.NOT_REACHED


@pytest.mark.parametrize(("fmt", "dialect"), [("csv", "excel"), ("csv", "plain"), ("xlsx", None), ("sav", None)])
def test_responses_read_back_cell_by_cell(scenario: ec.Scenario, fmt: str, dialect: str | None) -> None:
    path, run = scenario.responses(fmt, dialect)
    assert run.code == 0, run
    table = {"csv": lambda: ec.read_csv(path, dialect or "excel"), "xlsx": lambda: ec.read_xlsx(path),
             "sav": lambda: ec.read_sav(path)}[fmt]()
    problems = ec.compare(table, scenario.expected())
    if fmt == "sav":
        problems += ec.sav_meta_problems(table.meta)
    assert problems == []


def test_jsonl_nests_every_answer(scenario: ec.Scenario) -> None:
    path, run = scenario.responses("jsonl")
    assert run.code == 0, run
    assert ec.compare_jsonl(ec.read_jsonl(path), scenario.played, scenario.expected()) == []


def test_codebooks_document_every_variable(scenario: ec.Scenario) -> None:
    problems = []
    for fmt, dialect in [("csv", "excel"), ("jsonl", None), ("sav", None)]:
        path, run = scenario.responses(fmt, dialect)
        assert run.code == 0, run
        codebook = ec.codebook_path(path)
        assert codebook is not None, path
        problems += ec.codebook_problems(ec.read_codebook_csv(codebook, dialect or "excel"), codebook.name)
    xlsx, _ = scenario.responses("xlsx")
    assert problems + ec.codebook_problems(ec.read_codebook_sheet(xlsx), "xlsx Codebook") == []


def test_the_channel_filter_keeps_matrix_and_a_channel_nobody_used_is_empty(scenario: ec.Scenario) -> None:
    matrix = scenario.export("matrix.csv", "export", "responses", "--survey", ec.KEY, "--channel", "matrix",
                             "--dialect", "plain")
    telegram = scenario.export("telegram.csv", "export", "responses", "--survey", ec.KEY, "--channel", "telegram",
                               "--dialect", "plain")
    assert scenario.runs["matrix.csv"].code == 0 and scenario.runs["telegram.csv"].code == 0, scenario.runs
    assert ec.compare(ec.read_csv(matrix, "plain"), scenario.expected()) == []
    assert ec.read_csv(telegram, "plain").rows == []


def test_no_matrix_or_internal_identifier_in_any_file(scenario: ec.Scenario) -> None:
    for fmt, dialect in [("csv", "excel"), ("csv", "plain"), ("xlsx", None), ("jsonl", None), ("sav", None)]:
        scenario.responses(fmt, dialect)
    scenario.export("followups.jsonl", "export", "followups", "--survey", ec.KEY, "--format", "jsonl")
    scenario.export("report.html", "report", "--survey", ec.KEY)
    files = ec.output_files(scenario.out)
    assert len(files) >= 10, [p.name for p in files]
    assert any(i.startswith("!") for i in scenario.identifiers), "room ids are searched"
    assert ec.identifier_leaks(files, [*scenario.identifiers, scenario.secret.decode()]) == []
    assert ec.not_private(files) == []
