"""A survey's follow-ups survive the import into the database and come back in the core's catalog."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from bot.storage import Database
from bot.survey_sync import import_surveys, load_catalog
from surveys.loader import load_survey

MOBILITY = Path(__file__).resolve().parents[2] / "surveys" / "library" / "mobilitaet-quartier.yaml"
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_follow_ups_come_back_from_the_stored_definition(database: Database, tmp_path: Path) -> None:
    folder = tmp_path / "umfragen"
    folder.mkdir()
    shutil.copy(MOBILITY, folder / MOBILITY.name)
    report = import_surveys(database, folder, {"mobilitaet"}, NOW)
    assert report.problems == []
    stored = load_catalog(database).latest("mobilitaet-quartier")
    assert stored is not None
    assert stored.survey == load_survey(MOBILITY)
    follow_up = stored.survey.follow_up("oepnv_seitdem")
    assert follow_up is not None and follow_up.after_days == 14
    assert import_surveys(database, folder, {"mobilitaet"}, NOW).imported == [("mobilitaet-quartier", 1, False)]
