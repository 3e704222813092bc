"""Umlaut restoration before embedding: learnt from training texts, never touching deliberate spellings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp.model import FieldClassifier
from nlp.umlauts import UmlautRestorer

TRAINING = [
    "Die Mülltonne am Spielplatz ist voll und der Sperrmüll liegt seit Tagen auf der Straße.",
    "Über die Brücke fahren die Busse viel zu schnell, das ist gefährlich für Fußgänger.",
    "Die Grünfläche wird nie gemäht, die Masse an Unkraut ist enorm.",
    "Neue Öffnungszeiten im Bürgerbüro wären schön.",
    "Strasse ohne Umlaute sagt nichts ueber die Schreibweise",  # no umlaut: ignored when learning
]


@pytest.fixture(scope="module")
def restorer() -> UmlautRestorer:
    return UmlautRestorer.fit(TRAINING)


@pytest.mark.parametrize(
    ("typed", "restored"),
    [
        ("Muelltonne voll", "Mülltonne voll"),
        ("Sperrmuell an der Strasse", "Sperrmüll an der Straße"),  # piece inside a compound
        ("Gruenflaeche am Buergerbuero", "Grünfläche am Bürgerbüro"),  # two pieces in one word
        ("ueber die Bruecke", "über die Brücke"),  # lower case stays lower case
        ("UEBER DIE BRUECKE", "ÜBER DIE BRÜCKE"),
        ("Oeffnungszeiten bitte", "Öffnungszeiten bitte"),
    ],
)
def test_typed_without_umlauts_is_restored(restorer: UmlautRestorer, typed: str, restored: str) -> None:
    assert restorer(typed) == restored


def test_words_known_without_umlauts_stay(restorer: UmlautRestorer) -> None:
    # "Busse" and "Masse" were written that way by people who do use umlauts: genuine words.
    assert restorer("Busse und Masse") == "Busse und Masse"
    assert restorer("Quelle aktuell Wasser") == "Quelle aktuell Wasser"  # unknown words without a known piece


def test_a_text_with_one_umlaut_is_left_alone(restorer: UmlautRestorer) -> None:
    text = "Muelltonne voll, schöne Grüße"
    assert restorer(text) == text


def test_learning_is_deterministic_and_survives_json(restorer: UmlautRestorer) -> None:
    again = UmlautRestorer.fit(list(reversed(TRAINING)))
    assert again == restorer and again.to_json() == restorer.to_json()
    assert UmlautRestorer.from_json(restorer.to_json()) == restorer


def test_an_empty_lexicon_changes_nothing() -> None:
    empty = UmlautRestorer.fit(["no umlauts here at all"])
    assert empty.mapping == {} and empty("Muelltonne") == "Muelltonne"


@given(st.text(max_size=300))
def test_any_text_gives_a_text_and_words_outside_the_lexicon_keep_their_letters(text: str) -> None:
    restorer = UmlautRestorer.fit(TRAINING)
    out = restorer(text)
    assert isinstance(out, str)
    # Restoring only replaces "ae/oe/ue/ss" by one letter; it never adds text.
    assert len(out) <= len(text)


def test_the_shipped_model_restores_before_embedding() -> None:
    classifier = FieldClassifier.load()
    heads = classifier.scorer.heads
    assert heads is not None and heads.restorer is not None
    assert heads.embedding_input(["Muelleimer an der Haltestelle quillt ueber"]) == [
        "Mülleimer an der Haltestelle quillt über"
    ]
    assert (Path(__file__).resolve().parents[2] / "nlp" / "model" / "stadtdialog_textcat" / "umlauts.json").is_file()


def test_decomposed_umlauts_are_composed_before_anything_else() -> None:
    from nlp.text import prepare

    assert prepare("Mu\u0308lltonne u\u0308berfu\u0308llt") == "Mülltonne überfüllt"
