"""The pure survey engine: route through a survey (branching, jumps), progress, and the follow-ups a completed
response gets; re-exports the answer parsing and validation of `surveys.answers`, so callers need only this module.

No I/O and no state: every function gets the survey and the answers so far and returns a value. An answer
mapping holds one entry per answered question; a skipped optional question is stored as ``None`` (key present),
an unanswered question has no key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from surveys.answers import (
    NO_ID,
    YES_ID,
    AnswerError,
    AnswerErrorReason,
    answer_label,
    choice_options,
    choice_value,
    choice_value_list,
    fold,
    format_number,
    parse_number,
    parse_text_answer,
    skip_value,
)
from surveys.schema import AnswerValue, Condition, FollowUp, Question, Survey

__all__ = [
    "NO_ID",
    "YES_ID",
    "AnswerError",
    "AnswerErrorReason",
    "answer_label",
    "choice_options",
    "choice_value",
    "choice_value_list",
    "due_follow_ups",
    "first_question",
    "fold",
    "format_number",
    "is_visible",
    "next_question",
    "parse_number",
    "parse_text_answer",
    "path",
    "progress",
    "relevant_answers",
    "skip_value",
]

_NO_ANSWERS: Mapping[str, AnswerValue] = MappingProxyType({})

# --------------------------------------------------------------------------------------------------- conditions


def _same(stored: object, expected: object) -> bool:
    # Python says True == 1; an answer "yes" must not satisfy `equals: 1` on a scale, nor the reverse.
    if isinstance(stored, bool) or isinstance(expected, bool):
        return isinstance(stored, bool) and isinstance(expected, bool) and stored == expected
    if isinstance(stored, int | float) and isinstance(expected, int | float):
        return stored == expected
    if isinstance(stored, str) and isinstance(expected, str):
        return stored == expected
    return False


def _matches(condition: Condition, value: AnswerValue) -> bool:
    """Evaluate a condition against the stored answer (None = not answered or skipped)."""
    if condition.answered is not None:
        return (value is not None) == condition.answered
    if value is None:
        return False
    chosen: list[object] = list(value) if isinstance(value, list) else [value]
    if condition.any_of is not None:
        return any(_same(v, wanted) for v in chosen for wanted in condition.any_of)
    return any(_same(v, condition.equals) for v in chosen)


def _holds(condition: Condition, known: Mapping[str, AnswerValue], pending: frozenset[str] | set[str]) -> bool | None:
    """True/False when decidable; None when it depends on a question still ahead on the route (`pending`)."""
    if condition.question in pending and condition.question not in known:
        return None
    return _matches(condition, known.get(condition.question))


def _shown(show_if: Condition | None, answers: Mapping[str, AnswerValue]) -> bool:
    return show_if is None or _matches(show_if, answers.get(show_if.question))


def is_visible(survey: Survey, question: Question, answers: Mapping[str, AnswerValue]) -> bool:
    """Whether `question`'s show_if holds for these answers (always true without show_if)."""
    del survey  # part of the signature so callers need not know that conditions only look at answers
    return _shown(question.show_if, answers)


# --------------------------------------------------------------------------------------------------- route


def _index(survey: Survey, question_id: str) -> int:
    for index, question in enumerate(survey.questions):
        if question.id == question_id:
            return index
    raise KeyError(f"survey '{survey.id}' has no question '{question_id}'")


def _first_visible_from(
    survey: Survey, start: int, known: Mapping[str, AnswerValue], pending: frozenset[str] | set[str] = frozenset()
) -> int | None:
    for index in range(start, len(survey.questions)):
        condition = survey.questions[index].show_if
        # An undecidable show_if counts as shown: progress then never under-estimates the remaining questions.
        if condition is None or _holds(condition, known, pending) is not False:
            return index
    return None


def _step(
    survey: Survey, index: int, known: Mapping[str, AnswerValue], pending: frozenset[str] | set[str] = frozenset()
) -> int | None:
    """Index of the question after `index` (jumps first, then file order), or None at the end."""
    start = index + 1
    for jump in survey.questions[index].jumps:
        # An undecidable jump is assumed not taken (the longer route) when estimating progress.
        if _holds(jump.when, known, pending) is True:
            if jump.to == "end":
                return None
            # The target is where the search continues: a target whose show_if fails is passed over like any other.
            start = _index(survey, jump.to)
            break
    return _first_visible_from(survey, start, known, pending)


def _walk(survey: Survey, answers: Mapping[str, AnswerValue]) -> Iterator[tuple[int, dict[str, AnswerValue]]]:
    """Yield (index, answers on the route before it) along the route, ending with the first unanswered question.

    Only answers of questions actually on the route count: a stale answer of a question the citizen no longer
    passes (after changing an earlier answer) never steers the route.
    """
    known: dict[str, AnswerValue] = {}
    current = _first_visible_from(survey, 0, known)
    while current is not None:
        question = survey.questions[current]
        yield current, dict(known)
        if question.id not in answers:
            return
        known[question.id] = answers[question.id]
        current = _step(survey, current, known)


def first_question(survey: Survey, answers: Mapping[str, AnswerValue] = _NO_ANSWERS) -> Question | None:
    """The first question whose show_if holds (None if there is none)."""
    index = _first_visible_from(survey, 0, answers)
    return None if index is None else survey.questions[index]


def next_question(survey: Survey, current_id: str, answers: Mapping[str, AnswerValue]) -> Question | None:
    """The question after `current_id` was answered: its jumps (first match wins, 'end' → None), else the next
    question in file order whose show_if holds. None means the survey is finished."""
    index = _index(survey, current_id)
    known: dict[str, AnswerValue] | None = None
    for route_index, before in _walk(survey, answers):
        if route_index == index:
            known = before
            if current_id in answers:
                known[current_id] = answers[current_id]
            break
    if known is None:
        # `current_id` is not on the route these answers give (the caller's state is inconsistent): go on
        # from it with all answers rather than failing the citizen.
        known = dict(answers)
    following = _step(survey, index, known)
    return None if following is None else survey.questions[following]


def path(survey: Survey, answers: Mapping[str, AnswerValue]) -> list[str]:
    """Question ids on the route the answers determine, up to and including the first unanswered one."""
    return [survey.questions[index].id for index, _ in _walk(survey, answers)]


def progress(survey: Survey, current_id: str, answers: Mapping[str, AnswerValue]) -> tuple[int, int]:
    """(1-based position of the current question, expected total on the current route).

    Answers from `current_id` on are treated as still open (the citizen may be re-answering after going back);
    show_if questions that depend on them count as shown, jumps that depend on them as not taken.
    """
    index = _index(survey, current_id)
    route: list[int] = []
    known: dict[str, AnswerValue] = {}
    for route_index, before in _walk(survey, answers):
        if route_index == index:
            known = before
            break
        route.append(route_index)
    else:
        # Not on the route (inconsistent state): count everything answered before it in file order.
        route = [i for i in range(index) if survey.questions[i].id in answers]
        known = {survey.questions[i].id: answers[survey.questions[i].id] for i in route}
    position = len(route) + 1
    pending = {current_id}
    remaining = 0
    following = _step(survey, index, known, pending)
    while following is not None:
        remaining += 1
        pending.add(survey.questions[following].id)
        following = _step(survey, following, known, pending)
    return position, position + remaining


def relevant_answers(survey: Survey, answers: Mapping[str, AnswerValue]) -> dict[str, AnswerValue]:
    """The answers of questions still on the route (drops those a changed branching answer made obsolete)."""
    return {qid: answers[qid] for qid in path(survey, answers) if qid in answers}


# --------------------------------------------------------------------------------------------------- follow-ups


def due_follow_ups(survey: Survey, answers: Mapping[str, AnswerValue]) -> list[FollowUp]:
    """The follow-ups to offer when a response with these answers is completed: those whose show_if holds, in
    file order. Only answers on the response's route count (like branching); answers to follow-ups are ignored."""
    known = relevant_answers(survey, answers)
    return [follow_up for follow_up in survey.follow_ups if _shown(follow_up.show_if, known)]
