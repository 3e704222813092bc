"""Survey lifecycle: closing and reopening, files that vanish, versions pinned by campaigns, and a running bot that
notices what the CLI changed."""

from __future__ import annotations

import asyncio
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import field_infos
from bot.campaigns import service
from bot.campaigns.service import CampaignSpec
from bot.channels.terminal import TerminalChannel
from bot.config import Config
from bot.scheduler import CATALOG_INTERVAL_S, build_scheduler
from bot.storage import models as m
from bot.storage.db import Database
from bot.survey_sync import catalog_generation, import_surveys, load_catalog
from tests.bot.campaign_helpers import LIBRARY, NOW, SURVEY, add_citizen, campaign_config, tick
from tests.bot.conftest import RuntimeFactory

FIELDS = {f.key for f in field_infos()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A survey folder with copies of the library surveys, which the tests change."""
    target = tmp_path / "umfragen"
    shutil.copytree(LIBRARY, target)
    return target


@pytest.fixture
def config(tmp_path: Path, database_url: str, folder: Path) -> Config:
    return campaign_config(tmp_path, database_url, STADTDIALOG_SURVEY_DIR=str(folder))


def start_campaign(db: Database) -> service.Campaign:
    with db.unit_of_work() as uow:
        campaign = service.create_campaign(
            uow, CampaignSpec(SURVEY, starts_at=NOW, ends_at=NOW + timedelta(days=7)), load_catalog(db),
            sorted(FIELDS), NOW,
        )
        return service.launch_campaign(uow, campaign.id, load_catalog(db), NOW)


def test_a_closed_survey_is_not_offered_until_reopened_but_stays_loadable(database: Database, folder: Path) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    with database.unit_of_work() as uow:
        service.close_survey(uow, SURVEY, NOW)
    catalog = load_catalog(database)
    assert SURVEY not in {v.key for v in catalog.active()}
    assert catalog.closed_at(SURVEY) == NOW
    assert catalog.get(SURVEY, 1) is not None  # citizens in the middle can finish
    with database.unit_of_work() as uow:
        service.reopen_survey(uow, SURVEY, NOW)
    assert SURVEY in {v.key for v in load_catalog(database).active()}


async def test_closing_a_survey_closes_its_running_campaign(database: Database, folder: Path, config: Config) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    add_citizen(database, config, "1")
    campaign = start_campaign(database)
    await tick(database, config, NOW)
    with database.unit_of_work() as uow:
        ended = service.close_survey(uow, SURVEY, NOW + timedelta(hours=1))
        assert [(c.id, c.status, cancelled) for c, cancelled in ended] == [(campaign.id, "closed", 1)]


def test_a_vanished_survey_file_is_deactivated(database: Database, folder: Path) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    (folder / "klimaanpassung.yaml").unlink()
    report = import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert report.deactivated == ("klimaanpassung",)
    assert "klimaanpassung" not in {v.key for v in load_catalog(database).active()}


def test_an_invalid_file_is_not_a_vanished_one(database: Database, folder: Path) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    (folder / "klimaanpassung.yaml").write_text("id: klimaanpassung\ntitle: [kaputt\n", encoding="utf-8")
    report = import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert report.deactivated == () and report.problems
    assert "klimaanpassung" in {v.key for v in load_catalog(database).active()}


def test_a_vanished_survey_stays_while_a_campaign_uses_it(
    database: Database, folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    campaign = start_campaign(database)
    (folder / f"{SURVEY}.yaml").unlink()
    report = import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert report.deactivated == ()
    assert report.kept and report.kept[0][0] == SURVEY and f"#{campaign.id}" in report.kept[0][1]
    assert SURVEY in {v.key for v in load_catalog(database).active()}
    assert "kept_for_campaign" in caplog.text


async def test_a_campaign_stays_pinned_to_the_version_it_was_launched_with(
    database: Database, folder: Path, config: Config
) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    add_citizen(database, config, "1")
    campaign = start_campaign(database)
    path = folder / f"{SURVEY}.yaml"
    source = path.read_text(encoding="utf-8")
    path.write_text(source.replace("de: Mobilität in Ihrem", "de: Verkehr in Ihrem", 1), encoding="utf-8")
    report = import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert report.imported and any(key == SURVEY and version == 2 for key, version, _ in report.imported)
    await tick(database, config, NOW)
    with database.unit_of_work() as uow:
        payloads = uow.session.execute(select(m.FollowUp.payload).where(m.FollowUp.campaign_id == campaign.id))
        assert [p["survey_version"] for p in payloads.scalars()] == [1]
    catalog = load_catalog(database)
    assert catalog.latest(SURVEY).version == 2 and catalog.get(SURVEY, 1) is not None


async def test_the_running_bot_notices_a_survey_closed_by_the_cli_within_seconds(
    make_runtime: RuntimeFactory, database: Database
) -> None:
    runtime = make_runtime(TerminalChannel())
    scheduler = build_scheduler(runtime)
    scheduler.start()
    try:
        await asyncio.sleep(0.1)
        assert SURVEY in {v.key for v in runtime.catalog.active()}
        with database.unit_of_work() as uow:  # what `stadtdialog survey close` does in its own process
            service.close_survey(uow, SURVEY, NOW)
        started = time.monotonic()
        while SURVEY in {v.key for v in runtime.catalog.active()}:
            assert time.monotonic() - started < CATALOG_INTERVAL_S + 3, "the bot did not reload its catalog"
            await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert await runtime.refresh_catalog() is False  # nothing changed since


def test_a_survey_whose_file_comes_back_is_offered_again(database: Database, folder: Path) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    kept = (folder / "klimaanpassung.yaml").read_text(encoding="utf-8")
    (folder / "klimaanpassung.yaml").unlink()
    import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert "klimaanpassung" not in {v.key for v in load_catalog(database).active()}
    (folder / "klimaanpassung.yaml").write_text(kept, encoding="utf-8")
    import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert "klimaanpassung" in {v.key for v in load_catalog(database).active()}


def test_only_a_change_of_what_is_offered_moves_the_catalog_generation(database: Database, folder: Path) -> None:
    import_surveys(database, folder, FIELDS, NOW)
    first = catalog_generation(database)
    import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert catalog_generation(database) == first  # nothing changed: running bots keep their catalog
    (folder / "klimaanpassung.yaml").unlink()
    import_surveys(database, folder, FIELDS, NOW, deactivate_missing=True)
    assert catalog_generation(database) != first
