"""Staff try a survey in the terminal: typed answers, skipping, going back, errors and the final summary."""

from __future__ import annotations

from collections.abc import Iterable

from surveys.loader import load_survey
from surveys.preview import preview
from surveys.schema import Survey
from tests.surveys.conftest import LIBRARY


class Terminal:
    """Plays the staff member: types the scripted lines, then presses Ctrl-D; records everything printed."""

    def __init__(self, typed: Iterable[str]) -> None:
        self._typed = iter(typed)
        self.lines: list[str] = []

    def read(self, prompt: str) -> str:
        assert prompt == "> "
        try:
            return next(self._typed)
        except StopIteration:
            raise EOFError from None

    def write(self, text: str) -> None:
        self.lines.append(text)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def run(survey: Survey, typed: list[str], lang: str = "de") -> tuple[dict[str, object], Terminal]:
    terminal = Terminal(typed)
    answers = preview(survey, lang, terminal.read, terminal.write)
    return dict(answers), terminal


def test_complete_walk_through_shows_progress_and_summary(commute_survey: Survey) -> None:
    answers, terminal = run(commute_survey, ["1, 2", "4", "ja", "12,5", "nein", "Mehr Busse"])
    assert answers == {
        "modes": ["bus", "rad"],
        "bus_rating": 4,
        "cycles": True,
        "km": 12.5,
        "done": False,
        "comment": "Mehr Busse",
    }
    assert "Frage 1 von 6" in terminal.lines
    assert "  2. Rad" in terminal.lines
    assert "- Wie viele km? → 12,5" in terminal.lines
    assert "Vorschau abgebrochen." not in terminal.output


def test_intro_and_closing_texts_are_shown() -> None:
    survey = load_survey(LIBRARY / "klimaanpassung.yaml")
    _, terminal = run(survey, ["2", "nein", "1", "1", "-", "-"])
    assert terminal.lines[0] == "== Klimaanpassung und Starkregen =="
    assert "Juli 2021" in terminal.lines[1]
    assert any("Klimaanpassungskonzept" in line for line in terminal.lines)


def test_optional_question_is_skipped_with_a_dash(commute_survey: Survey) -> None:
    answers, terminal = run(commute_survey, ["3", "nein", "-"])
    assert answers == {"modes": ["auto"], "cycles": False, "comment": None}
    assert "- Sonst noch etwas? → (übersprungen)" in terminal.lines


def test_required_question_cannot_be_skipped(commute_survey: Survey) -> None:
    answers, terminal = run(commute_survey, ["-", "3", "nein", "-"])
    assert "Diese Frage ist Pflicht und kann nicht übersprungen werden." in terminal.lines
    assert answers["modes"] == ["auto"]


def test_wrong_answer_is_explained_and_the_question_asked_again(commute_survey: Survey) -> None:
    _, terminal = run(commute_survey, ["7"])
    assert "„7“ passt zu keiner Antwort. Bitte eine Nummer von 1 bis 3 oder den Text." in terminal.lines
    assert terminal.lines.count("Frage 1 von 6") == 2


def test_going_back_shows_the_previous_answer_and_drops_answers_off_the_new_route(commute_survey: Survey) -> None:
    answers, terminal = run(commute_survey, ["1", "2", "<", "<", "3", "nein", "fertig"])
    assert "Bisherige Antwort: Bus" in terminal.lines
    assert answers == {"modes": ["auto"], "cycles": False, "comment": "fertig"}


def test_going_back_from_the_first_question_says_so(commute_survey: Survey) -> None:
    _, terminal = run(commute_survey, ["<"])
    assert "Das ist schon die erste Frage." in terminal.lines


def test_end_of_input_stops_cleanly_with_the_answers_so_far(commute_survey: Survey) -> None:
    answers, terminal = run(commute_survey, ["3"])
    assert answers == {"modes": ["auto"]}
    assert terminal.lines[-1] == "Vorschau abgebrochen."


def test_preview_in_english() -> None:
    survey = load_survey(LIBRARY / "digitale-verwaltung.yaml")
    answers, terminal = run(survey, ["yes", "5", "Registering a change of address", "1", "-", "-"], lang="en")
    assert answers["termin_online"] is True
    assert answers["anliegen"] == ["ummelden"]
    assert "Question 1 of 7" in terminal.lines
    assert "hilfe" not in answers  # "nothing is hard" jumps past the support question
    assert "- How old are you? (optional) → (skipped)" in terminal.lines
