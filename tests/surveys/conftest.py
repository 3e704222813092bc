"""Shared builders for survey tests: small surveys written inline, and the sample library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from surveys.loader import Problem, SurveyError, load_survey_text
from surveys.schema import Question, Survey

LIBRARY = Path(__file__).resolve().parents[2] / "surveys" / "library"
LIBRARY_FILES = sorted(LIBRARY.glob("*.yaml"))


def build_survey(*questions: dict[str, Any], **extra: Any) -> Survey:
    """A survey from question dicts (plain German texts are enough for tests)."""
    return Survey.model_validate({"id": "test", "title": "Test", "questions": list(questions), **extra})


def build_question(**fields: Any) -> Question:
    fields.setdefault("id", "q")
    fields.setdefault("text", "Frage")
    return Question.model_validate(fields)


def problems_of(text: str, filename: str = "parken.yaml") -> list[Problem]:
    """The problems the loader reports for survey YAML `text` (which must be invalid)."""
    with pytest.raises(SurveyError) as caught:
        load_survey_text(text, filename)
    assert caught.value.problems, "a SurveyError always lists at least one problem"
    return caught.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def options(*ids: str) -> list[dict[str, Any]]:
    return [{"id": option_id, "text": option_id.capitalize()} for option_id in ids]


@pytest.fixture
def commute_survey() -> Survey:
    """A survey with a show_if branch, a jump to a later question and a jump to the end."""
    return build_survey(
        {
            "id": "modes",
            "type": "multiple_choice",
            "text": "Wie sind Sie unterwegs?",
            "options": options("bus", "rad", "auto"),
        },
        {
            "id": "bus_rating",
            "type": "scale",
            "text": "Wie gut ist der Bus?",
            "show_if": {"question": "modes", "equals": "bus"},
        },
        {
            "id": "cycles",
            "type": "yes_no",
            "text": "Fahren Sie gern Rad?",
            "jumps": [{"when": {"question": "cycles", "equals": False}, "to": "comment"}],
        },
        {"id": "km", "type": "number", "text": "Wie viele km?", "min": 0, "max": 500},
        {
            "id": "done",
            "type": "yes_no",
            "text": "Fertig?",
            "jumps": [{"when": {"question": "done", "equals": True}, "to": "end"}],
        },
        {"id": "comment", "type": "free_text", "text": "Sonst noch etwas?", "required": False},
    )
