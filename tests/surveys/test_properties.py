"""Property tests: the engine always finishes a survey and picks follow-ups by their conditions, the loader never
crashes, the hash ignores layout."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.engine import (
    AnswerError,
    answer_label,
    due_follow_ups,
    first_question,
    is_visible,
    next_question,
    parse_text_answer,
    path,
    progress,
    relevant_answers,
)
from surveys.loader import SurveyError, content_hash, load_survey, load_survey_text
from surveys.schema import AnswerValue, Condition, Question, QuestionType, Survey
from tests.surveys.conftest import LIBRARY_FILES

LIBRARY_SURVEYS = [load_survey(file) for file in LIBRARY_FILES]
LIBRARY_TEXTS = [(file.name, file.read_text(encoding="utf-8")) for file in LIBRARY_FILES]
# SURVEY_EXAMPLES=2000 for a thorough run; the default keeps tests/surveys under ~20 s.
FAST = settings(
    max_examples=int(os.environ.get("SURVEY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def answers_for(question: Question) -> st.SearchStrategy[AnswerValue]:
    """Any answer the dialogue could store for this question."""
    kind = question.type
    ids = [option.id for option in question.options]
    strategy: st.SearchStrategy[Any]
    if kind is QuestionType.SINGLE_CHOICE:
        strategy = st.sampled_from(ids)
    elif kind is QuestionType.MULTIPLE_CHOICE:
        low = question.min_choices if question.min_choices is not None else 1
        high = question.max_choices or len(ids)
        strategy = st.lists(st.sampled_from(ids), min_size=low, max_size=high, unique=True).map(
            lambda chosen: [option_id for option_id in ids if option_id in chosen]
        )
    elif kind is QuestionType.SCALE:
        strategy = st.integers(question.scale_spec.min, question.scale_spec.max)
    elif kind is QuestionType.YES_NO:
        strategy = st.booleans()
    elif kind is QuestionType.NUMBER:
        low = int(question.min) if question.min is not None else -1000
        high = int(question.max) if question.max is not None else 1000
        strategy = st.integers(low, high) if question.integer else st.integers(low, high).map(float)
    else:
        strategy = st.text(min_size=1, max_size=question.text_limit).map(str.strip).filter(bool)
    return strategy if question.required else st.one_of(st.none(), strategy)


def walk(survey: Survey, data: st.DataObject) -> dict[str, AnswerValue]:
    """Answer a survey like a citizen, checking the engine's promises at every step."""
    answers: dict[str, AnswerValue] = {}
    visited: list[str] = []
    current = first_question(survey)
    while current is not None:
        assert current.id not in visited, "a question is never asked twice"
        assert len(visited) < len(survey.questions), "every route ends"
        assert is_visible(survey, current, answers)
        position, total = progress(survey, current.id, answers)
        assert position == len(visited) + 1
        assert position <= total <= len(survey.questions)
        assert path(survey, answers) == [*visited, current.id]
        visited.append(current.id)
        answers[current.id] = data.draw(answers_for(current), label=current.id)
        assert answer_label(current, answers[current.id], "de")
        current = next_question(survey, current.id, answers)
    assert path(survey, answers) == visited
    assert relevant_answers(survey, answers) == answers
    return answers


@pytest.mark.parametrize("survey", LIBRARY_SURVEYS, ids=lambda s: s.id)
@FAST
@given(data=st.data())
def test_every_route_through_a_library_survey_ends_without_repeating_a_question(
    survey: Survey, data: st.DataObject
) -> None:
    walk(survey, data)


def draw_condition(draw: st.DrawFn, questions: list[dict[str, Any]], ref: int) -> dict[str, Any]:
    """A condition on questions[ref] testing a value it can have (the loader rejects impossible values)."""
    test = draw(st.sampled_from(["equals", "any_of", "answered"]))
    if test == "answered":
        return {"question": f"q{ref}", "answered": draw(st.booleans())}
    values: list[Any] = [True, False] if questions[ref]["type"] == "yes_no" else ["a", "b", "c"]
    if test == "equals":
        return {"question": f"q{ref}", "equals": draw(st.sampled_from(values))}
    return {"question": f"q{ref}", "any_of": draw(st.lists(st.sampled_from(values), min_size=1, max_size=2))}


@st.composite
def branching_surveys(draw: st.DrawFn) -> Survey:
    """Random surveys full of show_if conditions and jumps (what staff might write)."""
    count = draw(st.integers(2, 9))
    questions: list[dict[str, Any]] = []
    for index in range(count):
        qid = f"q{index}"
        kind = draw(st.sampled_from(["yes_no", "single_choice", "multiple_choice"]))
        question: dict[str, Any] = {"id": qid, "type": kind, "text": qid, "required": draw(st.booleans())}
        if kind != "yes_no":
            question["options"] = [{"id": o, "text": o} for o in ("a", "b", "c")]

        if index and draw(st.booleans()):
            question["show_if"] = draw_condition(draw, [*questions, question], draw(st.integers(0, index - 1)))
        jumps = []
        for _ in range(draw(st.integers(0, 2))):
            to = draw(st.sampled_from(["end", *[f"q{i}" for i in range(index + 1, count)]]))
            when = draw_condition(draw, [*questions, question], draw(st.integers(0, index)))
            jumps.append({"when": when, "to": to})
        question["jumps"] = jumps
        questions.append(question)
    return Survey.model_validate({"id": "random", "title": "Zufall", "questions": questions})


@FAST
@given(survey=branching_surveys(), data=st.data())
def test_every_route_through_any_branching_survey_ends(survey: Survey, data: st.DataObject) -> None:
    answers = walk(survey, data)
    # Going back to any question and answering it differently still yields a consistent route.
    if answers:
        changed_id = data.draw(st.sampled_from(sorted(answers)))
        changed = dict(answers)
        question = survey.question(changed_id)
        assert question is not None
        changed[changed_id] = data.draw(answers_for(question))
        kept = relevant_answers(survey, changed)
        assert set(kept) <= set(changed)
        assert path(survey, kept)[: len(kept)] == list(kept)


@st.composite
def surveys_with_follow_ups(draw: st.DrawFn) -> Survey:
    """Random branching surveys with 1–4 follow-ups, most of them conditional on some question."""
    definition = draw(branching_surveys()).model_dump(mode="json")
    questions = definition["questions"]
    follow_ups: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 4))):
        follow_up: dict[str, Any] = {
            "id": f"f{number}",
            "after_days": draw(st.integers(1, 365)),
            "topic": "ob sich etwas geändert hat",
            "question": {"type": "yes_no", "text": "Hat sich etwas geändert?"},
        }
        if draw(st.integers(0, 3)):
            follow_up["show_if"] = draw_condition(draw, questions, draw(st.integers(0, len(questions) - 1)))
        follow_ups.append(follow_up)
    return Survey.model_validate(definition | {"follow_ups": follow_ups})


def holds(condition: Condition, answers: dict[str, AnswerValue]) -> bool:
    """The condition table of docs/surveys.md, read independently of the engine."""
    value = answers.get(condition.question)
    if condition.answered is not None:
        return (value is not None) == condition.answered
    chosen = value if isinstance(value, list) else [value]
    wanted = condition.any_of if condition.any_of is not None else [condition.equals]
    return value is not None and any(type(c) is type(w) and c == w for c in chosen for w in wanted)


@FAST
@given(survey=surveys_with_follow_ups(), data=st.data())
def test_due_follow_ups_are_exactly_those_whose_condition_holds_on_the_route(
    survey: Survey, data: st.DataObject
) -> None:
    answers = walk(survey, data)
    due = due_follow_ups(survey, answers)
    assert due == [f for f in survey.follow_ups if f.show_if is None or holds(f.show_if, answers)]
    # Answers to questions off the route (left over after going back) never make a follow-up due or not due.
    stale = {q.id: data.draw(answers_for(q), label=f"stale {q.id}") for q in survey.questions if q.id not in answers}
    assert due_follow_ups(survey, answers | stale) == due


@FAST
@given(value=st.integers(0, 10_000_000))
def test_integer_typed_with_german_or_english_grouping_reads_back(value: int) -> None:
    question = Question.model_validate({"id": "n", "type": "number", "text": "?", "integer": True})
    german = f"{value:,}".replace(",", ".")
    assert parse_text_answer(question, german) == value
    assert parse_text_answer(question, f"{value:,}") == value
    assert parse_text_answer(question, str(value)) == value


@FAST
@given(cents=st.integers(0, 10_000_00))
def test_decimal_typed_with_german_comma_reads_back(cents: int) -> None:
    question = Question.model_validate({"id": "n", "type": "number", "text": "?"})
    typed = f"{cents // 100},{cents % 100:02d}"
    assert parse_text_answer(question, typed) == pytest.approx(cents / 100)


@FAST
@given(text=st.text(max_size=300) | st.sampled_from(["1, 2", "ja", "1.234", "4/5", "Bus", "- 3", "12,5 km"]))
def test_any_typed_text_is_either_a_fitting_value_or_an_answer_error(text: str) -> None:
    for survey in LIBRARY_SURVEYS:
        for question in [*survey.questions, *(follow_up.question for follow_up in survey.follow_ups)]:
            try:
                value = parse_text_answer(question, text)
            except AnswerError:
                continue
            ids = [option.id for option in question.options]
            kind = question.type
            if kind is QuestionType.SINGLE_CHOICE:
                assert value in ids
            elif kind is QuestionType.MULTIPLE_CHOICE:
                assert isinstance(value, list) and value and value == [i for i in ids if i in value]
            elif kind is QuestionType.SCALE:
                assert isinstance(value, int) and question.scale_spec.min <= value <= question.scale_spec.max
            elif kind is QuestionType.YES_NO:
                assert isinstance(value, bool)
            elif kind is QuestionType.NUMBER:
                assert isinstance(value, int) and not isinstance(value, bool)  # every library number is integer
                assert question.min is not None and question.max is not None
                assert question.min <= value <= question.max
            else:
                assert isinstance(value, str) and value == value.strip() and 0 < len(value) <= question.text_limit


# --------------------------------------------------------------------------------------------------- loader

YAML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["end", "bus", "q1", "single_choice", "scale", "de", "", "ja", 0, 1, 11, -1]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def node_paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            paths += node_paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            paths += node_paths(value, (*prefix, index))
    return paths


def assert_loads_or_reports(text: str, filename: str) -> None:
    try:
        load_survey_text(text, filename)
    except SurveyError as error:
        assert error.problems
        lines = text.count("\n") + 2
        for problem in error.problems:
            assert problem.file == filename
            assert problem.line is None or 1 <= problem.line <= lines
            assert problem.message


@FAST
@given(text=st.text(max_size=400))
def test_loader_never_raises_anything_but_survey_error_on_arbitrary_text(text: str) -> None:
    assert_loads_or_reports(text, "zufall.yaml")


@FAST
@given(data=st.data())
def test_loader_never_raises_anything_but_survey_error_on_mutated_library_files(data: st.DataObject) -> None:
    name, text = data.draw(st.sampled_from(LIBRARY_TEXTS))
    document = yaml.safe_load(text)
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(node_paths(document)))
        action = data.draw(st.sampled_from(["replace", "delete", "add_key"]))
        if not target:
            document = data.draw(YAML_VALUES) if action == "replace" else document
            continue
        parent = document
        for part in target[:-1]:
            parent = parent[part]
        if action == "replace":
            parent[target[-1]] = data.draw(YAML_VALUES)
        elif action == "delete":
            del parent[target[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(["typ", "options", "show_if", "jumps", "id", "x"]))] = data.draw(
                YAML_VALUES
            )
        if not isinstance(document, dict | list):
            break
    assert_loads_or_reports(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), name)


@FAST
@given(data=st.data())
def test_loader_never_raises_anything_but_survey_error_on_damaged_library_text(data: st.DataObject) -> None:
    name, text = data.draw(st.sampled_from(LIBRARY_TEXTS))
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    insert = data.draw(st.text(alphabet=" \t\n:-[]{}&*!|>'\"#%@`,?abc0", max_size=6))
    assert_loads_or_reports(text[:start] + insert + text[end:], name)


# --------------------------------------------------------------------------------------------------- hash


def shuffled(data: Any, rng: random.Random) -> Any:
    if isinstance(data, dict):
        items = list(data.items())
        rng.shuffle(items)
        return {key: shuffled(value, rng) for key, value in items}
    if isinstance(data, list):
        return [shuffled(value, rng) for value in data]
    return data


@FAST
@given(
    file=st.sampled_from(LIBRARY_FILES),
    seed=st.integers(0, 2**32 - 1),
    indent=st.integers(2, 6),
    flow=st.sampled_from([False, None, True]),
    comments=st.lists(st.tuples(st.integers(0, 400), st.text(alphabet="abc äöü#:-", max_size=20)), max_size=6),
)
def test_content_hash_is_stable_under_key_order_layout_and_comments(
    file: Path, seed: int, indent: int, flow: bool | None, comments: list[tuple[int, str]]
) -> None:
    original = file.read_text(encoding="utf-8")
    rng = random.Random(seed)
    dumped = yaml.safe_dump(
        shuffled(yaml.safe_load(original), rng),
        allow_unicode=True,
        sort_keys=False,
        indent=indent,
        default_flow_style=flow,
        width=10**9,
    )
    lines = dumped.splitlines()
    for position, comment in comments:
        lines.insert(position % (len(lines) + 1), "" if not comment else f"# {comment}")
    variant = "\n".join(lines) + "\n"
    assert content_hash(load_survey_text(variant, file.name)) == content_hash(load_survey_text(original, file.name))
