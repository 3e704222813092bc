"""Variable names every tool accepts, and option codes that never change between survey versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.analytics.names import is_valid, variable_name
from surveys.codes import code_conflicts, option_codes
from surveys.schema import Survey


@given(st.lists(st.text(max_size=80), max_size=30))
def test_variable_names_are_always_valid_and_unique(raws: list[str]) -> None:
    taken: set[str] = set()
    names = [variable_name(raw, taken) for raw in raws]
    assert all(is_valid(name) for name in names)
    assert len({name.lower() for name in names}) == len(names)


def test_ids_are_mapped_readably() -> None:
    taken: set[str] = set()
    assert variable_name("2-rad", taken) == "q_2_rad"
    assert variable_name("größe", taken) == "groesse"
    assert variable_name("and", taken) == "and_v"
    assert variable_name("2_rad", taken) == "q_2_rad_2"


def _survey(options: list[dict[str, Any]]) -> Survey:
    return Survey.model_validate({"id": "s", "title": "S", "questions": [
        {"id": "q", "type": "single_choice", "text": "Q", "options": options}]})


def _opt(oid: str, code: int | None = None) -> dict[str, Any]:
    return {"id": oid, "text": oid} | ({"code": code} if code is not None else {})


def test_codes_stay_when_a_new_version_adds_or_reorders_options() -> None:
    v1 = _survey([_opt("a"), _opt("b"), _opt("c")])
    v2 = _survey([_opt("new"), _opt("c"), _opt("a"), _opt("b")])
    assert option_codes([v1]) == {"q": {"a": 1, "b": 2, "c": 3}}
    assert option_codes([v1, v2]) == {"q": {"a": 1, "b": 2, "c": 3, "new": 4}}
    assert code_conflicts([v1, v2]) == []


def test_explicit_codes_win_and_automatic_ones_step_around_them() -> None:
    survey = _survey([_opt("a"), _opt("b", 1), _opt("c", 5)])
    assert option_codes([survey]) == {"q": {"a": 2, "b": 1, "c": 5}}


def test_conflicting_codes_are_named() -> None:
    v1 = _survey([_opt("a"), _opt("b")])
    changed = _survey([_opt("a", 7), _opt("b")])
    assert "had code 1 before" in code_conflicts([v1, changed])[0]
    twice = _survey([_opt("a", 3), _opt("b", 3)])
    assert "both have code 3" in code_conflicts([twice])[0]
    taken = _survey([_opt("a"), _opt("b"), _opt("c", 2)])
    assert code_conflicts([v1, taken]) and option_codes([v1, taken])["q"]["b"] == 2


def test_an_option_without_code_keeps_the_old_content_hash() -> None:
    survey = _survey([_opt("a"), _opt("b")])
    assert "code" not in survey.model_dump(mode="json")["questions"][0]["options"][0]


def test_import_refuses_a_version_whose_codes_conflict(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.storage.db import Database
    from bot.survey_sync import import_surveys

    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    folder = tmp_path / "surveys"
    folder.mkdir()
    base = "id: s\ntitle: S\nquestions:\n  - id: q\n    type: single_choice\n    text: Q\n    options:\n"
    (folder / "s.yaml").write_text(base + "      - {id: a, text: A}\n      - {id: b, text: B}\n")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    assert import_surveys(db, folder, set(), now).imported == [("s", 1, True)]
    (folder / "s.yaml").write_text(base + "      - {id: a, text: A, code: 2}\n      - {id: b, text: B}\n")
    report = import_surveys(db, folder, set(), now)
    assert report.imported == [] and "had code 1 before" in str(report.problems[0])
    with db.unit_of_work() as uow:
        assert [v.version for v in uow.surveys.versions()] == [1]
    db.dispose()
