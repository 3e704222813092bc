"""The route through a survey: show_if, jumps, progress and answers that fall off the route."""

from __future__ import annotations

import pytest

from surveys.engine import first_question, is_visible, next_question, path, progress, relevant_answers
from surveys.schema import AnswerValue, Survey
from tests.surveys.conftest import build_survey, options


def test_first_question_is_the_first_in_the_file(commute_survey: Survey) -> None:
    first = first_question(commute_survey)
    assert first is not None
    assert first.id == "modes"


def test_show_if_question_is_asked_when_its_option_was_chosen(commute_survey: Survey) -> None:
    following = next_question(commute_survey, "modes", {"modes": ["bus", "rad"]})
    assert following is not None
    assert following.id == "bus_rating"


def test_show_if_question_is_passed_over_when_its_option_was_not_chosen(commute_survey: Survey) -> None:
    following = next_question(commute_survey, "modes", {"modes": ["auto"]})
    assert following is not None
    assert following.id == "cycles"


def test_jump_skips_to_its_target(commute_survey: Survey) -> None:
    answers: dict[str, AnswerValue] = {"modes": ["auto"], "cycles": False}
    following = next_question(commute_survey, "cycles", answers)
    assert following is not None
    assert following.id == "comment"


def test_without_matching_jump_the_next_question_in_file_order_follows(commute_survey: Survey) -> None:
    following = next_question(commute_survey, "cycles", {"modes": ["auto"], "cycles": True})
    assert following is not None
    assert following.id == "km"


def test_jump_to_end_finishes_the_survey(commute_survey: Survey) -> None:
    answers: dict[str, AnswerValue] = {"modes": ["auto"], "cycles": True, "km": 4.0, "done": True}
    assert next_question(commute_survey, "done", answers) is None


def test_survey_finishes_after_the_last_question(commute_survey: Survey) -> None:
    assert next_question(commute_survey, "comment", {"modes": ["auto"], "cycles": False, "comment": None}) is None


def test_first_matching_jump_wins() -> None:
    survey = build_survey(
        {
            "id": "a",
            "type": "single_choice",
            "text": "A?",
            "options": options("x", "y"),
            "jumps": [
                {"when": {"question": "a", "answered": True}, "to": "c"},
                {"when": {"question": "a", "equals": "x"}, "to": "end"},
            ],
        },
        {"id": "b", "type": "yes_no", "text": "B?"},
        {"id": "c", "type": "yes_no", "text": "C?"},
    )
    following = next_question(survey, "a", {"a": "x"})
    assert following is not None
    assert following.id == "c"


def test_jump_target_with_failing_show_if_is_passed_over() -> None:
    survey = build_survey(
        {"id": "a", "type": "yes_no", "text": "A?", "jumps": [{"when": {"question": "a", "equals": True}, "to": "c"}]},
        {"id": "b", "type": "yes_no", "text": "B?"},
        {"id": "c", "type": "yes_no", "text": "C?", "show_if": {"question": "b", "answered": True}},
        {"id": "d", "type": "yes_no", "text": "D?"},
    )
    following = next_question(survey, "a", {"a": True})
    assert following is not None
    assert following.id == "d"


def test_condition_on_a_skipped_question_does_not_hold_for_equals_but_answered_false_does() -> None:
    survey = build_survey(
        {"id": "age", "type": "number", "text": "Alter?", "required": False},
        {"id": "equal", "type": "yes_no", "text": "?", "show_if": {"question": "age", "equals": 30}},
        {"id": "unanswered", "type": "yes_no", "text": "?", "show_if": {"question": "age", "answered": False}},
    )
    assert path(survey, {"age": None}) == ["age", "unanswered"]
    assert path(survey, {"age": 30}) == ["age", "equal"]


def test_yes_answer_does_not_count_as_scale_value_one() -> None:
    survey = build_survey(
        {"id": "ok", "type": "yes_no", "text": "?"},
        {"id": "only_if_one", "type": "free_text", "text": "?", "show_if": {"question": "ok", "equals": 1}},
        {"id": "last", "type": "free_text", "text": "?"},
    )
    assert path(survey, {"ok": True}) == ["ok", "last"]


def test_any_of_matches_any_chosen_option(commute_survey: Survey) -> None:
    survey = build_survey(
        {"id": "m", "type": "multiple_choice", "text": "?", "options": options("a", "b", "c")},
        {"id": "x", "type": "yes_no", "text": "?", "show_if": {"question": "m", "any_of": ["b", "c"]}},
    )
    question = survey.questions[1]
    assert is_visible(survey, question, {"m": ["a", "c"]})
    assert not is_visible(survey, question, {"m": ["a"]})
    assert not is_visible(survey, question, {})


def test_path_ends_with_the_first_unanswered_question(commute_survey: Survey) -> None:
    assert path(commute_survey, {}) == ["modes"]
    assert path(commute_survey, {"modes": ["bus"]}) == ["modes", "bus_rating"]
    assert path(commute_survey, {"modes": ["bus"], "bus_rating": 4, "cycles": False}) == [
        "modes",
        "bus_rating",
        "cycles",
        "comment",
    ]


def test_finished_path_has_no_open_question(commute_survey: Survey) -> None:
    answers: dict[str, AnswerValue] = {"modes": ["rad"], "cycles": True, "km": 12.0, "done": True}
    assert path(commute_survey, answers) == ["modes", "cycles", "km", "done"]


def test_changed_branching_answer_drops_answers_no_longer_on_the_route(commute_survey: Survey) -> None:
    before: dict[str, AnswerValue] = {
        "modes": ["bus"],
        "bus_rating": 2,
        "cycles": True,
        "km": 3.0,
        "done": False,
        "comment": "x",
    }
    after: dict[str, AnswerValue] = {**before, "modes": ["rad"], "cycles": False}
    assert relevant_answers(commute_survey, after) == {"modes": ["rad"], "cycles": False, "comment": "x"}


def test_stale_answer_off_the_route_does_not_steer_the_route() -> None:
    survey = build_survey(
        {"id": "a", "type": "yes_no", "text": "?"},
        {"id": "b", "type": "yes_no", "text": "?", "show_if": {"question": "a", "equals": True}},
        {"id": "c", "type": "yes_no", "text": "?", "show_if": {"question": "b", "equals": True}},
        {"id": "d", "type": "yes_no", "text": "?"},
    )
    # b was answered while a was yes; the citizen went back and said no.
    answers: dict[str, AnswerValue] = {"a": False, "b": True}
    following = next_question(survey, "a", answers)
    assert following is not None
    assert following.id == "d"


def test_progress_counts_undecided_show_if_questions_as_shown(commute_survey: Survey) -> None:
    assert progress(commute_survey, "modes", {}) == (1, 6)


def test_progress_shrinks_when_a_branch_is_decided(commute_survey: Survey) -> None:
    position, total = progress(commute_survey, "cycles", {"modes": ["auto"]})
    assert (position, total) == (2, 5)


def test_progress_after_a_decided_jump_counts_only_the_remaining_route(commute_survey: Survey) -> None:
    answers: dict[str, AnswerValue] = {"modes": ["bus"], "bus_rating": 5, "cycles": False}
    assert progress(commute_survey, "comment", answers) == (4, 4)


def test_progress_of_a_question_revisited_after_going_back_treats_its_answer_as_open(commute_survey: Survey) -> None:
    answers: dict[str, AnswerValue] = {"modes": ["auto"], "cycles": False, "comment": "x"}
    assert progress(commute_survey, "cycles", answers) == (2, 5)


def test_progress_of_a_question_off_the_route_still_gives_a_sane_position(commute_survey: Survey) -> None:
    # Inconsistent state (e.g. answers edited by hand): the citizen still sees a position within the total.
    position, total = progress(commute_survey, "km", {"modes": ["auto"]})
    assert 1 <= position <= total


def test_unknown_question_id_is_a_programming_error(commute_survey: Survey) -> None:
    with pytest.raises(KeyError):
        next_question(commute_survey, "nope", {})
