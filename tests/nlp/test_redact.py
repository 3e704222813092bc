"""Redacting personal details from idea texts before they become training data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.redact import redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ruf mich an: 0202 123456", "Ruf mich an: [TELEFON]"),
        ("Handy 0171/1234567", "Handy [TELEFON]"),
        ("erreichbar unter +49 202 563-1234!", "erreichbar unter [TELEFON]!"),
        ("Tel. +49 (0)202 1234567", "Tel. [TELEFON]"),
        ("Fax (0202) 12 34 56", "Fax [TELEFON]"),
        ("0049 171 12345678 oder 0202-123456", "[TELEFON] oder [TELEFON]"),
    ],
)
def test_german_phone_numbers_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Termin am 01.02.2026 um 14 Uhr",
        "PLZ 42103 und 01067 Dresden",
        "Die Linie 611 kommt 15 Minuten zu spät",
        "Im Jahr 2026 bitte 300 neue Bäume",
        "Kostet 0,50 Euro",
    ],
)
def test_dates_postcodes_and_amounts_are_no_phone_numbers(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail an max.mustermann@example.org bitte", "Mail an [EMAIL] bitte"),
        ("<anna_b+stadt@mail.wuppertal.de>", "<[EMAIL]>"),
    ],
)
def test_email_addresses_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Herr Müller hat gesagt", "Herr [NAME] hat gesagt"),
        ("Sehr geehrte Frau Dr. Schmidt, ich bitte", "Sehr geehrte Frau [NAME], ich bitte"),
        ("Hallo Anna, wie geht es", "Hallo [NAME], wie geht es"),
        ("Liebe Frau Meier-Schulz, danke", "Liebe Frau [NAME], danke"),
        ("Ich bin Peter Meier, wohne in Elberfeld", "Ich bin [NAME], wohne in Elberfeld"),
        ("Mein Name ist Anna Schmidt und ich finde", "Mein Name ist [NAME] und ich finde"),
        ("ich heiße Jana. Mehr Spielplätze!", "ich heiße [NAME]. Mehr Spielplätze!"),
        ("Mehr Bäume.\nMit freundlichen Grüßen\nMax Mustermann", "Mehr Bäume.\nMit freundlichen Grüßen\n[NAME]"),
        ("Mehr Licht am Bahnhof. Gruß Tom", "Mehr Licht am Bahnhof. Gruß [NAME]"),
        ("Danke!\nLiebe Grüße, Anna", "Danke!\nLiebe Grüße, [NAME]"),
        ("Anfrage von Herrn Prof. Dr. Klaus von Berg", "Anfrage von Herrn [NAME]"),
    ],
)
def test_announced_names_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Hallo zusammen, mehr Bänke",
        "Hallo Stadtverwaltung, mehr Bänke",
        "Sehr geehrte Damen und Herren, der Bus",
        "Ich bin Rentnerin und finde den Bus zu teuer",
        "Eine Frau mit Kinderwagen kommt nicht durch",
        "Viele Grüße aus Wuppertal",
        "Mehr Bänke am Döppersberg",
    ],
)
def test_ordinary_sentences_keep_their_words(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ich wohne Friedrich-Ebert-Straße 12, 42103 Wuppertal.", "Ich wohne [ADRESSE]."),
        ("Bahnhofstr. 4 b und Hauptstrasse 7/9", "[ADRESSE] und [ADRESSE]"),
        ("Berliner Straße 5a ist laut", "[ADRESSE] ist laut"),
        ("Am Brögel 3, 42105 Wuppertal", "[ADRESSE]"),
        ("Wir wohnen im Hofkamp 12 seit Jahren", "Wir wohnen im [ADRESSE] seit Jahren"),
    ],
)
def test_street_addresses_with_house_number_are_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Radweg auf der Talstraße fehlt", "Der Radweg 3 Meter breiter", "Radweg 3,5 km", "Am Ende 3 Busse"],
)
def test_street_names_without_house_number_and_measurements_stay(text: str) -> None:
    assert redact(text) == text


def test_everything_in_one_letter() -> None:
    letter = (
        "Sehr geehrter Herr Schulz,\nan der Hofaue fehlt ein Zebrastreifen. Ich wohne Hofkamp 12.\n"
        "Rückfragen gern an 0202 9876543 oder peter@example.com.\nMit freundlichen Grüßen\nPeter Schmitz"
    )
    redacted = redact(letter)
    for secret in ("Schulz", "Hofkamp 12", "9876543", "peter@example.com", "Peter Schmitz"):
        assert secret not in redacted
    assert "Zebrastreifen" in redacted and redacted.endswith("[NAME]")


GERMANISH = st.text(
    alphabet=st.sampled_from(list("abcdefghiklmnoprstuäöüßABDFGHMPSTZ0123456789 .,-/+@()\n")), max_size=80
)
PHRASES = st.lists(
    st.sampled_from(
        [
            "Herr ", "Frau Dr. ", "Hallo ", "Gruß ", "Mit freundlichen Grüßen\n", "ich bin ", "Mein Name ist ",
            "Anna ", "Müller", "0202 123456", "+49 171 1234567", "a@b.de", "Talstraße 3", " 42103 Wuppertal",
            "[NAME]", "[TELEFON]", ", ", ".\n", "Straße ", "12 ",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), GERMANISH, PHRASES))
def test_redaction_never_raises_and_is_idempotent(text: str) -> None:
    once = redact(text)
    assert isinstance(once, str)
    assert redact(once) == once
