"""Typed answers in any language, button presses, skipping and the human text of stored answers."""

from __future__ import annotations

import pytest

from surveys.engine import (
    NO_ID,
    YES_ID,
    AnswerError,
    answer_label,
    choice_options,
    choice_value,
    fold,
    parse_text_answer,
    skip_value,
)
from surveys.schema import Question
from tests.surveys.conftest import build_question

TRANSPORT = build_question(
    id="mode",
    type="single_choice",
    options=[
        {"id": "tram", "text": {"de": "Straßenbahn", "en": "Tram"}},
        {"id": "schwebebahn", "text": {"de": "Schwebebahn", "en": "Suspension railway"}},
        {"id": "foot", "text": {"de": "Zu Fuß", "en": "On foot"}},
        {"id": "koeln", "text": "Zug nach Köln"},
    ],
)
MODES = build_question(
    id="modes",
    type="multiple_choice",
    max_choices=3,
    options=[
        {"id": "bus", "text": "Bus"},
        {"id": "rad", "text": {"de": "Fahrrad", "en": "Bicycle"}},
        {"id": "pr", "text": "Park und Ride"},
        {"id": "fuss", "text": "Zu Fuß"},
    ],
)
YES_NO = build_question(id="ok", type="yes_no")
RATING = build_question(
    id="rating",
    type="scale",
    scale={"min": 1, "max": 5, "labels": {1: "schlecht", 5: {"de": "sehr gut", "en": "very good"}}},
)
PEOPLE = build_question(id="people", type="number", integer=True, min=0, max=10_000_000)
KM = build_question(id="km", type="number", min=0, max=10_000, unit={"de": "Kilometer", "en": "kilometres"})
COMMENT = build_question(id="comment", type="free_text", max_length=40, required=False)


def reason_of(question: Question, text: str) -> str:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(question, text)
    return caught.value.reason


@pytest.mark.parametrize("typed", ["2", "2.", " 2 ", "2)", "(2)", "Nr. 2", "nr 2", "#2", "Schwebebahn", "schwebebahn "])
def test_single_choice_accepts_number_or_text(typed: str) -> None:
    assert parse_text_answer(TRANSPORT, typed) == "schwebebahn"


@pytest.mark.parametrize("typed", ["Strassenbahn", "STRASSENBAHN", "straßenbahn", "tram", "Tram"])
def test_option_text_matches_without_eszett_case_or_language(typed: str) -> None:
    assert parse_text_answer(TRANSPORT, typed) == "tram"


@pytest.mark.parametrize("typed", ["Zug nach Koeln", "zug nach köln", "Zug  nach   Köln!"])
def test_umlaut_and_oe_spelling_match_the_same_option(typed: str) -> None:
    assert parse_text_answer(TRANSPORT, typed) == "koeln"


def test_unique_beginning_of_an_option_text_is_enough() -> None:
    assert parse_text_answer(TRANSPORT, "Schwebe") == "schwebebahn"


def test_single_choice_rejects_number_outside_the_options_with_the_option_count() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(TRANSPORT, "7")
    assert caught.value.reason == "unknown_option"
    assert caught.value.params["count"] == 4


def test_single_choice_rejects_unknown_text() -> None:
    assert reason_of(TRANSPORT, "Hubschrauber") == "unknown_option"


@pytest.mark.parametrize(
    ("typed", "chosen"),
    [
        ("1, 3", ["bus", "pr"]),
        ("1 3", ["bus", "pr"]),
        ("3;1", ["bus", "pr"]),
        ("Bus, Rad", ["bus", "rad"]),
        ("bicycle and bus", ["bus", "rad"]),
        ("Bus und zu Fuss", ["bus", "fuss"]),
        ("Park und Ride", ["pr"]),
        ("2, 2, 1", ["bus", "rad"]),
    ],
)
def test_multiple_choice_accepts_lists_of_numbers_or_texts_in_option_order(typed: str, chosen: list[str]) -> None:
    assert parse_text_answer(MODES, typed) == chosen


def test_multiple_choice_rejects_more_than_max_choices() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(MODES, "1, 2, 3, 4")
    assert (caught.value.reason, caught.value.params["max"]) == ("too_many", 3)


def test_multiple_choice_names_the_part_it_did_not_understand() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(MODES, "Bus, Hubschrauber")
    assert caught.value.reason == "unknown_option"
    assert caught.value.params["text"] == "Hubschrauber"


@pytest.mark.parametrize("typed", ["ja", "Ja", "j", "yes", "Y", "1", "Nr. 1"])
def test_yes_answers(typed: str) -> None:
    assert parse_text_answer(YES_NO, typed) is True


@pytest.mark.parametrize("typed", ["nein", "NEIN", "n", "no", "0", "2"])
def test_no_answers(typed: str) -> None:
    assert parse_text_answer(YES_NO, typed) is False


@pytest.mark.parametrize(("typed", "value"), [("Nein, danke!", False), ("Ja, gerne", True), ("Yes. Sure", True)])
def test_yes_no_followed_by_a_polite_phrase(typed: str, value: bool) -> None:
    assert parse_text_answer(YES_NO, typed) is value


@pytest.mark.parametrize("typed", ["vielleicht", "no idea", "ja nein"])
def test_yes_no_rejects_anything_else(typed: str) -> None:
    assert reason_of(YES_NO, typed) == "not_yes_no"


@pytest.mark.parametrize(("typed", "value"), [("4", 4), ("4/5", 4), ("4 von 5", 4), ("sehr gut", 5), ("Very good", 5)])
def test_scale_accepts_number_fraction_or_label(typed: str, value: int) -> None:
    assert parse_text_answer(RATING, typed) == value


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("6", "out_of_range"),
        ("0", "out_of_range"),
        ("4/10", "out_of_range"),
        ("3,5", "not_an_integer"),
        ("gut", "not_a_number"),
    ],
)
def test_scale_rejects_what_is_not_a_point_of_the_scale(typed: str, reason: str) -> None:
    assert reason_of(RATING, typed) == reason


def test_scale_range_error_names_the_bounds() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(RATING, "9")
    assert caught.value.params == {"min": 1, "max": 5}


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("12", 12),
        ("1.234", 1234),
        ("1,234", 1234),
        ("1.234.567", 1234567),
        ("1 234", 1234),
        ("12,0", 12),
        ("ca. 40", 40),
        ("40 Leute", 40),
    ],
)
def test_integer_question_reads_german_thousands(typed: str, value: int) -> None:
    result = parse_text_answer(PEOPLE, typed)
    assert result == value
    assert isinstance(result, int)


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("12", 12.0),
        ("12,5", 12.5),
        ("12.5", 12.5),
        ("1.234", 1.234),
        ("1,234", 1.234),
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("0,75 km", 0.75),
        ("3 Kilometer", 3.0),
    ],
)
def test_decimal_question_reads_comma_or_point_as_decimal_mark(typed: str, value: float) -> None:
    result = parse_text_answer(KM, typed)
    assert result == pytest.approx(value)
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("question", "typed", "reason"),
    [
        (PEOPLE, "zwölf", "not_a_number"),
        (PEOPLE, "12 15", "not_a_number"),
        (PEOPLE, "12-15", "not_a_number"),
        (PEOPLE, "1.5", "not_an_integer"),
        (PEOPLE, "-3", "out_of_range"),
        (KM, "10001", "out_of_range"),
        (KM, "1.23.4", "not_a_number"),
        (KM, "1e5", "not_a_number"),
        (KM, "", "empty"),
    ],
)
def test_number_rejections(question: Question, typed: str, reason: str) -> None:
    assert reason_of(question, typed) == reason


def test_number_range_error_names_the_bounds_as_plain_numbers() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(KM, "20000")
    assert caught.value.params == {"min": 0, "max": 10000}


def test_free_text_is_stripped() -> None:
    assert parse_text_answer(COMMENT, "  Mehr Bänke am Laurentiusplatz \n") == "Mehr Bänke am Laurentiusplatz"


def test_free_text_beyond_the_limit_reports_limit_and_length() -> None:
    with pytest.raises(AnswerError) as caught:
        parse_text_answer(COMMENT, "x" * 41)
    assert caught.value.reason == "too_long"
    assert caught.value.params == {"limit": 40, "length": 41}


@pytest.mark.parametrize("question", [TRANSPORT, MODES, YES_NO, RATING, PEOPLE, COMMENT])
def test_blank_answer_is_empty_for_every_type(question: Question) -> None:
    assert reason_of(question, "   ") == "empty"


def test_fold_treats_umlauts_eszett_and_case_alike() -> None:
    assert fold("Straße am Ölberg") == fold("STRASSE AM OELBERG") == "strasse am oelberg"


def test_button_press_on_single_choice_returns_the_option_id() -> None:
    assert choice_value(TRANSPORT, ["foot"]) == "foot"


def test_button_press_with_unknown_option_is_rejected() -> None:
    with pytest.raises(AnswerError) as caught:
        choice_value(TRANSPORT, ["plane"])
    assert caught.value.reason == "unknown_option"


def test_multiple_choice_buttons_return_ids_in_option_order() -> None:
    assert choice_value(MODES, ["fuss", "bus"]) == ["bus", "fuss"]


def test_multiple_choice_buttons_need_at_least_one_option() -> None:
    with pytest.raises(AnswerError) as caught:
        choice_value(MODES, [])
    assert caught.value.reason == "too_few"


def test_multiple_choice_with_min_choices_zero_accepts_an_empty_selection() -> None:
    question = build_question(
        type="multiple_choice", min_choices=0, options=[{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]
    )
    assert choice_value(question, []) == []


def test_yes_no_and_scale_buttons() -> None:
    assert [option_id for option_id, _ in choice_options(YES_NO, "de")] == [YES_ID, NO_ID]
    assert choice_value(YES_NO, [NO_ID]) is False
    assert choice_value(RATING, ["5"]) == 5
    assert choice_options(RATING, "en")[4] == ("5", "5 – very good")


def test_two_presses_on_a_single_choice_are_too_many() -> None:
    with pytest.raises(AnswerError) as caught:
        choice_value(TRANSPORT, ["foot", "tram"])
    assert caught.value.reason == "too_many"


def test_optional_question_can_be_skipped_required_cannot() -> None:
    assert skip_value(COMMENT) is None
    with pytest.raises(AnswerError) as caught:
        skip_value(YES_NO)
    assert caught.value.reason == "required"


@pytest.mark.parametrize(
    ("question", "value", "lang", "label"),
    [
        (TRANSPORT, "tram", "de", "Straßenbahn"),
        (TRANSPORT, "tram", "en", "Tram"),
        (TRANSPORT, "koeln", "en", "Zug nach Köln"),
        (TRANSPORT, "gone", "de", "gone"),
        (MODES, ["bus", "rad"], "en", "Bus, Bicycle"),
        (YES_NO, True, "de", "Ja"),
        (YES_NO, False, "en", "No"),
        (RATING, 5, "de", "5 von 5 (sehr gut)"),
        (RATING, 3, "en", "3 of 5"),
        (KM, 12.5, "de", "12,5 Kilometer"),
        (KM, 12.5, "en", "12.5 kilometres"),
        (PEOPLE, 40, "de", "40"),
        (COMMENT, "Mehr Bänke", "en", "Mehr Bänke"),
        (COMMENT, None, "de", "(übersprungen)"),
    ],
)
def test_answer_label(question: Question, value: object, lang: str, label: str) -> None:
    assert answer_label(question, value, lang) == label  # type: ignore[arg-type]
