"""The SPSS file read back with pyreadstat: values, labels, status codes in empty cells, declared user-missing."""

from __future__ import annotations

import csv
import math
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

import pyreadstat
import pytest

from bot.analytics.writers import codebook_path, write_table
from bot.analytics.writers.codebook import CODEBOOK_COLUMNS, codebook_rows
from tests.analytics_writers.table import BERLIN, CODEBOOK, FORMULA_TEXT, LONG_TEXT, NAMES, ROWS

NAN = float("nan")
EXPECTED = [
    ["p_0123456789abcdef", "r_00000000000000a1", 2.0, "Frühjahr in Barmen", "telegram", 1.0,
     datetime(2026, 3, 29, 1, 59, 30), datetime(2026, 3, 29, 3, 0, 5),
     2.0, 1.0, 1.0, 0.0, 1.0, -12.5, 1.0, FORMULA_TEXT, "mobilitaet", 0.8123, 0.0001, 1.0, 1.0, 1.0],
    ["p_fedcba9876543210", "r_00000000000000b2", 1.0, "", "matrix", 1.0,
     datetime(2026, 7, 1, 12, 0, 0), datetime(2026, 11, 3, 0, 30, 0),
     -91.0, -91.0, -92.0, -92.0, -92.0, NAN, -94.0, LONG_TEXT, "umwelt", 0.25, 0.75, 1.0, -95.0, -95.0],
    ["p_1111111111111111", "r_00000000000000c3", 2.0, "+49 Aktion", "terminal", 0.0, datetime(2026, 11, 3, 0, 30), None,
     -93.0, -93.0, -93.0, -93.0, -93.0, 1e-05, 1.0, "", "", NAN, NAN, -93.0, -93.0, -93.0],
]


@pytest.fixture(scope="module")
def sav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sav") / "mobil.sav"
    assert write_table(CODEBOOK, ROWS, "sav", target, timezone=BERLIN) == 3
    return target


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if expected is None:
        return actual is None or actual != actual  # NaT
    if isinstance(expected, datetime):
        return actual.to_pydatetime() == expected
    return bool(actual == expected)


def test_every_cell_reads_back_with_status_codes_in_empty_cells(sav: Path) -> None:
    frame, _ = pyreadstat.read_sav(str(sav), user_missing=True)
    assert list(frame.columns) == NAMES
    for number, expected in enumerate(EXPECTED):
        actual = frame.iloc[number].tolist()
        for name, got, want in zip(NAMES, actual, expected, strict=True):
            assert _same(got, want), (number, name, got, want)


def test_status_codes_are_missing_for_analyses(sav: Path) -> None:
    frame, _ = pyreadstat.read_sav(str(sav))  # user-missing become NaN, as SPSS treats them
    assert math.isnan(frame["q_1bus"][1]) and math.isnan(frame["nachfrage"][1]) and frame["q_1bus"][0] == 2
    assert frame["q_1bus_status"].tolist() == [1.0, -91.0, -93.0]  # statuses are data, never missing
    _, meta = pyreadstat.read_sav(str(sav), user_missing=True, metadataonly=True)
    ranges = {"lo": -99.0, "hi": -91.0}
    assert meta.missing_ranges == {name: [ranges] for name in ("q_1bus", "modes_bus", "modes_rad", "nachfrage")}


def test_variable_and_value_labels_are_german(sav: Path) -> None:
    _, meta = pyreadstat.read_sav(str(sav), user_missing=True)
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["q_1bus"] == "Wie zufrieden sind Sie mit dem Bus in Barmen?"
    assert labels["temperatur"] == "Gefühlte Temperatur (°C)"
    values = meta.variable_value_labels
    assert values["q_1bus"][1.0] == "sehr zufrieden" and values["q_1bus"][2.0] == "unzufrieden – Ärger"
    assert values["q_1bus"][-92.0] == "nicht gezeigt (Verzweigung)"
    assert values["q_1bus_status"][1.0] == "beantwortet"
    assert 1.0 not in values["modes_rad"] or values["modes_rad"][1.0] == "gewählt"  # code 1 is never "answered"
    assert values["q_1bus_status"][-94.0] == "in dieser Version nicht gestellt"
    assert values["modes_bus"][1.0] == "gewählt"
    assert values["idee_field"] == {"mobilitaet": "Mobilität", "umwelt": "Umwelt & Grün"}
    assert values["completed"] == {1.0: "ja", 0.0: "nein"}
    assert "temperatur" not in values and "temperatur" not in meta.missing_ranges
    assert meta.file_label == "Mobilität in Barmen — Antworten"
    assert any("pseudonyms per survey" in note for note in meta.notes)


def test_measures_formats_and_widths(sav: Path) -> None:
    _, meta = pyreadstat.read_sav(str(sav), user_missing=True)
    assert meta.variable_measure["q_1bus"] == "nominal"
    assert meta.variable_measure["temperatur"] == "scale"
    assert meta.variable_measure["idee"] == "nominal"
    assert meta.variable_measure["started_at"] == "scale"
    assert meta.original_variable_types["started_at"].startswith("DATETIME")
    assert meta.original_variable_types["q_1bus_status"] == "F3.0"
    assert meta.original_variable_types["idee_score_umwelt"] == "F12.4"
    assert meta.variable_display_width["idee"] == 60
    assert meta.variable_display_width["respondent"] == 19


def test_sav_is_owner_only_with_its_codebook_beside(sav: Path) -> None:
    assert stat.S_IMODE(sav.stat().st_mode) == 0o600
    book = codebook_path(sav)
    assert stat.S_IMODE(book.stat().st_mode) == 0o600
    with open(book, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    assert rows[0] == list(CODEBOOK_COLUMNS)
    assert len(rows) == 1 + len(list(codebook_rows(CODEBOOK)))
