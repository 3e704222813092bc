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


def commute_with_follow_up(commute_survey: Survey) -> Survey:
    definition = commute_survey.model_dump()
    definition["follow_ups"] = [
        {
            "id": "bus_besser",
            "after_days": 3,
            "show_if": {"question": "bus_rating", "any_of": [1, 2]},
            "topic": {"de": "ob der Bus besser geworden ist", "en": "whether the bus has got better"},
            "intro": {"de": "Kurze Nachfrage zu Ihrer Umfrage:", "en": "A short question about your survey:"},
            "question": {"type": "scale", "text": {"de": "Wie gut ist der Bus jetzt?", "en": "How good is it now?"}},
        },
        {
            "id": "rad_tag",
            "after_days": 1,
            "topic": "ob Sie Rad gefahren sind",
            "question": {"type": "yes_no", "text": "Rad?"},
        },
    ]
    return Survey.model_validate(definition)


def test_follow_ups_come_at_the_end_with_timing_condition_and_opt_in_question(commute_survey: Survey) -> None:
    survey = commute_with_follow_up(commute_survey)
    answers, terminal = run(survey, ["1", "2", "nein", "-", "7", "4", "ja"])
    assert answers["bus_besser"] == 4
    assert answers["rad_tag"] is True
    lines = terminal.lines
    summary = lines.index("Ihre Antworten:")
    heading = lines.index("Nach 3 Tagen, nur wenn bus_rating = 1 von 5 oder 2 von 5:")
    assert summary < heading
    assert lines[heading + 1] == (
        "Frage am Ende der Umfrage: „Darf ich Sie in 3 Tagen noch einmal kurz fragen, ob der Bus besser geworden ist?“"
    )
    assert lines[heading + 2 : heading + 5] == [
        "Kurze Nachfrage zu Ihrer Umfrage:",
        "Wie gut ist der Bus jetzt?",
        "Antworten Sie mit einer Zahl von 1 bis 5.",
    ]
    assert "Die Zahl muss zwischen 1 und 5 liegen." in lines, "a follow-up answer is checked like any answer"
    assert "→ 4 von 5" in lines
    assert "Nach 1 Tag:" in lines


def test_follow_up_the_answers_do_not_make_due_is_shown_but_not_asked(commute_survey: Survey) -> None:
    survey = commute_with_follow_up(commute_survey)
    answers, terminal = run(survey, ["3", "nein", "-", "nein"], lang="en")
    assert "bus_besser" not in answers
    assert answers["rad_tag"] is False
    heading = terminal.lines.index("After 3 days, only if bus_rating = 1 of 5 or 2 of 5:")
    assert terminal.lines[heading + 1 : heading + 4] == [
        'Question at the end of the survey: "May I briefly ask you again in 3 days whether the bus has got better?"',
        "How good is it now?",
        "(With your answers this follow-up would not have been asked.)",
    ]


def test_end_of_input_during_a_follow_up_stops_cleanly(commute_survey: Survey) -> None:
    answers, terminal = run(commute_with_follow_up(commute_survey), ["3", "nein", "-"])
    assert "rad_tag" not in answers
    assert terminal.lines[-1] == "Vorschau abgebrochen."


def test_library_follow_up_is_previewed_for_a_dissatisfied_rider() -> None:
    survey = load_survey(LIBRARY / "mobilitaet-quartier.yaml")
    answers, terminal = run(survey, ["6", "Bus", "1", "8", "nein", "-", "gleich geblieben"])
    assert answers["oepnv_seitdem"] == "gleich"
    assert "Nach 14 Tagen, nur wenn oepnv_zufrieden = 1 von 5 (sehr unzufrieden) oder 2 von 5:" in terminal.lines
