"""Walk through a survey in the terminal, the way a citizen would, so staff can try a file before importing it.

`stadtdialog survey preview FILE` calls `preview(survey, lang, input, print)`; tests pass scripted callables.
"""

from __future__ import annotations

from collections.abc import Callable

from surveys.engine import (
    AnswerError,
    answer_label,
    first_question,
    format_number,
    next_question,
    parse_text_answer,
    progress,
    relevant_answers,
    skip_value,
)
from surveys.schema import AnswerValue, Question, QuestionType, Survey

SKIP = "-"
BACK = "<"

_TEXTS: dict[str, dict[str, str]] = {
    "de": {
        "how": "Antworten Sie mit der Nummer oder dem Text. „-“ überspringt eine freiwillige Frage, „<“ geht zurück.",
        "position": "Frage {position} von {total}",
        "optional": "(freiwillig – „-“ zum Überspringen)",
        "several": "Mehrere Antworten möglich, z. B. „1, 3“.",
        "scale": "Antworten Sie mit einer Zahl von {min} bis {max}.",
        "yes_no": "1 = Ja, 2 = Nein",
        "number": "Antworten Sie mit einer Zahl{range}.",
        "text": "Antworten Sie in eigenen Worten (höchstens {limit} Zeichen).",
        "previous": "Bisherige Antwort: {label}",
        "first": "Das ist schon die erste Frage.",
        "stopped": "Vorschau abgebrochen.",
        "summary": "Ihre Antworten:",
        "none": "(keine Antworten)",
    },
    "en": {
        "how": "Answer with the number or the text. '-' skips an optional question, '<' goes back.",
        "position": "Question {position} of {total}",
        "optional": "(optional – '-' to skip)",
        "several": "Several answers possible, e.g. '1, 3'.",
        "scale": "Answer with a number from {min} to {max}.",
        "yes_no": "1 = Yes, 2 = No",
        "number": "Answer with a number{range}.",
        "text": "Answer in your own words (at most {limit} characters).",
        "previous": "Previous answer: {label}",
        "first": "This is already the first question.",
        "stopped": "Preview stopped.",
        "summary": "Your answers:",
        "none": "(no answers)",
    },
}

_ERRORS: dict[str, dict[str, str]] = {
    "de": {
        "required": "Diese Frage ist Pflicht und kann nicht übersprungen werden.",
        "unknown_option": "„{text}“ passt zu keiner Antwort. Bitte eine Nummer von 1 bis {count} oder den Text.",
        "too_few": "Bitte mindestens {min} Antwort(en) wählen.",
        "too_many": "Bitte höchstens {max} Antworten wählen.",
        "not_a_number": "Bitte antworten Sie mit einer Zahl.",
        "not_an_integer": "Bitte eine ganze Zahl ohne Komma.",
        "out_of_range": "Die Zahl muss zwischen {min} und {max} liegen.",
        "too_long": "Die Antwort ist {length} Zeichen lang, erlaubt sind {limit}.",
        "not_yes_no": "Bitte mit Ja oder Nein antworten (1 oder 2).",
        "empty": "Die Antwort ist leer.",
    },
    "en": {
        "required": "This question is required and cannot be skipped.",
        "unknown_option": "'{text}' does not match an answer. Please use a number from 1 to {count} or the text.",
        "too_few": "Please choose at least {min} answer(s).",
        "too_many": "Please choose at most {max} answers.",
        "not_a_number": "Please answer with a number.",
        "not_an_integer": "Please give a whole number.",
        "out_of_range": "The number must be between {min} and {max}.",
        "too_long": "The answer has {length} characters; {limit} are allowed.",
        "not_yes_no": "Please answer yes or no (1 or 2).",
        "empty": "The answer is empty.",
    },
}


def error_text(error: AnswerError, lang: str) -> str:
    """Plain-language text of an answer error (staff preview; the bot's own texts live in handlers/texts)."""
    template = _ERRORS["en" if lang == "en" else "de"][error.reason]
    params = {key: "…" if value is None else value for key, value in error.params.items()}
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template.split(".")[0] + "."


def preview(
    survey: Survey, lang: str, read: Callable[[str], str], write: Callable[[str], None]
) -> dict[str, AnswerValue]:
    """Ask every question on the route, accept typed answers, and end with a summary; returns the answers.

    EOF from `read` ends the preview cleanly with the answers given so far.
    """
    texts = _TEXTS["en" if lang == "en" else "de"]
    write(f"== {survey.title.get(lang)} ==")
    if survey.intro:
        write(survey.intro.get(lang))
    write(texts["how"])
    answers: dict[str, AnswerValue] = {}
    asked: list[str] = []
    current = first_question(survey)
    while current is not None:
        position, total = progress(survey, current.id, answers)
        write("")
        write(texts["position"].format(position=position, total=total))
        for line in _question_lines(current, lang):
            write(line)
        if current.id in answers:
            write(texts["previous"].format(label=answer_label(current, answers[current.id], lang)))
        try:
            typed = read("> ")
        except EOFError:
            write("")
            write(texts["stopped"])
            return relevant_answers(survey, answers)
        command = typed.strip()
        if command == BACK:
            if asked:
                current = survey.question(asked.pop())
            else:
                write(texts["first"])
            continue
        try:
            value = skip_value(current) if command == SKIP else parse_text_answer(current, typed)
        except AnswerError as error:
            write(error_text(error, lang))
            continue
        answers[current.id] = value
        asked.append(current.id)
        current = next_question(survey, current.id, answers)
    final = relevant_answers(survey, answers)
    write("")
    if survey.closing:
        write(survey.closing.get(lang))
    write(texts["summary"])
    for question in survey.questions:
        if question.id in final:
            write(f"- {question.text.get(lang)} → {answer_label(question, final[question.id], lang)}")
    if not final:
        write(texts["none"])
    return final


def _question_lines(question: Question, lang: str) -> list[str]:
    texts = _TEXTS["en" if lang == "en" else "de"]
    lines = [question.text.get(lang)]
    if question.help:
        lines.append(question.help.get(lang))
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        lines += [f"  {number}. {option.text.get(lang)}" for number, option in enumerate(question.options, start=1)]
        if kind is QuestionType.MULTIPLE_CHOICE:
            lines.append(texts["several"])
    elif kind is QuestionType.SCALE:
        spec = question.scale_spec
        lines.append(texts["scale"].format(min=spec.min, max=spec.max))
        lines += [f"  {value} = {label.get(lang)}" for value, label in sorted(spec.labels.items())]
    elif kind is QuestionType.YES_NO:
        lines.append(texts["yes_no"])
    elif kind is QuestionType.NUMBER:
        lines.append(texts["number"].format(range=_range(question, lang)))
    else:
        lines.append(texts["text"].format(limit=question.text_limit))
    if not question.required:
        lines.append(texts["optional"])
    return lines


def _range(question: Question, lang: str) -> str:
    unit = f" {question.unit.get(lang)}" if question.unit else ""
    low = None if question.min is None else format_number(question.min, lang)
    high = None if question.max is None else format_number(question.max, lang)
    en = lang == "en"
    if low is not None and high is not None:
        return f" ({'from' if en else 'von'} {low} {'to' if en else 'bis'} {high}{unit})"
    if low is not None:
        return f" ({'at least' if en else 'mindestens'} {low}{unit})"
    if high is not None:
        return f" ({'at most' if en else 'höchstens'} {high}{unit})"
    return f" ({unit.strip()})" if unit else ""
