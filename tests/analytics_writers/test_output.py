"""Export files appear complete and owner-only, or not at all."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pyreadstat
import pytest

from bot.analytics.model import Row
from bot.analytics.writers import FORMATS, OutputError, RowError, owner_only_target, private_folder, write_table
from tests.analytics_writers.table import BERLIN, CODEBOOK, ROWS


class DatabaseGone(Exception):
    pass


def _rows_then_failure() -> Iterator[Row]:
    yield ROWS[0]
    yield ROWS[1]
    raise DatabaseGone("connection lost mid-export")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failure_mid_write_leaves_no_file(tmp_path: Path, fmt: str) -> None:
    with pytest.raises(DatabaseGone):
        write_table(CODEBOOK, _rows_then_failure(), fmt, tmp_path / f"mobil.{fmt}", timezone=BERLIN)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failed_export_keeps_the_previous_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"mobil.{fmt}"
    write_table(CODEBOOK, ROWS, fmt, target, timezone=BERLIN)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(RowError):
        write_table(CODEBOOK, [ROWS[0], ROWS[1][:-1]], fmt, target, timezone=BERLIN)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_replaces_a_readable_file_with_an_owner_only_one(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"mobil.{fmt}"
    target.write_text("old")
    target.chmod(0o644)
    assert write_table(CODEBOOK, ROWS, fmt, target, timezone=BERLIN) == 3
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_an_empty_table_still_has_its_columns(tmp_path: Path) -> None:
    for fmt in FORMATS:
        assert write_table(CODEBOOK, [], fmt, tmp_path / f"empty.{fmt}", timezone=BERLIN) == 0
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    assert (tmp_path / "empty.csv").read_text(encoding="utf-8-sig").startswith("respondent;response;")
    frame, _ = pyreadstat.read_sav(str(tmp_path / "empty.sav"))
    assert len(frame) == 0 and list(frame.columns) == [v.name for v in CODEBOOK.variables]
    assert openpyxl.load_workbook(tmp_path / "empty.xlsx")["Daten"]["A1"].value == "respondent"


def test_private_folder_is_created_owner_only(tmp_path: Path) -> None:
    folder = private_folder(tmp_path / "exports" / "2026")
    assert folder.is_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.stat().st_mode) == 0o700
    assert private_folder(folder) == folder  # an existing folder is fine


def test_private_folder_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "responses.csv").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        private_folder(tmp_path / "responses.csv")


def test_a_folder_is_no_target_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"), owner_only_target(tmp_path):
        pass
    with pytest.raises(OutputError, match="does not exist"), owner_only_target(tmp_path / "missing" / "x.csv"):
        pass
