"""Why a cell is filled or empty: the status of every question of one response (pure).

The route comes from the survey engine (`surveys.engine.path`), so branching (show_if, jumps) is judged exactly as
the citizen experienced it:
- answered / skipped: on the route and answered (a stored None is a skip);
- not_shown: not on the route, and the citizen got past where it would have been (finished, or an unfinished
  response whose current question comes after it) — also a stale answer that a changed earlier answer left off
  the route;
- not_reached: the response is unfinished and the question is the current one or after it;
- not_offered: the version the response answered lacks the question (decided by the table, which knows all
  versions).
Follow-ups: answered / skipped when an answer is stored, else not_reached when the question was sent, else
not_asked (not due yet, no opt-in, or the response did not qualify).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.analytics.model import Status
from bot.analytics.query import FOLLOW_UP_SENT
from surveys.engine import path
from surveys.schema import AnswerValue, Survey


def question_statuses(survey: Survey, completed: bool, answers: Mapping[str, AnswerValue]) -> dict[str, Status]:
    """Status of each question of `survey` (the version this response answered), by question id."""
    route = path(survey, answers)
    on_route = set(route)
    position = {question.id: index for index, question in enumerate(survey.questions)}
    # The first unanswered question on the route is where an unfinished response stands.
    current = next((qid for qid in route if qid not in answers), None)
    current_index = position[current] if current is not None else len(survey.questions)
    statuses: dict[str, Status] = {}
    for index, question in enumerate(survey.questions):
        qid = question.id
        if qid in on_route and qid in answers:
            statuses[qid] = Status.SKIPPED if answers[qid] is None else Status.ANSWERED
        elif qid in on_route:
            statuses[qid] = Status.NOT_REACHED  # the current question (or a completed response missing it)
        elif completed or index < current_index:
            statuses[qid] = Status.NOT_SHOWN
        else:
            statuses[qid] = Status.NOT_REACHED
    return statuses


def follow_up_status(follow_up_id: str, answers: Mapping[str, AnswerValue], state: str | None) -> Status:
    """Status of one follow-up question the response's version has; `state` from `ResponseRecord.follow_ups`."""
    if follow_up_id in answers:
        return Status.SKIPPED if answers[follow_up_id] is None else Status.ANSWERED
    if state == FOLLOW_UP_SENT:
        return Status.NOT_REACHED
    return Status.NOT_ASKED
