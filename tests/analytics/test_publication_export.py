"""The ideas export gains publication columns (issue 13): `published`, `public_text` (only when approved),
`support_count`, `merged_into` (the target's pseudonym), `theme`; a kept idea whose author deleted their data has an
empty respondent pseudonym. Read back with csv, openpyxl and pyreadstat, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import openpyxl
import pyreadstat
import pytest

from bot.analytics.pseudonyms import export_pseudonym, idea_pseudonym
from bot.cli import main
from bot.ideaboard import publication
from bot.storage import models as m
from bot.storage.db import Database
from tests.analytics.sample import NOW, fill

CLI_SECRET = "test-secret-0123456789"


@pytest.fixture
def env(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fill(database)
    with database.unit_of_work() as uow:
        publication.set_consent(uow, "c_anna", "idea-1", "keep", NOW, set())
        publication.set_consent(uow, "c_bert", "idea-2", "yes", NOW, set())
        publication.approve(uow, "idea-1", None, NOW + timedelta(hours=1))  # redacted: the phone number goes
        uow.session.add(m.IdeaSupport(idea_id="idea-1", citizen_id="c_carla", created_at=NOW, news=False))
        uow.session.add(m.IdeaSupport(idea_id="idea-1", citizen_id="c_emil", created_at=NOW, news=True))
        uow.session.flush()
        publication.merge(uow, "idea-3", "idea-1", NOW + timedelta(days=4))  # c_dora joins as a supporter
        uow.session.execute(m.Idea.__table__.update().where(m.Idea.id == "idea-2").values(theme="t_baeume"))
    with database.unit_of_work() as uow:
        uow.citizens.delete_everything("c_anna")  # idea-1 is kept without its author
    monkeypatch.setenv("STADTDIALOG_DATABASE_URL", database.url)
    monkeypatch.setenv("STADTDIALOG_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STADTDIALOG_PSEUDONYM_SECRET", CLI_SECRET)
    return tmp_path


def test_csv_xlsx_and_sav_carry_the_publication_columns(env: Path) -> None:
    secret = CLI_SECRET.encode()
    assert main(["export", "ideas", "--dialect", "plain", "--out", str(env / "ideas.csv")]) == 0
    rows = {row["idea"]: row for row in csv.DictReader((env / "ideas.csv").open(encoding="utf-8"))}
    one, two, three = (rows[idea_pseudonym(secret, i)] for i in ("idea-1", "idea-2", "idea-3"))
    assert (one["published"], one["support_count"], one["respondent"]) == ("1", "3", "")
    assert one["public_text"].startswith("Nachtbus bis Ronsdorf") and "1234567" not in one["public_text"]
    assert "1234567" not in one["text"]  # the kept idea's text is its public text
    assert (two["published"], two["public_text"], two["theme"]) == ("0", "", "t_baeume")  # pending: never shown
    assert three["merged_into"] == idea_pseudonym(secret, "idea-1")
    assert three["respondent"] == export_pseudonym(secret, "c_dora", "ideas")

    assert main(["export", "ideas", "--format", "xlsx", "--out", str(env / "ideas.xlsx")]) == 0
    sheet = openpyxl.load_workbook(env / "ideas.xlsx", read_only=True).worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = table[0]
    by_idea = {row[header.index("idea")]: row for row in table[1:]}
    kept = by_idea[idea_pseudonym(secret, "idea-1")]
    assert kept[header.index("published")] == 1 and kept[header.index("support_count")] == 3
    assert kept[header.index("respondent")] in (None, "")

    assert main(["export", "ideas", "--format", "sav", "--out", str(env / "ideas.sav")]) == 0
    frame, meta = pyreadstat.read_sav(str(env / "ideas.sav"))
    assert sorted(frame["published"]) == [0, 0, 1]
    assert meta.variable_value_labels["published"] == {1: "ja", 0: "nein"}
    assert meta.column_names_to_labels["public_text"].startswith("Öffentlicher Wortlaut")
    assert sorted(frame["support_count"]) == [0, 0, 3]
