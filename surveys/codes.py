"""Numeric option codes for analyst exports, stable across the versions of a survey.

SPSS keeps value labels only for numbers, so every option of a choice question gets an integer: the `code:` the
survey file gives, else the smallest positive integer still free in that question when the option first appears.
Versions are walked in ascending order and a code, once given, is never taken back — so a new version that appends
options never renumbers the old ones. A version that would change a code (another explicit code for an option, one
code for two options) is a conflict: `code_conflicts` names it, and the survey import refuses that version.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from surveys.schema import Question, QuestionType, Survey

_CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)


@dataclass
class _Question:
    codes: dict[str, int]  # option id → code
    owners: dict[int, str]  # code → option id


def _choice_questions(survey: Survey) -> Iterator[Question]:
    """The survey's choice questions and its follow-ups' choice questions, in file order (ids are unique)."""
    for question in survey.questions:
        if question.type in _CHOICE_TYPES:
            yield question
    for follow_up in survey.follow_ups:
        if follow_up.question.type in _CHOICE_TYPES:
            yield follow_up.question


def _assign(definitions: Sequence[Survey]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Walk the versions in order, giving codes; returns (codes, conflicts)."""
    state: dict[str, _Question] = {}
    conflicts: list[str] = []
    for position, survey in enumerate(definitions, start=1):
        where = f"version {position}" if len(definitions) > 1 else "the survey"
        for question in _choice_questions(survey):
            known = state.setdefault(question.id, _Question({}, {}))
            fresh: list[str] = []
            # Explicit codes first, so the automatic ones of the same version step around them.
            for option in question.options:
                had = known.codes.get(option.id)
                if option.code is None:
                    if had is None:
                        fresh.append(option.id)
                    continue
                if had is not None:
                    if had != option.code:
                        conflicts.append(
                            f"{where}: question '{question.id}' option '{option.id}' has code {option.code}, "
                            f"but it had code {had} before (codes must not change between versions)"
                        )
                    continue
                owner = known.owners.get(option.code)
                if owner is not None:
                    conflicts.append(
                        f"{where}: question '{question.id}' options '{owner}' and '{option.id}' both have code "
                        f"{option.code}"
                    )
                    fresh.append(option.id)  # it still needs a code of its own
                    continue
                known.codes[option.id] = option.code
                known.owners[option.code] = option.id
            code = 1
            for option_id in fresh:
                while code in known.owners:
                    code += 1
                known.codes[option_id] = code
                known.owners[code] = option_id
    return {question_id: dict(known.codes) for question_id, known in state.items()}, conflicts


def option_codes(definitions: Sequence[Survey]) -> dict[str, dict[str, int]]:
    """Question id → option id → code over every version of one survey (`definitions` in ascending version order).

    Covers the choice questions of the survey and of its follow-ups. With conflicting versions (which the import
    refuses) every option still gets a code of its own: the earlier one wins.
    """
    return _assign(definitions)[0]


def code_conflicts(definitions: Sequence[Survey]) -> list[str]:
    """Human-readable problems of the explicit codes over these versions (ascending): an option whose code changes,
    two options of one question with the same code. Empty when the codes are consistent."""
    return _assign(definitions)[1]
