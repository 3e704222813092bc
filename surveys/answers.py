"""Typed and pressed answers: parse, validate and label them (pure; re-exported by `surveys.engine`).

Stored values: single_choice → option id; multiple_choice → option ids in option order; scale → int;
yes_no → bool; number → int (integer questions) or float; free_text → str; skipped optional → None.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Literal

from surveys.schema import AnswerValue, Question, QuestionType

YES_ID = "yes"
NO_ID = "no"
"""Button ids of a yes/no question (see `choice_options`)."""

_YES_NO_TEXT = {False: ("Ja", "Nein"), True: ("Yes", "No")}
_SKIPPED = {False: "(übersprungen)", True: "(skipped)"}
_NOTHING = {False: "(nichts ausgewählt)", True: "(nothing chosen)"}
_OF = {False: "von", True: "of"}

AnswerErrorReason = Literal[
    "required",
    "unknown_option",
    "too_few",
    "too_many",
    "not_a_number",
    "not_an_integer",
    "out_of_range",
    "too_long",
    "not_yes_no",
    "empty",
]


class AnswerError(Exception):
    """A typed/pressed answer that does not fit the question.

    `reason` is a stable key the dialogue core maps to a user-facing text; `params` fills it.
    """

    def __init__(self, reason: AnswerErrorReason, params: Mapping[str, object] | None = None) -> None:
        self.reason: AnswerErrorReason = reason
        self.params: dict[str, object] = dict(params or {})
        super().__init__(reason, self.params)

    def __str__(self) -> str:
        details = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.reason} ({details})" if details else self.reason


# --------------------------------------------------------------------------------------------------- parsing

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def fold(text: str) -> str:
    """Comparison form of a text: case-, accent-, punctuation- and whitespace-insensitive; ä = ae, ß = ss."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w]+|_", " ", text).split())


_NUMBER_REF = re.compile(r"^(?:nr|no|nummer|number|option|antwort|answer|#)?\s*\(?\s*(\d{1,3})\s*[.)]?$")


def _option_number(text: str) -> int | None:
    """'2', '2.', '2)', '(2)', 'Nr. 2', '#2' → 2."""
    compact = text.strip().casefold().replace("nr.", "nr").replace("no.", "no")
    match = _NUMBER_REF.match(compact)
    return int(match.group(1)) if match else None


def _option_by_text(question: Question, text: str) -> str | None:
    """Option id for a typed number, option text (de/en) or id; a unique prefix of ≥ 3 characters also counts."""
    number = _option_number(text)
    if number is not None:
        return question.options[number - 1].id if 1 <= number <= len(question.options) else None
    typed = fold(text)
    if not typed:
        return None
    for option in question.options:
        names = {fold(option.id), fold(option.text.de)} | ({fold(option.text.en)} if option.text.en else set())
        if typed in names:
            return option.id
    if len(typed) >= 3:
        candidates = [
            option.id
            for option in question.options
            if fold(option.text.de).startswith(typed) or fold(option.text.get("en")).startswith(typed)
        ]
        if len(candidates) == 1:
            return candidates[0]
    return None


def _unknown(question: Question, text: str) -> AnswerError:
    return AnswerError("unknown_option", {"text": text.strip(), "count": len(question.options)})


def _choice_bounds(question: Question) -> tuple[int, int]:
    low = question.min_choices if question.min_choices is not None else 1
    return low, question.max_choices or len(question.options)


_LIST_SEPARATORS = re.compile(r"[,;+&\n]")
_AND_WORDS = re.compile(r"\s+(?:und|and|sowie|or|oder)\s+", re.IGNORECASE)


def _parse_multiple(question: Question, text: str) -> list[str]:
    whole = _option_by_text(question, text)
    if whole is not None:
        return choice_value_list(question, [whole])
    chosen: list[str] = []
    for part in _LIST_SEPARATORS.split(text):
        if not part.strip():
            continue
        found = _option_by_text(question, part)
        if found is not None:
            chosen.append(found)
            continue
        for piece in _AND_WORDS.split(part):
            found = _option_by_text(question, piece)
            if found is not None:
                chosen.append(found)
            elif re.fullmatch(r"[\d\s.]+", piece.strip()) and piece.strip():
                # "1 3" or "1. 3." — numbers separated by spaces
                for token in piece.split():
                    number = _option_by_text(question, token)
                    if number is None:
                        raise _unknown(question, token)
                    chosen.append(number)
            else:
                raise _unknown(question, piece)
    return choice_value_list(question, chosen)


_YES = frozenset({"ja", "j", "yes", "y", "1", "jawohl", "genau", "true", "wahr"})
_NO = frozenset({"nein", "n", "no", "0", "2", "false", "falsch"})
_POLITE = re.compile(r"^\s*(ja|nein|yes|no|genau)\s*[,.!;]", re.IGNORECASE)


def _parse_yes_no(text: str) -> bool:
    number = _option_number(text)
    if number in (1, 2):
        return number == 1
    typed = fold(text)
    if typed in _YES:
        return True
    if typed in _NO:
        return False
    # "Nein, danke!" / "Yes, sure" — but not "no idea", so only before a punctuation mark.
    polite = _POLITE.match(text)
    if polite:
        return polite.group(1).casefold() in ("ja", "yes", "genau")
    raise AnswerError("not_yes_no", {"text": text.strip()})


def _parse_scale(question: Question, text: str) -> int:
    spec = question.scale_spec
    bounds = {"min": spec.min, "max": spec.max}
    typed = fold(text)
    for value, label in spec.labels.items():
        if typed in {fold(label.de), fold(label.get("en"))}:
            return value
    match = re.fullmatch(r"\s*(-?\d{1,3})\s*(?:(?:/|von|of|aus|out of)\s*(\d{1,3}))?\s*[.!]?\s*", text, re.IGNORECASE)
    if match is None:
        if re.fullmatch(r"\s*-?\d+[.,]\d+\s*", text):
            raise AnswerError("not_an_integer", bounds)
        raise AnswerError("not_a_number", bounds)
    value = int(match.group(1))
    if match.group(2) is not None and int(match.group(2)) != spec.max:
        raise AnswerError("out_of_range", bounds)
    if not spec.min <= value <= spec.max:
        raise AnswerError("out_of_range", bounds)
    return value


_APPROX = re.compile(r"^(?:ca\.?|circa|zirka|etwa|ungefaehr|ungefähr|about|approx\.?|around|~)\s*", re.IGNORECASE)
_NUMBER = re.compile(r"^([+-]?)(\d[\d.,' \u00a0\u202f]*)(.*)$", re.DOTALL)


def parse_number(text: str, integer: bool) -> float:
    """German or English number text → value (raises AnswerError "not_a_number").

    Rules: one separator (',' or '.') is the decimal mark — except on integer questions, where a single
    separator followed by exactly three digits is a thousands separator ("1.234" = 1234). Several equal
    separators, or spaces, group thousands ("1.234.567"); with both kinds the last one is the decimal mark
    ("1.234,5" = 1234.5). A trailing unit ("12 km", "30 Minuten") and a leading "ca."/"etwa" are ignored.
    """
    stripped = _APPROX.sub("", text.strip())
    match = _NUMBER.match(stripped)
    if match is None or len(stripped) > 40:
        raise AnswerError("not_a_number", {})
    sign, body, suffix = match.groups()
    if re.search(r"\d", suffix) or len(suffix) > 30:
        raise AnswerError("not_a_number", {})
    body = re.sub(r"['\u00a0\u202f]", " ", body.strip())
    if " " in body:
        # Spaces only group thousands ("1 234,5"); "12 15" is two numbers, not one.
        if not re.fullmatch(r"\d{1,3}(?: \d{3})+(?:[.,]\d+)?", body):
            raise AnswerError("not_a_number", {})
        body = body.replace(" ", "").replace(",", ".")
        integer = False  # the remaining separator, if any, can only be the decimal mark
    commas, dots = body.count(","), body.count(".")
    if commas and dots:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        whole, _, fraction = body.rpartition(decimal)
        if whole.count(decimal) or not _grouped(whole, thousands):
            raise AnswerError("not_a_number", {})
        number = whole.replace(thousands, "") + "." + fraction
    elif commas + dots == 1:
        separator = "," if commas else "."
        whole, _, fraction = body.partition(separator)
        # "1.234" on an integer question (people, euros) is German thousands, otherwise a decimal.
        number = whole + fraction if integer and len(fraction) == 3 else whole + "." + fraction
    elif commas + dots > 1:
        separator = "," if commas else "."
        if not _grouped(body, separator):
            raise AnswerError("not_a_number", {})
        number = body.replace(separator, "")
    else:
        number = body
    if not re.fullmatch(r"\d+(?:\.\d*)?", number):
        raise AnswerError("not_a_number", {})
    value = float(sign + number)
    if not math.isfinite(value):
        raise AnswerError("not_a_number", {})
    return value


def _is_plain(digits: str) -> bool:
    return digits.isdigit() and 1 <= len(digits) <= 3


def _grouped(text: str, separator: str) -> bool:
    """'1.234.567' with separator '.' is correctly grouped in threes."""
    head, *rest = text.split(separator)
    return _is_plain(head) and all(len(group) == 3 and group.isdigit() for group in rest)


def _parse_number_answer(question: Question, text: str) -> int | float:
    bounds = {"min": _plain(question.min), "max": _plain(question.max)}
    try:
        value = parse_number(text, question.integer)
    except AnswerError as error:
        raise AnswerError("not_a_number", bounds) from error
    if question.integer and not value.is_integer():
        raise AnswerError("not_an_integer", bounds)
    if (question.min is not None and value < question.min) or (question.max is not None and value > question.max):
        raise AnswerError("out_of_range", bounds)
    return int(value) if question.integer else value


def _plain(number: float | None) -> int | float | None:
    """12.0 → 12, so a message reads "zwischen 0 und 12" rather than "0.0 und 12.0"."""
    if number is not None and float(number).is_integer():
        return int(number)
    return number


def parse_text_answer(question: Question, text: str) -> AnswerValue:
    """A typed answer as the value to store; raises AnswerError when it does not fit the question."""
    if not text.strip():
        raise AnswerError("empty", {})
    kind = question.type
    if kind is QuestionType.SINGLE_CHOICE:
        found = _option_by_text(question, text)
        if found is None:
            raise _unknown(question, text)
        return found
    if kind is QuestionType.MULTIPLE_CHOICE:
        return _parse_multiple(question, text)
    if kind is QuestionType.YES_NO:
        return _parse_yes_no(text)
    if kind is QuestionType.SCALE:
        return _parse_scale(question, text)
    if kind is QuestionType.NUMBER:
        return _parse_number_answer(question, text)
    answer = text.strip()
    if len(answer) > question.text_limit:
        raise AnswerError("too_long", {"limit": question.text_limit, "length": len(answer)})
    return answer


# --------------------------------------------------------------------------------------------------- buttons


def choice_value_list(question: Question, option_ids: Sequence[str]) -> list[str]:
    """Validated multiple-choice selection in option order (duplicates dropped)."""
    known = [option.id for option in question.options]
    for option_id in option_ids:
        if option_id not in known:
            raise AnswerError("unknown_option", {"text": option_id, "count": len(known)})
    chosen = [option_id for option_id in known if option_id in set(option_ids)]
    low, high = _choice_bounds(question)
    if len(chosen) < low:
        raise AnswerError("too_few", {"min": low, "max": high, "count": len(chosen)})
    if len(chosen) > high:
        raise AnswerError("too_many", {"min": low, "max": high, "count": len(chosen)})
    return chosen


def choice_value(question: Question, option_ids: Sequence[str]) -> AnswerValue:
    """The value for pressed buttons: option ids of a choice question, `YES_ID`/`NO_ID` of a yes/no question,
    or the number text of a scale point (see `choice_options`)."""
    kind = question.type
    if kind is QuestionType.MULTIPLE_CHOICE:
        return choice_value_list(question, option_ids)
    if len(set(option_ids)) != 1:
        raise AnswerError("too_few" if not option_ids else "too_many", {"min": 1, "max": 1, "count": len(option_ids)})
    pressed = option_ids[0]
    valid = [option_id for option_id, _ in choice_options(question, "de")]
    if pressed not in valid:
        raise AnswerError("unknown_option", {"text": pressed, "count": len(valid)})
    if kind is QuestionType.YES_NO:
        return pressed == YES_ID
    if kind is QuestionType.SCALE:
        return int(pressed)
    return pressed


def choice_options(question: Question, lang: str) -> list[tuple[str, str]]:
    """(id, label) of every button a question can be answered with; empty for number and free-text questions."""
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        return [(option.id, option.text.get(lang)) for option in question.options]
    if question.type is QuestionType.YES_NO:
        return [(YES_ID, _YES_NO_TEXT[lang == "en"][0]), (NO_ID, _YES_NO_TEXT[lang == "en"][1])]
    if question.type is QuestionType.SCALE:
        spec = question.scale_spec
        return [
            (str(value), f"{value} – {spec.labels[value].get(lang)}" if value in spec.labels else str(value))
            for value in range(spec.min, spec.max + 1)
        ]
    return []


def skip_value(question: Question) -> AnswerValue:
    """The stored value of a skipped question: None; raises AnswerError("required") for a required one."""
    if question.required:
        raise AnswerError("required", {})
    return None


# --------------------------------------------------------------------------------------------------- labels


def format_number(value: float, lang: str) -> str:
    """12.5 → '12,5' (de) / '12.5' (en); whole numbers without decimals."""
    text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    return text.replace(".", ",") if lang != "en" else text


def answer_label(question: Question, value: AnswerValue, lang: str) -> str:
    """Human text of a stored answer, for summaries and exports."""
    en = lang == "en"
    if value is None:
        return _SKIPPED[en]
    if isinstance(value, list):
        if not value:
            return _NOTHING[en]
        return ", ".join(_option_text(question, option_id, lang) for option_id in value)
    if isinstance(value, bool):
        return _YES_NO_TEXT[en][0 if value else 1]
    if question.type is QuestionType.SCALE and isinstance(value, int):
        spec = question.scale_spec
        text = f"{value} {_OF[en]} {spec.max}"
        return f"{text} ({spec.labels[value].get(lang)})" if value in spec.labels else text
    if isinstance(value, int | float):
        unit = f" {question.unit.get(lang)}" if question.unit else ""
        return format_number(value, lang) + unit
    if question.type is QuestionType.SINGLE_CHOICE:
        return _option_text(question, value, lang)
    return value


def _option_text(question: Question, option_id: str, lang: str) -> str:
    option = question.option(option_id)
    # An id from an older survey version stays readable as itself instead of failing an export.
    return option.text.get(lang) if option else option_id
