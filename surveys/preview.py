"""Walk through a survey in the terminal, the way a citizen would, so staff can try a file before importing it.
Its follow-up questions come at the end: when each would be asked, to whom, and (if due) the question itself.

`stadtdialog survey preview FILE` calls `preview(survey, lang, input, print)`; tests pass scripted callables.
"""

from __future__ import annotations

from collections.abc import Callable

from surveys.engine import (
    AnswerError,
    answer_label,
    due_follow_ups,
    first_question,
    format_number,
    next_question,
    parse_text_answer,
    progress,
    relevant_answers,
    skip_value,
)
from surveys.schema import AnswerValue, Condition, Question, QuestionType, Survey

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
        "follow_ups": "Nachfragen (nur an Teilnehmende, die am Ende der Umfrage zustimmen):",
        "after": "Nach {days}{condition}:",
        "day": "1 Tag",
        "days": "{count} Tagen",
        "only_if": ", nur wenn {question} = {values}",
        "or": " oder ",
        "answered": "beantwortet",
        "not_answered": "nicht beantwortet",
        "opt_in": "Frage am Ende der Umfrage: „Darf ich Sie in {days} noch einmal kurz fragen, {topic}?“",
        "not_due": "(Mit Ihren Antworten wäre diese Nachfrage nicht gestellt worden.)",
        "answer": "→ {label}",
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
        "follow_ups": "Follow-up questions (only for participants who agree at the end of the survey):",
        "after": "After {days}{condition}:",
        "day": "1 day",
        "days": "{count} days",
        "only_if": ", only if {question} = {values}",
        "or": " or ",
        "answered": "answered",
        "not_answered": "not answered",
        "opt_in": 'Question at the end of the survey: "May I briefly ask you again in {days} {topic}?"',
        "not_due": "(With your answers this follow-up would not have been asked.)",
        "answer": "→ {label}",
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
            value = _typed_answer(current, typed)
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
    if survey.follow_ups:
        final |= _follow_ups(survey, final, lang, read, write)
    return final


def _follow_ups(
    survey: Survey, answers: dict[str, AnswerValue], lang: str, read: Callable[[str], str], write: Callable[[str], None]
) -> dict[str, AnswerValue]:
    """Show every follow-up with its timing and condition; ask those the answers make due. Returns their answers."""
    texts = _TEXTS["en" if lang == "en" else "de"]
    due = {follow_up.id for follow_up in due_follow_ups(survey, answers)}
    given: dict[str, AnswerValue] = {}
    write("")
    write(texts["follow_ups"])
    for follow_up in survey.follow_ups:
        days = texts["day"] if follow_up.after_days == 1 else texts["days"].format(count=follow_up.after_days)
        condition = "" if follow_up.show_if is None else _condition_text(survey, follow_up.show_if, lang)
        write("")
        write(texts["after"].format(days=days, condition=condition))
        write(texts["opt_in"].format(days=days, topic=follow_up.topic.get(lang)))
        if follow_up.id not in due:
            write(follow_up.question.text.get(lang))
            write(texts["not_due"])
            continue
        if follow_up.intro:
            write(follow_up.intro.get(lang))
        for line in _question_lines(follow_up.question, lang):
            write(line)
        while follow_up.id not in given:
            try:
                typed = read("> ")
            except EOFError:
                write("")
                write(texts["stopped"])
                return given
            try:
                given[follow_up.id] = _typed_answer(follow_up.question, typed)
            except AnswerError as error:
                write(error_text(error, lang))
        write(texts["answer"].format(label=answer_label(follow_up.question, given[follow_up.id], lang)))
    return given


def _condition_text(survey: Survey, condition: Condition, lang: str) -> str:
    """The condition for staff (ids are fine): ', nur wenn oepnv_zufrieden = 1 von 5 (…) oder 2 von 5'."""
    texts = _TEXTS["en" if lang == "en" else "de"]
    question = survey.question(condition.question)
    if condition.answered is not None:
        values = texts["answered"] if condition.answered else texts["not_answered"]
    else:
        wanted = condition.any_of if condition.any_of is not None else [condition.equals]
        labels = [_value_label(question, value, lang) if question else str(value) for value in wanted]
        values = texts["or"].join(labels)
    return texts["only_if"].format(question=condition.question, values=values)


def _value_label(question: Question, value: AnswerValue, lang: str) -> str:
    # A condition names one option of a multiple-choice question; its answers are lists of them.
    if question.type is QuestionType.MULTIPLE_CHOICE and isinstance(value, str):
        return answer_label(question, [value], lang)
    return answer_label(question, value, lang)


def _typed_answer(question: Question, typed: str) -> AnswerValue:
    """The value to store for a typed line: `SKIP` skips (if the question allows it), anything else is parsed."""
    return skip_value(question) if typed.strip() == SKIP else parse_text_answer(question, typed)


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
