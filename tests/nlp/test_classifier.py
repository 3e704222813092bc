"""The committed classifier model: loading checks, odd input, determinism, and a few obvious texts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlp.charngrams import CharNgramVectorizer
from nlp.fields import load_fields, taxonomy_hash
from nlp.model import (
    DEFAULT_MODEL_DIR,
    Classification,
    FieldClassifier,
    ModelMismatchError,
    ModelMissingError,
    read_meta,
)
from nlp.text import mask_places
from nlp.train import TrainConfig, TrainInputs, data_hash

KEYS = tuple(f.key for f in load_fields())


@pytest.fixture(scope="module")
def classifier() -> FieldClassifier:
    return FieldClassifier.load()


def _assert_complete(result: Classification) -> None:
    assert set(result.scores) == set(KEYS)
    assert all(isinstance(value, float) and 0.0 <= value <= 1.0 for value in result.scores.values())


def test_committed_model_matches_current_taxonomy_and_training_data() -> None:
    meta = read_meta(DEFAULT_MODEL_DIR)
    assert meta["taxonomy_hash"] == taxonomy_hash(load_fields()), "nlp/fields.yaml changed: run `make model`"
    assert meta["data_hash"] == data_hash(TrainInputs(), TrainConfig()), "training data changed: run `make model`"


def test_every_field_gets_a_score_that_is_a_probability(classifier: FieldClassifier) -> None:
    result = classifier.classify("Die Ampel an der Kreuzung ist seit Tagen kaputt.")
    _assert_complete(result)
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.field == max(result.scores, key=result.scores.__getitem__)
    assert result.model_version == classifier.version


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Der Bus kommt jeden Morgen zu spät und die Haltestelle hat kein Dach.", "mobilitaet"),
        ("Ich bekomme seit Wochen keinen Termin im Bürgerbüro für meinen neuen Personalausweis.", "verwaltung"),
        ("Die Mülltonnen im Park quellen über und niemand leert sie.", "umwelt"),
        ("Unsere Grundschule hat immer noch kein WLAN und keine Tablets für die Kinder.", "wuppertalerinnen"),
        ("In der Innenstadt stehen so viele Läden leer, der Einzelhandel stirbt.", "wirtschaft"),
        ("Der Spielplatz bei uns ist total verdreckt und die Schaukel ist kaputt.", "leben"),
    ],
)
def test_obvious_texts_land_in_their_field(classifier: FieldClassifier, text: str, field: str) -> None:
    assert classifier.classify(text).field == field


@pytest.mark.parametrize("text", ["", "   \t  ", "🚌🚌🚌 🙈", "12345 678,90 !!! ???", "\x00\x00"])
def test_text_without_letters_has_no_field_and_is_not_confident(classifier: FieldClassifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.field is None
    assert result.confident is False
    _assert_complete(result)


@pytest.mark.parametrize(
    "text",
    [
        "The bus to the city centre never comes on time.",
        "Parkplatz!!! 😡😡",
        "Tach, dat Schlagloch anne Ecke is ja wohl nich zu fassen 🙄",
        "Mängel: Laterne defekt. Also: the bins are full. 42",
        "a",
        "\ud800 kaputte Kodierung im Text",
    ],
)
def test_odd_but_real_text_gets_a_field(classifier: FieldClassifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.field in KEYS
    _assert_complete(result)


def test_a_100_kb_text_is_classified_quickly_without_error(classifier: FieldClassifier) -> None:
    text = "Die Busse fahren viel zu selten und sind immer überfüllt. " * 1800
    assert len(text.encode()) > 100_000
    result = classifier.classify(text)
    assert result.field == "mobilitaet"
    _assert_complete(result)


def test_same_text_always_gets_the_same_scores(classifier: FieldClassifier) -> None:
    text = "Wir brauchen mehr Bäume gegen die Hitze in der Stadt."
    first = classifier.classify(text)
    batch = classifier.classify_many([text, "Noch ein anderer Text über Schulen.", text])
    assert batch[0].scores == first.scores == batch[2].scores
    assert FieldClassifier.load().classify(text).scores == first.scores


def test_classify_many_keeps_order_and_length(classifier: FieldClassifier) -> None:
    texts = ["Schlagloch vor dem Haus", "", "Termin beim Amt", "🙂"]
    results = classifier.classify_many(texts)
    assert [r.field is None for r in results] == [False, True, False, True]
    assert results[0].field == classifier.classify(texts[0]).field


def test_unsure_texts_offer_several_fields(classifier: FieldClassifier) -> None:
    result = classifier.classify("Ich finde, da muss mal was passieren.")
    assert len(result.top(3)) == 3
    assert result.top(3)[0] == result.field


def test_missing_model_says_to_run_make_model(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="make model"):
        FieldClassifier.load(tmp_path / "nowhere")


def test_model_for_another_taxonomy_is_refused_with_the_retrain_command(tmp_path: Path) -> None:
    other = tmp_path / "fields.yaml"
    text = (Path(__file__).resolve().parents[2] / "nlp" / "fields.yaml").read_text(encoding="utf-8")
    other.write_text(text.replace("Parken,", "Parken, Fähren,"), encoding="utf-8")
    with pytest.raises(ModelMismatchError, match="make model"):
        FieldClassifier.load(DEFAULT_MODEL_DIR, fields_path=other)


def test_model_built_with_another_spacy_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, copy)
    meta = json.loads((copy / "meta.json").read_text(encoding="utf-8"))
    meta["stadtdialog"]["spacy_version"] = "2.0.0"
    (copy / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelMismatchError, match=r"spaCy 2\.0\.0"):
        FieldClassifier.load(copy)


def test_a_directory_that_is_not_our_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"name": "something_else"}', encoding="utf-8")
    with pytest.raises(ModelMismatchError, match="not a stadtdialog classifier"):
        FieldClassifier.load(tmp_path)


def test_classifying_from_several_threads_at_once_gives_the_same_answers(classifier: FieldClassifier) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = ["Der Bus kommt nie", "Mehr Bäume bitte", "Termin im Bürgerbüro", "Schulen brauchen WLAN"] * 3
    expected = [classifier.classify(t).scores for t in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert [r.scores for r in pool.map(classifier.classify, texts)] == expected


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Die Bank am Kirchweg 12 ist kaputt", "Die Bank am ORT ist kaputt"),
        ("Hecke an der Kaiserstraße 3a wuchert über den Gehweg", "Hecke an der ORT wuchert über den Gehweg"),
        ("Mülleimer voll, Hauptstr. 5", "Mülleimer voll, ORT"),
        ("Müll Ecke Berliner Str./Hofaue", "Müll ORT"),
        ("Bank an der Friedrich-Ebert-Straße beschmiert", "Bank an der ORT beschmiert"),
        ("Laterne vor Haus 12 aus", "Laterne vor ORT aus"),
        ("Nr. 7b: Hecke zu hoch", "ORT: Hecke zu hoch"),
        ("Die Bänke in der Poststraße sind alt", "Die Bänke in der ORT sind alt"),
    ],
)
def test_street_names_and_house_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_places(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "Der Radweg ist kaputt",
        "Die Straße hat Schlaglöcher",
        "Auf der Hauptstraße fahren alle zu schnell",
        "Der Spielplatz ist dreckig",
        "Kein Kita-Platz frei, kein Gitarrenplatz in der Musikschule",
        "Der Online-Weg zum Ausweis fehlt",
        "Auf dem Gehweg 20 Meter Glasscherben",
        "Carsharing am Flussufer wäre toll",
        "Der Weg ist glatt, leider gefährlicher Weg zur Schule",
    ],
)
def test_generic_street_words_stay_because_they_describe_the_problem(text: str) -> None:
    assert mask_places(text) == text


def test_the_character_head_sees_no_street_name_but_keeps_generic_street_words() -> None:
    texts = ["Bank kaputt", "Radweg kaputt", "Kirchweg Kaiserstrasse"]
    masked = CharNgramVectorizer.fit(texts, 2, 4, mask_places=True)
    plain = CharNgramVectorizer.fit(texts, 2, 4)
    one, other = "Bank am Kirchweg 12 kaputt", "Bank am Kaiserstraße kaputt"
    for left, right in zip(masked.transform_one(one), masked.transform_one(other), strict=True):
        assert left.tolist() == right.tolist()
    assert plain.transform_one(one)[0].tolist() != plain.transform_one(other)[0].tolist()
    assert masked.vocabulary.keys() >= {"radw", "weg "}  # "Radweg" itself was kept


def test_the_committed_model_masks_places_before_the_character_head() -> None:
    calibration = DEFAULT_MODEL_DIR / "stadtdialog_textcat" / "calibration.json"
    assert json.loads(calibration.read_text(encoding="utf-8"))["mask_places"] is TrainConfig().mask_places
