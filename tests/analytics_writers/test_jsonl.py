"""JSON Lines: one response per line, answers nested per question, read back with json."""

from __future__ import annotations

import csv
import json
import stat
from dataclasses import dataclass
from pathlib import Path

from bot.analytics.model import Codebook, Status, Variable, VarKind, VarType
from bot.analytics.writers import codebook_path, write_table
from tests.analytics_writers.table import BERLIN, CODEBOOK, FORMULA_TEXT, LONG_TEXT, ROWS


def _records(tmp_path: Path) -> list[dict[str, object]]:
    target = tmp_path / "mobil.jsonl"
    assert write_table(CODEBOOK, ROWS, "jsonl", target, timezone=BERLIN) == 3
    raw = target.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\n") and raw.count(b"\n") == 3
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def test_a_complete_response_nests_its_answers(tmp_path: Path) -> None:
    first = _records(tmp_path)[0]
    assert first == {
        "respondent": "p_0123456789abcdef",
        "response": "r_00000000000000a1",
        "version": 2,
        "campaign": "Frühjahr in Barmen",
        "channel": "telegram",
        "completed": 1,
        "started_at": "2026-03-29T01:59:30+01:00",
        "finished_at": "2026-03-29T03:00:05+02:00",
        "answers": {
            "1bus": {"status": "answered", "value": 2},
            "modes": {"status": "answered", "value": {"bus": 1, "rad": 0}, "chosen": ["bus"]},
            "temperatur": {"status": "answered", "value": -12.5},
            "idee": {
                "status": "answered",
                "value": FORMULA_TEXT,  # JSON is no spreadsheet: the text stays exact
                "field": "mobilitaet",
                "scores": {"mobilitaet": 0.8123, "umwelt": 0.0001},
            },
            "nachfrage": {"status": "answered", "value": 1, "follow_up": True},
        },
    }


def test_empty_answers_say_why(tmp_path: Path) -> None:
    _, second, third = _records(tmp_path)
    assert second["campaign"] is None
    answers = second["answers"]
    assert isinstance(answers, dict)
    assert answers["1bus"] == {"status": "skipped", "value": None}
    assert answers["modes"] == {"status": "not_shown", "value": None, "chosen": None}
    assert answers["temperatur"] == {"status": "not_offered", "value": None}
    assert answers["idee"]["value"] == LONG_TEXT
    assert answers["nachfrage"] == {"status": "not_asked", "value": None, "follow_up": True}
    assert third["finished_at"] is None and third["completed"] == 0
    assert third["answers"]["temperatur"] == {"status": "answered", "value": 1e-05}  # type: ignore[index]
    assert third["answers"]["idee"] == {  # type: ignore[index]
        "status": "not_reached",
        "value": None,
        "field": None,
        "scores": {"mobilitaet": None, "umwelt": None},
    }


def test_jsonl_is_owner_only_with_its_codebook_beside(tmp_path: Path) -> None:
    _records(tmp_path)
    target = tmp_path / "mobil.jsonl"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(codebook_path(target).stat().st_mode) == 0o600


@dataclass(frozen=True)
class CodedVariable(Variable):
    """What the shared model's Variable will carry for multiple-choice options (the option's numeric code)."""

    option_code: int | None = None


def test_option_codes_appear_once_the_table_carries_them(tmp_path: Path) -> None:
    options = tuple(
        CodedVariable(
            f"modes_{o}",
            VarKind.OPTION,
            VarType.INTEGER,
            o,
            o,
            question_id="modes",
            option_id=o,
            status_variable="modes_status",
            option_code=code,
        )
        for o, code in (("bus", 1), ("rad", 4))
    )
    status = Variable("modes_status", VarKind.STATUS, VarType.STATUS, "Status", "status", question_id="modes")
    codebook = Codebook("Wege", "modes", (*options, status))
    target = tmp_path / "modes.jsonl"
    write_table(codebook, [[1, 1, Status.ANSWERED], [0, 1, Status.ANSWERED]], "jsonl", target, timezone=BERLIN)
    first, second = (json.loads(line) for line in target.read_text(encoding="utf-8").splitlines())
    assert first["answers"]["modes"]["codes"] == [1, 4] and second["answers"]["modes"]["codes"] == [4]
    assert second["answers"]["modes"]["chosen"] == ["rad"]
    with open(codebook_path(target), encoding="utf-8-sig", newline="") as handle:
        rows = {row["variable"]: row for row in csv.DictReader(handle, delimiter=";")}
    assert rows["modes_rad"]["code"] == "4"
