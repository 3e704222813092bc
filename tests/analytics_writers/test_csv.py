"""The one CSV convention: German Excel by default, plain for tools; read back cell by cell with the csv module."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.writers import RowError, WriterError, codebook_path, write_table
from bot.analytics.writers.csvout import write_csv_rows
from tests.analytics_writers.table import BERLIN, CODEBOOK, FORMULA_TEXT, LONG_TEXT, NAMES, ROWS

EXCEL_ROWS = [
    ["p_0123456789abcdef", "r_00000000000000a1", "2", "Frühjahr in Barmen", "telegram", "1",
     "2026-03-29 01:59:30", "2026-03-29 03:00:05",
     "2", "answered", "1", "0", "answered", "-12,5", "answered", "'" + FORMULA_TEXT, "mobilitaet", "0,8123", "0,0001",
     "answered", "1", "answered"],
    ["p_fedcba9876543210", "r_00000000000000b2", "1", "", "matrix", "1", "2026-07-01 12:00:00", "2026-11-03 00:30:00",
     "", "skipped", "", "", "not_shown", "", "not_offered", LONG_TEXT, "umwelt", "0,25", "0,75", "answered",
     "", "not_asked"],
    ["p_1111111111111111", "r_00000000000000c3", "2", "'+49 Aktion", "terminal", "0", "2026-11-03 00:30:00", "",
     "", "not_reached", "", "", "not_reached", "0,00001", "answered", "", "", "", "", "not_reached", "", "not_reached"],
]


def _plain(row: list[str]) -> list[str]:
    times = {
        "2026-03-29 01:59:30": "2026-03-29T01:59:30+01:00",
        "2026-03-29 03:00:05": "2026-03-29T03:00:05+02:00",
        "2026-07-01 12:00:00": "2026-07-01T12:00:00+02:00",
        "2026-11-03 00:30:00": "2026-11-03T00:30:00+01:00",
    }
    return [times.get(cell, cell.replace(",", ".") if _numeric(cell) else cell) for cell in row]


def _numeric(cell: str) -> bool:
    return cell.lstrip("-").replace(",", "", 1).isdigit()


def test_excel_csv_opens_in_german_excel(tmp_path: Path) -> None:
    target = tmp_path / "mobil.csv"
    assert write_table(CODEBOOK, ROWS, "csv", target, timezone=BERLIN) == 3
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") >= 4 and b";" in raw.split(b"\r\n")[0]
    with open(target, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle, delimiter=";"))
    assert table[0] == NAMES
    assert table[1:] == EXCEL_ROWS


def test_plain_csv_is_for_tools(tmp_path: Path) -> None:
    target = tmp_path / "mobil.csv"
    write_table(CODEBOOK, ROWS, "csv", target, dialect="plain", timezone=BERLIN)
    raw = target.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\r\n")[0] == ",".join(NAMES).encode()
    with open(target, encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == NAMES
    assert table[1:] == [_plain(row) for row in EXCEL_ROWS]
    assert table[1][6:8] == ["2026-03-29T01:59:30+01:00", "2026-03-29T03:00:05+02:00"]
    assert table[3][13] == "0.00001"  # never 1e-05


def test_csv_export_and_codebook_are_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "mobil.csv"
    write_table(CODEBOOK, ROWS, "csv", target, timezone=BERLIN)
    for path in (target, codebook_path(target)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert codebook_path(target).name == "mobil.csv.codebook.csv"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mobil.csv", "mobil.csv.codebook.csv"]


def test_feedback_style_rows_use_the_same_convention() -> None:
    out = io.StringIO(newline="")
    count = write_csv_rows(["text", "score"], [["@cmd", 0.5], ["-", 3]], out, dialect="excel", timezone=BERLIN)
    assert count == 2
    assert out.getvalue() == "\ufefftext;score\r\n'@cmd;0,5\r\n'-;3\r\n"


def test_numbers_are_never_guarded_but_texts_are() -> None:
    out = io.StringIO(newline="")
    write_csv_rows(["a", "b", "c", "d"], [[-3, -0.5, "-3", "\tx"]], out, dialect="plain", timezone=BERLIN)
    assert out.getvalue() == "a,b,c,d\r\n-3,-0.5,'-3,'\tx\r\n"


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(RowError, match="row 1"):
        write_csv_rows(["a", "b"], [["x"]], io.StringIO(), dialect="excel", timezone=BERLIN)


def test_a_naive_datetime_is_refused_not_guessed() -> None:
    from datetime import datetime

    with pytest.raises(RowError, match="naive"):
        write_csv_rows(["t"], [[datetime(2026, 1, 1)]], io.StringIO(), dialect="excel", timezone=BERLIN)


def test_unknown_dialect_and_format_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WriterError, match="dialect"):
        write_table(CODEBOOK, ROWS, "csv", tmp_path / "x.csv", dialect="german", timezone=BERLIN)
    with pytest.raises(WriterError, match="format"):
        write_table(CODEBOOK, ROWS, "ods", tmp_path / "x.ods", timezone=BERLIN)
    assert list(tmp_path.iterdir()) == []


def _guarded(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@pytest.mark.parametrize("dialect", ["excel", "plain"])
@given(texts=st.lists(st.text(), min_size=1, max_size=4))
def test_any_text_reads_back_unchanged_except_the_formula_guard(dialect: str, texts: list[str]) -> None:
    out = io.StringIO(newline="")
    header = [f"c{i}" for i in range(len(texts))]
    write_csv_rows(header, [texts], out, dialect=dialect, timezone=BERLIN)
    written = out.getvalue()
    if dialect == "excel":
        assert written.startswith("\ufeff")
        written = written[1:]
    # what the file holds on disk: UTF-8 bytes, read back with the csv module
    data = written.encode("utf-8").decode("utf-8")
    rows = list(csv.reader(io.StringIO(data, newline=""), delimiter=";" if dialect == "excel" else ","))
    assert rows == [header, [_guarded(text) for text in texts]]
