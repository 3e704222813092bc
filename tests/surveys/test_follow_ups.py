"""Follow-up questions: declared in the survey file, checked like questions, offered after a completed response."""

from __future__ import annotations

import hashlib
import json
import textwrap
from typing import Any

import pytest

from surveys.engine import (
    AnswerError,
    answer_label,
    choice_options,
    choice_value,
    due_follow_ups,
    parse_text_answer,
    skip_value,
)
from surveys.loader import content_hash, load_survey, load_survey_text
from surveys.schema import FollowUp, Question, QuestionType, Survey
from tests.surveys.conftest import LIBRARY, build_survey, only_problem, options, problems_of

PARKEN = textwrap.dedent(
    """\
    id: parken
    title: Parken im Quartier
    questions:
      - id: auto
        type: yes_no
        text: Haben Sie ein Auto?
      - id: wege
        type: multiple_choice
        text: Wie sind Sie unterwegs?
        options:
          - {id: bus, text: Bus}
          - {id: rad, text: Rad}
          - {id: fuss, text: Zu Fuß}
    follow_ups:
      - id: gefunden
        after_days: 3
        show_if: {question: auto, equals: true}
        topic:
          de: ob Sie einen Parkplatz gefunden haben
          en: whether you found a parking space
        intro: Vor drei Tagen haben Sie an unserer Umfrage teilgenommen.
        question:
          type: yes_no
          text: Haben Sie inzwischen einen Parkplatz gefunden?
    """
)
"""Line 15 is the follow-up's `- id:`, 16 `after_days`, 17 `show_if`, 19 the topic's `de:`, 23 `question`; 25 is the
first line `with_question_lines` adds."""


def with_question_lines(*lines: str) -> str:
    """PARKEN with extra keys under the follow-up's `question:` block."""
    return PARKEN + "".join(f"      {line}\n" for line in lines)


# --------------------------------------------------------------------------------------------------- the file


def test_follow_up_loads_with_its_timing_condition_topic_and_question() -> None:
    survey = load_survey_text(PARKEN, "parken.yaml")
    [follow_up] = survey.follow_ups
    assert (follow_up.id, follow_up.after_days) == ("gefunden", 3)
    assert follow_up.show_if is not None and follow_up.show_if.question == "auto"
    assert follow_up.topic.get("de") == "ob Sie einen Parkplatz gefunden haben"
    assert follow_up.topic.get("en") == "whether you found a parking space"
    assert follow_up.intro is not None and follow_up.intro.get("en").startswith("Vor drei Tagen")
    assert follow_up.question.type is QuestionType.YES_NO


def test_follow_up_question_takes_the_follow_up_id() -> None:
    follow_up = load_survey_text(PARKEN, "parken.yaml").follow_ups[0]
    assert follow_up.question.id == follow_up.id == "gefunden"
    assert isinstance(follow_up.question, Question), "the answer functions take it like any question"


def test_follow_up_question_may_repeat_its_id_when_it_is_the_same() -> None:
    survey = load_survey_text(with_question_lines("id: gefunden"), "parken.yaml")
    assert survey.follow_ups[0].question.id == "gefunden"


def test_survey_without_follow_ups_has_none() -> None:
    survey = build_survey({"id": "q", "type": "yes_no", "text": "Frage?"})
    assert survey.follow_ups == []
    assert survey.follow_up("q") is None


def test_follow_up_is_found_by_its_id() -> None:
    survey = load_survey_text(PARKEN, "parken.yaml")
    assert survey.follow_up("gefunden") is survey.follow_ups[0]
    assert survey.follow_up("auto") is None, "a question is not a follow-up"


def test_every_question_type_can_be_a_follow_up() -> None:
    questions: list[dict[str, Any]] = [
        {"type": "single_choice", "text": "Welche?", "options": options("a", "b")},
        {"type": "multiple_choice", "text": "Welche?", "options": options("a", "b", "c"), "max_choices": 2},
        {"type": "scale", "text": "Wie gut?", "scale": {"min": 0, "max": 10}},
        {"type": "yes_no", "text": "Ja?"},
        {"type": "number", "text": "Wie viele?", "min": 0, "max": 9, "integer": True},
        {"type": "free_text", "text": "Was?", "max_length": 300, "required": False},
    ]
    survey = build_survey(
        {"id": "q", "type": "yes_no", "text": "Frage?"},
        follow_ups=[
            {"id": f"f{number}", "after_days": number + 1, "topic": "ob es passt", "question": question}
            for number, question in enumerate(questions)
        ],
    )
    assert [f.question.type.value for f in survey.follow_ups] == [q["type"] for q in questions]


def test_survey_with_follow_ups_survives_the_database_round_trip() -> None:
    """survey_sync stores model_dump(mode="json") as the definition and validates it again when loading."""
    survey = load_survey_text(PARKEN, "parken.yaml")
    stored = json.loads(json.dumps(survey.model_dump(mode="json")))
    again = Survey.model_validate(stored)
    assert again == survey
    assert content_hash(again) == content_hash(survey)


def test_surveys_without_follow_ups_keep_their_fingerprint() -> None:
    """Adding follow-ups to the format must not turn every imported survey into a new version."""
    survey = build_survey({"id": "q", "type": "yes_no", "text": "Frage?", "options": []})
    before_follow_ups = {key: value for key, value in survey.model_dump(mode="json").items() if key != "follow_ups"}
    canonical = json.dumps(before_follow_ups, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(survey) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_adding_a_follow_up_changes_the_fingerprint() -> None:
    without = PARKEN[: PARKEN.index("follow_ups:")]
    assert content_hash(load_survey_text(PARKEN, "a.yaml")) != content_hash(load_survey_text(without, "a.yaml"))


# --------------------------------------------------------------------------------------------------- mistakes


def test_show_if_on_an_unknown_question_names_the_field_and_line() -> None:
    problem = only_problem(PARKEN.replace("{question: auto, equals: true}", "{question: autos, equals: true}"))
    assert str(problem) == "parken.yaml:17: follow_ups[0].show_if.question: no question has the id 'autos'"


def test_show_if_on_a_value_that_is_not_an_option_is_reported() -> None:
    problem = only_problem(PARKEN.replace("{question: auto, equals: true}", "{question: wege, equals: busse}"))
    assert (problem.line, problem.field) == (17, "follow_ups[0].show_if.equals")
    assert "'busse' is not an option id of question 'wege' (options: bus, rad, fuss)" in problem.message


def test_show_if_any_of_checks_every_value() -> None:
    problem = only_problem(PARKEN.replace("{question: auto, equals: true}", "{question: wege, any_of: [bus, auto]}"))
    assert (problem.line, problem.field) == (17, "follow_ups[0].show_if.any_of[1]")


def test_show_if_on_a_yes_no_question_must_compare_with_true_or_false() -> None:
    problem = only_problem(PARKEN.replace("equals: true}", "equals: ja}"))
    assert problem.field == "follow_ups[0].show_if.equals"
    assert "true or false" in problem.message


def test_show_if_cannot_test_another_follow_up() -> None:
    second = textwrap.indent(
        "- id: zweite\n  after_days: 7\n  show_if: {question: gefunden, equals: true}\n  topic: ob es passt\n"
        "  question: {type: yes_no, text: Passt es}\n",
        "  ",
    )
    problem = only_problem(PARKEN + second)
    assert (problem.line, problem.field) == (27, "follow_ups[1].show_if.question")
    assert "'gefunden' is a follow-up" in problem.message


def test_follow_up_id_used_by_a_question_is_reported() -> None:
    problem = only_problem(PARKEN.replace("id: gefunden", "id: wege"))
    assert str(problem) == "parken.yaml:15: follow_ups[0].id: id 'wege' is already used by questions[1]"


def test_follow_up_id_used_twice_is_reported_at_the_second() -> None:
    second = "  - id: gefunden\n    after_days: 7\n    topic: ob es passt\n    question: {type: yes_no, text: x}\n"
    problem = only_problem(PARKEN + second)
    assert str(problem) == "parken.yaml:25: follow_ups[1].id: id 'gefunden' is already used by follow_ups[0]"


def test_follow_up_id_end_is_reserved() -> None:
    problem = only_problem(PARKEN.replace("id: gefunden", "id: end"))
    assert (problem.line, problem.field) == (15, "follow_ups[0].id")


@pytest.mark.parametrize("days", ["0", "366", "-3", "2.5", "drei", "true"])
def test_after_days_outside_one_to_365_whole_days_is_reported(days: str) -> None:
    problem = only_problem(PARKEN.replace("after_days: 3", f"after_days: {days}"))
    assert (problem.line, problem.field) == (16, "follow_ups[0].after_days")
    assert "whole number from 1 to 365" in problem.message


@pytest.mark.parametrize("days", [1, 365])
def test_after_days_bounds_are_allowed(days: int) -> None:
    survey = load_survey_text(PARKEN.replace("after_days: 3", f"after_days: {days}"), "parken.yaml")
    assert survey.follow_ups[0].after_days == days


def test_missing_after_days_and_topic_are_reported_on_the_follow_up() -> None:
    text = PARKEN.replace("    after_days: 3\n", "").replace("    topic:\n      de: ob Sie", "    x:\n      de: ob Sie")
    fields = {(p.line, p.field, p.message) for p in problems_of(text)}
    assert (15, "follow_ups[0].after_days", "is missing (required)") in fields
    assert (15, "follow_ups[0].topic", "is missing (required)") in fields


def test_jump_inside_a_follow_up_is_rejected_with_a_clear_error() -> None:
    problem = only_problem(
        with_question_lines("jumps:", "  - when: {question: gefunden, equals: false}", "    to: end")
    )  # line 26: the list under `jumps:`
    assert (problem.line, problem.field) == (26, "follow_ups[0].question.jumps")
    assert "a follow-up question cannot jump" in problem.message


def test_show_if_inside_a_follow_up_question_is_rejected() -> None:
    problem = only_problem(with_question_lines("show_if: {question: auto, equals: true}"))
    assert (problem.line, problem.field) == (25, "follow_ups[0].question.show_if")
    assert "put 'show_if' on the follow-up" in problem.message


def test_follow_up_question_with_another_id_is_rejected() -> None:
    problem = only_problem(with_question_lines("id: anders"))
    assert (problem.line, problem.field) == (23, "follow_ups[0].question")
    assert "leave out 'id: anders'" in problem.message


def test_follow_up_question_is_checked_like_any_question() -> None:
    text = PARKEN.replace(
        "      type: yes_no\n      text: Haben Sie inzwischen", "      type: single_choice\n      text: Haben"
    )
    problem = only_problem(text)
    assert (problem.line, problem.field) == (23, "follow_ups[0].question")
    assert "at least 2 options" in problem.message


def test_typo_in_a_follow_up_key_gets_a_suggestion() -> None:
    problems = problems_of(PARKEN.replace("intro:", "itnro:"))
    assert any(p.field == "follow_ups[0].itnro" and "did you mean 'intro'" in p.message for p in problems)
    problems = problems_of(with_question_lines("hepl: Ein Hinweis"))
    assert any(p.field == "follow_ups[0].question.hepl" and "did you mean 'help'" in p.message for p in problems)


def test_topic_ending_in_a_question_mark_is_rejected() -> None:
    problem = only_problem(PARKEN.replace("found a parking space", "found a parking space?"))
    assert (problem.line, problem.field) == (19, "follow_ups[0].topic")
    assert "leave out the final mark" in problem.message


def test_invalid_follow_up_id_is_reported_once() -> None:
    problem = only_problem(PARKEN.replace("id: gefunden", "id: Gefunden!"))
    assert (problem.line, problem.field) == (15, "follow_ups[0].id")


def test_infinite_number_bound_in_a_follow_up_question_is_reported() -> None:
    text = PARKEN.replace(
        "type: yes_no\n      text: Haben Sie inzwischen", "type: number\n      max: .inf\n      text: Wie"
    )
    problem = only_problem(text)
    assert problem.field == "follow_ups[0].question.max"


def test_all_follow_up_problems_are_reported_at_once() -> None:
    text = PARKEN.replace("after_days: 3", "after_days: 0").replace("equals: true}", "equals: vielleicht}")
    text = text.replace("id: gefunden", "id: auto")
    assert {p.field for p in problems_of(text)} >= {
        "follow_ups[0].id",
        "follow_ups[0].show_if.equals",
        "follow_ups[0].after_days",
    }


# --------------------------------------------------------------------------------------------------- due follow-ups


def commute_with_follow_ups(*follow_ups: dict[str, Any]) -> Survey:
    return build_survey(
        {"id": "modes", "type": "multiple_choice", "text": "Wie?", "options": options("bus", "rad", "auto")},
        {
            "id": "rating",
            "type": "scale",
            "text": "Wie gut ist der Bus?",
            "show_if": {"question": "modes", "equals": "bus"},
        },
        {"id": "comment", "type": "free_text", "text": "Sonst?", "required": False},
        follow_ups=[
            {"after_days": 3, "topic": "ob es besser ist", "question": {"type": "yes_no", "text": "Besser?"}} | f
            for f in follow_ups
        ],
    )


def ids(follow_ups: list[FollowUp]) -> list[str]:
    return [follow_up.id for follow_up in follow_ups]


def test_follow_up_without_condition_is_always_due() -> None:
    survey = commute_with_follow_ups({"id": "immer"})
    assert ids(due_follow_ups(survey, {"modes": ["rad"], "comment": None})) == ["immer"]


def test_multiple_choice_equals_holds_when_the_option_was_among_the_chosen() -> None:
    survey = commute_with_follow_ups({"id": "busfahrer", "show_if": {"question": "modes", "equals": "bus"}})
    assert ids(due_follow_ups(survey, {"modes": ["bus", "rad"], "rating": 4, "comment": "x"})) == ["busfahrer"]
    assert due_follow_ups(survey, {"modes": ["rad", "auto"], "comment": None}) == []


def test_multiple_choice_any_of_holds_for_any_chosen_option() -> None:
    survey = commute_with_follow_ups({"id": "motor", "show_if": {"question": "modes", "any_of": ["auto", "bus"]}})
    assert ids(due_follow_ups(survey, {"modes": ["auto"], "comment": None})) == ["motor"]
    assert due_follow_ups(survey, {"modes": ["rad"], "comment": None}) == []


def test_scale_any_of_selects_the_dissatisfied() -> None:
    survey = commute_with_follow_ups({"id": "unzufrieden", "show_if": {"question": "rating", "any_of": [1, 2]}})
    assert ids(due_follow_ups(survey, {"modes": ["bus"], "rating": 2, "comment": None})) == ["unzufrieden"]
    assert due_follow_ups(survey, {"modes": ["bus"], "rating": 3, "comment": None}) == []


def test_condition_on_a_question_that_was_not_asked_does_not_hold() -> None:
    survey = commute_with_follow_ups(
        {"id": "bewertet", "show_if": {"question": "rating", "answered": True}},
        {"id": "ohne", "show_if": {"question": "rating", "answered": False}},
    )
    assert ids(due_follow_ups(survey, {"modes": ["rad"], "comment": None})) == ["ohne"]
    assert ids(due_follow_ups(survey, {"modes": ["bus"], "rating": 5, "comment": None})) == ["bewertet"]


def test_stale_answer_off_the_route_does_not_make_a_follow_up_due() -> None:
    """The citizen rated the bus, then went back and said they only cycle: the rating no longer counts."""
    survey = commute_with_follow_ups({"id": "unzufrieden", "show_if": {"question": "rating", "equals": 1}})
    assert due_follow_ups(survey, {"modes": ["rad"], "rating": 1, "comment": None}) == []


def test_due_follow_ups_come_in_file_order_and_ignore_follow_up_answers() -> None:
    survey = commute_with_follow_ups(
        {"id": "erste"}, {"id": "zweite", "show_if": {"question": "modes", "equals": "rad"}}
    )
    answers = {"modes": ["rad"], "comment": None, "erste": True}
    assert ids(due_follow_ups(survey, answers)) == ["erste", "zweite"]


def test_follow_up_answer_is_parsed_like_a_question_answer() -> None:
    survey = load_survey(LIBRARY / "mobilitaet-quartier.yaml")
    follow_up = survey.follow_ups[0]
    question = follow_up.question
    assert parse_text_answer(question, "2") == "gleich"
    assert parse_text_answer(question, "gleich geblieben") == "gleich"
    assert parse_text_answer(question, "worse") == "schlechter"
    assert choice_value(question, ["besser"]) == "besser"
    assert [option_id for option_id, _ in choice_options(question, "en")] == [o.id for o in question.options]
    assert answer_label(question, "besser", "en") == "Better"
    with pytest.raises(AnswerError):
        skip_value(question)


def test_library_mobility_follow_up_asks_dissatisfied_riders_after_two_weeks() -> None:
    survey = load_survey(LIBRARY / "mobilitaet-quartier.yaml")
    [follow_up] = survey.follow_ups
    assert follow_up.after_days == 14
    assert follow_up.topic.de.startswith("ob ") and follow_up.topic.en and follow_up.topic.en.startswith("whether ")
    assert follow_up.question.text.en and all(option.text.en for option in follow_up.question.options)
    rider = {"bezirk": "barmen", "unterwegs": ["bus"], "oepnv_zufrieden": 1, "haltestelle_minuten": 5}
    rider |= {"mehr_rad": False, "verbesserung": None}
    assert due_follow_ups(survey, rider) == [follow_up]
    assert due_follow_ups(survey, rider | {"oepnv_zufrieden": 4}) == []
    walker = {k: v for k, v in rider.items() if k != "oepnv_zufrieden"} | {"unterwegs": ["fuss"]}
    assert due_follow_ups(survey, walker) == []


def test_documentation_follow_up_example_is_valid() -> None:
    docs = (LIBRARY.parents[1] / "docs" / "surveys.md").read_text(encoding="utf-8")
    start = docs.index("```yaml\nfollow_ups:") + len("```yaml\n")
    mobility = (LIBRARY / "mobilitaet-quartier.yaml").read_text(encoding="utf-8")
    survey = load_survey_text(
        mobility[: mobility.index("\nfollow_ups:")] + "\n" + docs[start : docs.index("```", start)], "docs.yaml"
    )
    [follow_up] = survey.follow_ups
    assert (follow_up.id, follow_up.after_days, len(follow_up.question.options)) == ("oepnv_seitdem", 14, 3)


@pytest.mark.parametrize(("follow_up_id", "message"), [("q", "already used"), ("end", "reserved for jumps")])
def test_schema_itself_refuses_a_follow_up_id_that_is_taken_or_reserved(follow_up_id: str, message: str) -> None:
    """Definitions read back from the database are validated without the loader's checks."""
    with pytest.raises(ValueError, match=message):
        build_survey(
            {"id": "q", "type": "yes_no", "text": "Frage?"},
            follow_ups=[
                {"id": follow_up_id, "after_days": 2, "topic": "ob", "question": {"type": "yes_no", "text": "?"}}
            ],
        )
