"""How one survey question looks in a chat, and how a rejected answer is explained.

Button payloads (each ≤ 64 bytes: ids are ≤ 24 characters):
    a:<question>:<option>   answer a single-choice, scale (option = the number) or yes/no (yes|no) question
    t:<question>:<option>   tick/untick an option of a multiple-choice question
    d:<question>            "Fertig" on a multiple-choice question
    k:<question>            "Überspringen" on an optional question
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from handlers.events import Button, Outbound
from handlers.turn import Turn, clip, column
from surveys.engine import AnswerError, answer_label, choice_options, format_number, progress
from surveys.schema import AnswerValue, Question, QuestionType, Survey

ANSWER = "a"
TOGGLE = "t"
DONE = "d"
SKIP = "k"

LABEL_LIMIT = 60
"""Longest button label; longer option texts are listed in full, numbered, in the message itself."""
SCALE_ROW = 7
"""Most scale points in one row of buttons (a 0–10 scale takes two rows)."""

_WITH_OPTIONS = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.SCALE, QuestionType.YES_NO)


def payload(kind: str, question_id: str, option: str | None = None) -> str:
    """A button payload in the formats above."""
    return f"{kind}:{question_id}" if option is None else f"{kind}:{question_id}:{option}"


def render_question(
    turn: Turn,
    survey: Survey,
    question: Question,
    answers: Mapping[str, AnswerValue],
    pending: Sequence[str] = (),
    *,
    lead: str | None = None,
    replaces: str | None = None,
    numbered: bool = True,
) -> Outbound:
    """The question message: "Frage 3 von 7" (unless not `numbered`, e.g. a follow-up question), text, help, how
    to answer, the answer so far, the buttons."""
    lang = turn.lang
    paragraphs = [lead] if lead else []
    if numbered:
        position, total = progress(survey, question.id, answers)
        paragraphs.append(f"{turn.t('survey.progress', position=position, total=total)}\n{question.text.get(lang)}")
    else:
        paragraphs.append(question.text.get(lang))
    if question.help is not None:
        paragraphs.append(question.help.get(lang))
    options = choice_options(question, lang)
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE) and any(
        len(label) > LABEL_LIMIT for _, label in options
    ):
        paragraphs.append("\n".join(f"{n}. {label}" for n, (_, label) in enumerate(options, start=1)))
    paragraphs.append(_how_to_answer(turn, question))
    if question.id in answers:
        paragraphs.append(turn.t("survey.current_answer", answer=answer_label(question, answers[question.id], lang)))
    return Outbound(
        text="\n\n".join(paragraphs),
        buttons=_buttons(turn, question, pending),
        replaces=replaces,
        question=question.type in _WITH_OPTIONS,
        multi=question.type is QuestionType.MULTIPLE_CHOICE,
    )


def _how_to_answer(turn: Turn, question: Question) -> str:
    lines: list[str] = []
    kind = question.type
    if kind is QuestionType.SINGLE_CHOICE:
        lines.append(turn.t("survey.hint_single"))
    elif kind is QuestionType.MULTIPLE_CHOICE:
        lines.append(turn.t("survey.hint_multi"))
        low, high = question.min_choices or 0, question.max_choices
        if low > 1 and high is not None:
            lines.append(turn.t("survey.hint_multi_range", min=low, max=high))
        elif low > 1:
            lines.append(turn.t("survey.hint_multi_min", min=low))
        elif high is not None:
            lines.append(turn.t("survey.hint_multi_max", max=high))
    elif kind is QuestionType.SCALE:
        spec = question.scale_spec
        lines.append(turn.t("survey.hint_scale", min=spec.min, max=spec.max))
        lines += [f"{value} = {label.get(turn.lang)}" for value, label in sorted(spec.labels.items())]
    elif kind is QuestionType.YES_NO:
        lines.append(turn.t("survey.hint_yes_no"))
    elif kind is QuestionType.FREE_TEXT:
        lines.append(turn.t("survey.hint_text", max=question.text_limit))
    else:
        lines.append(_number_hint(turn, question))
    if not question.required:
        lines.append(turn.t("survey.hint_optional"))
    return "\n".join(lines)


def _number_hint(turn: Turn, question: Question) -> str:
    unit = question.unit.get(turn.lang) if question.unit else ""
    low = None if question.min is None else format_number(question.min, turn.lang)
    high = None if question.max is None else format_number(question.max, turn.lang)
    if low is not None and high is not None:
        return turn.t("survey.hint_number_range", min=low, max=f"{high} {unit}".strip())
    if low is not None:
        return turn.t("survey.hint_number_min", min=f"{low} {unit}".strip())
    if high is not None:
        return turn.t("survey.hint_number_max", max=f"{high} {unit}".strip())
    return turn.t("survey.hint_number_unit", unit=unit) if unit else turn.t("survey.hint_number")


def _buttons(turn: Turn, question: Question, pending: Sequence[str]) -> tuple[tuple[Button, ...], ...]:
    qid = question.id
    kind = question.type
    rows: tuple[tuple[Button, ...], ...] = ()
    if kind is QuestionType.SINGLE_CHOICE:
        rows = column(
            Button(payload(ANSWER, qid, oid), clip(label, LABEL_LIMIT))
            for oid, label in choice_options(question, turn.lang)
        )
    elif kind is QuestionType.MULTIPLE_CHOICE:
        rows = column(
            Button(payload(TOGGLE, qid, oid), ("✓ " if oid in pending else "") + clip(label, LABEL_LIMIT))
            for oid, label in choice_options(question, turn.lang)
        )
        rows += ((Button(payload(DONE, qid), turn.t("survey.done")),),)
    elif kind is QuestionType.SCALE:
        spec = question.scale_spec
        points = [Button(payload(ANSWER, qid, str(v)), str(v)) for v in range(spec.min, spec.max + 1)]
        per_row = math.ceil(len(points) / math.ceil(len(points) / SCALE_ROW))  # rows of (nearly) equal length
        rows = tuple(tuple(points[i : i + per_row]) for i in range(0, len(points), per_row))
    elif kind is QuestionType.YES_NO:
        rows = (tuple(Button(payload(ANSWER, qid, oid), label) for oid, label in choice_options(question, turn.lang)),)
    if not question.required:
        rows += ((Button(payload(SKIP, qid), turn.t("survey.skip")),),)
    return rows


def explain(turn: Turn, question: Question, error: AnswerError) -> str:
    """A plain-language explanation of why an answer was not accepted."""
    params = error.params
    reason = error.reason
    if reason == "required":
        return turn.t("answer_error.required")
    if reason == "unknown_option":
        count = params.get("count") or len(choice_options(question, turn.lang))
        return turn.t("answer_error.unknown_option", count=count)
    if reason == "too_few":
        return turn.t("answer_error.too_few", min=params.get("min", question.min_choices or 1))
    if reason == "too_many":
        return turn.t("answer_error.too_many", max=params.get("max", question.max_choices or len(question.options)))
    if reason == "not_a_number":
        return turn.t("answer_error.not_a_number")
    if reason == "not_an_integer":
        return turn.t("answer_error.not_an_integer")
    if reason == "out_of_range":
        return _out_of_range(turn, question)
    if reason == "too_long":
        return turn.t("answer_error.too_long", length=params.get("length", "?"), max=question.text_limit)
    if reason == "not_yes_no":
        return turn.t("answer_error.not_yes_no")
    if reason == "empty":
        return turn.t("answer_error.empty")
    return turn.t("answer_error.other")


def _out_of_range(turn: Turn, question: Question) -> str:
    if question.type is QuestionType.SCALE:
        low: float | None = question.scale_spec.min
        high: float | None = question.scale_spec.max
    else:
        low, high = question.min, question.max
    if low is not None and high is not None:
        return turn.t(
            "answer_error.out_of_range", min=format_number(low, turn.lang), max=format_number(high, turn.lang)
        )
    if low is not None:
        return turn.t("answer_error.out_of_range_min", min=format_number(low, turn.lang))
    if high is not None:
        return turn.t("answer_error.out_of_range_max", max=format_number(high, turn.lang))
    return turn.t("answer_error.other")
