"""The Excel workbook read back with openpyxl: typed cells, local times, inert texts, frozen header, codebook sheet."""

from __future__ import annotations

import stat
import zipfile
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
import pytest

from bot.analytics.model import Codebook, Variable, VarKind, VarType
from bot.analytics.writers import codebook_path, write_table
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows
from tests.analytics_writers.table import BERLIN, CODEBOOK, FORMULA_TEXT, LONG_TEXT, NAMES, ROWS

EXPECTED = [
    ["p_0123456789abcdef", "r_00000000000000a1", 2, "Frühjahr in Barmen", "telegram", 1,
     datetime(2026, 3, 29, 1, 59, 30), datetime(2026, 3, 29, 3, 0, 5),
     2, "answered", 1, 0, "answered", -12.5, "answered", FORMULA_TEXT, "mobilitaet", 0.8123, 0.0001,
     "answered", 1, "answered"],
    ["p_fedcba9876543210", "r_00000000000000b2", 1, None, "matrix", 1,
     datetime(2026, 7, 1, 12, 0, 0), datetime(2026, 11, 3, 0, 30, 0),
     None, "skipped", None, None, "not_shown", None, "not_offered", LONG_TEXT, "umwelt", 0.25, 0.75, "answered",
     None, "not_asked"],
    ["p_1111111111111111", "r_00000000000000c3", 2, "+49 Aktion", "terminal", 0, datetime(2026, 11, 3, 0, 30), None,
     None, "not_reached", None, None, "not_reached", 1e-05, "answered", None, None, None, None, "not_reached",
     None, "not_reached"],
]


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, openpyxl.Workbook]:
    target = tmp_path_factory.mktemp("xlsx") / "mobil.xlsx"
    assert write_table(CODEBOOK, ROWS, "xlsx", target, timezone=BERLIN) == 3
    return target, openpyxl.load_workbook(target)


def test_data_sheet_holds_every_cell_typed(workbook: tuple[Path, openpyxl.Workbook]) -> None:
    _, book = workbook
    assert book.sheetnames == ["Daten", "Codebook"]
    rows = list(book["Daten"].iter_rows(values_only=True))
    assert list(rows[0]) == NAMES
    assert [list(row) for row in rows[1:]] == EXPECTED
    data = book["Daten"]
    assert isinstance(data["G2"].value, datetime) and data["G2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert data["I2"].data_type == "n" and data["N2"].data_type == "n" and data["J2"].data_type == "s"


def test_no_cell_is_a_formula(workbook: tuple[Path, openpyxl.Workbook]) -> None:
    _, book = workbook
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
    assert book["Daten"]["P2"].value == FORMULA_TEXT and book["Daten"]["P2"].data_type == "s"
    assert book["Daten"]["D4"].value == "+49 Aktion" and book["Daten"]["D4"].data_type == "s"


def test_header_is_bold_frozen_and_filtered(workbook: tuple[Path, openpyxl.Workbook]) -> None:
    _, book = workbook
    data = book["Daten"]
    assert data.freeze_panes == "A2"
    assert data.auto_filter.ref == "A1:V4"
    assert all(cell.font.b for cell in data[1])
    assert data.column_dimensions["A"].width == pytest.approx(19 + 0.71, abs=1)  # XlsxWriter adds padding
    assert data.column_dimensions["P"].width == pytest.approx(60 + 0.71, abs=1)  # 80 bounded to 60
    assert data.column_dimensions["G"].width >= 19


def test_codebook_sheet_matches_the_codebook_rows(workbook: tuple[Path, openpyxl.Workbook]) -> None:
    _, book = workbook
    sheet = book["Codebook"]
    assert sheet.freeze_panes == "A2"
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == list(CODEBOOK_COLUMNS)
    assert rows[1:] == [list(row) for row in codebook_rows(CODEBOOK)]


def test_xlsx_is_owner_only_and_has_no_codebook_csv(workbook: tuple[Path, openpyxl.Workbook]) -> None:
    target, _ = workbook
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not codebook_path(target).exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["mobil.xlsx"]


def test_markup_whitespace_and_control_characters_stay_inert_text(tmp_path: Path) -> None:
    texts = ["<b>&amp;</b>", " leading and trailing ", "tab\tinside", "a\x01b", "_x0041_", "line\r\nbreak"]
    codebook = Codebook(
        "Texte",
        "texts",
        tuple(Variable(f"t{i}", VarKind.VALUE, VarType.TEXT, "Text", "text") for i in range(len(texts))),
    )
    target = tmp_path / "texts.xlsx"
    write_table(codebook, [texts], "xlsx", target, timezone=BERLIN)
    with zipfile.ZipFile(target) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                ElementTree.fromstring(archive.read(name))  # every part is well-formed XML
    cells = next(iter(openpyxl.load_workbook(target)["Daten"].iter_rows(min_row=2, values_only=True)))
    # openpyxl shows OOXML's _xHHHH_ escapes as they are stored; Excel decodes them back to the characters
    assert list(cells) == ["<b>&amp;</b>", " leading and trailing ", "tab\tinside", "a_x0001_b", "_x005F_x0041_",
                           "line_x000D_\nbreak"]


def test_a_big_table_streams_every_row(tmp_path: Path) -> None:
    target = tmp_path / "big.xlsx"
    rows = (ROWS[number % 3] for number in range(3000))
    assert write_table(CODEBOOK, rows, "xlsx", target, timezone=BERLIN) == 3000
    data = openpyxl.load_workbook(target, read_only=True)["Daten"]
    values = list(data.iter_rows(values_only=True))
    assert len(values) == 3001
    assert list(values[3000]) == EXPECTED[2]
