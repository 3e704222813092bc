"""The sample surveys in surveys/library can be taken from start to finish in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveys.engine import due_follow_ups, parse_text_answer
from surveys.loader import load_survey
from surveys.schema import Question, QuestionType
from tests.handlers.chat import Chat, catalog_of

LIBRARY = Path(__file__).resolve().parents[2] / "surveys" / "library"
FILES = sorted(LIBRARY.glob("*.yaml"))


def typed_answer(question: Question) -> str:
    if question.type is QuestionType.NUMBER:
        return str(int(question.min or 0))
    return "Mehr Bänke und Bäume"


@pytest.mark.skipif(not FILES, reason="no survey files in surveys/library yet")
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
@pytest.mark.parametrize("language", ["de", "en"])
def test_library_survey_can_be_completed(path: Path, language: str) -> None:
    survey = load_survey(path)
    chat = Chat(catalog_of(survey), language_hint=language)
    chat.agree()
    chat.command("umfragen")
    chat.press(f"s:{survey.id}")
    for _ in range(len(survey.questions) + 1):
        progress = chat.data["survey"]
        if progress is None:
            break
        question = survey.question(progress["current"])
        assert question is not None
        assert question.text.get(language) in chat.text
        if question.type is QuestionType.MULTIPLE_CHOICE:
            chat.press(f"t:{question.id}:{question.options[0].id}")
            chat.press(f"d:{question.id}")
        elif question.type in (QuestionType.FREE_TEXT, QuestionType.NUMBER):
            chat.say(typed_answer(question))
        else:
            chat.press(chat.last_buttons()[0].payload)
    response = chat.only_response()
    assert response.complete
    assert chat.flow == "menu"


def test_dissatisfied_bus_rider_of_the_mobility_survey_gets_its_follow_up() -> None:
    """What the dialogue stores for a completed response is what `due_follow_ups` decides on."""
    survey = load_survey(LIBRARY / "mobilitaet-quartier.yaml")
    chat = Chat(catalog_of(survey))
    chat.agree()
    chat.command("umfragen")
    chat.press(f"s:{survey.id}")
    chat.press("a:bezirk:barmen")
    chat.press("t:unterwegs:bus")
    chat.press("d:unterwegs")
    chat.press_label("1")  # very dissatisfied
    chat.say("8")
    chat.press_label("Nein")  # the jump skips the cycling question
    chat.say("Häufiger fahrende Busse")
    response = chat.only_response()
    assert response.complete
    [follow_up] = due_follow_ups(survey, response.answers)
    assert follow_up.id == "oepnv_seitdem"
    assert follow_up.id not in response.answers, "the follow-up is asked later, not during the survey"
    assert parse_text_answer(follow_up.question, "gleich geblieben") == "gleich"
    assert due_follow_ups(survey, response.answers | {"oepnv_zufrieden": 3}) == []
