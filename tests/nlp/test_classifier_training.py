"""Training pieces: text preparation, character features, metrics, the confidence rule, and a tiny full training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score

from nlp.charngrams import CharNgramVectorizer
from nlp.embed import Embedder, EmbeddingCache
from nlp.metrics import compute
from nlp.model import FieldClassifier, ModelMismatchError
from nlp.text import fold, has_letters, prepare
from nlp.train import TrainConfig, TrainInputs, confidence_threshold, train

TINY_FIELDS = """\
fields:
  - key: verkehr
    name: {de: Verkehr, en: Traffic}
    description: {de: "Busse, Bahnen, Straßen und Radwege.", en: "Buses, trains, roads and cycle paths."}
  - key: natur
    name: {de: Natur, en: Nature}
    description: {de: "Bäume, Parks, Müll und Klima.", en: "Trees, parks, waste and climate."}
"""
TRAFFIC = ["Der Bus kommt zu spät", "Radweg voller Schlaglöcher", "Ampel an der Kreuzung kaputt",
           "Zu wenig Parkplätze am Bahnhof", "Die S-Bahn fällt ständig aus", "Stau jeden Morgen auf der Hauptstraße",
           "Mehr Busse am Abend bitte", "Die Straßenbahn ist überfüllt", "Baustelle blockiert die Straße",
           "Fahrradständer an der Haltestelle fehlen"]
NATURE = ["Der Park ist voller Müll", "Mehr Bäume pflanzen gegen Hitze", "Die Mülltonnen werden nicht geleert",
          "Solaranlagen auf alle Dächer", "Blühwiesen für Bienen anlegen", "Illegaler Sperrmüll im Wald",
          "Der Bach stinkt nach Öl", "Mehr Grünflächen in der Stadt", "Klimaschutz muss Vorrang haben",
          "Die Hecke im Stadtpark ist vertrocknet"]


def test_prepare_collapses_whitespace_caps_length_and_survives_broken_text() -> None:
    assert prepare("  Bus \n\n kommt\tnie  ") == "Bus kommt nie"
    assert len(prepare("x" * 100_000, max_chars=2000)) == 2000
    assert prepare("a\x00b") == "a b"
    assert prepare("\ud800ok").endswith("ok")


def test_letters_of_any_script_count_but_digits_and_emoji_do_not() -> None:
    assert has_letters("Straße") and has_letters("улица") and has_letters("x1")
    assert not has_letters("123 🙂 !?") and not has_letters("")


def test_umlaut_spellings_fold_to_the_same_form() -> None:
    assert fold("Straße") == fold("STRASSE") == "strasse"
    assert fold("Müll") == fold("Muell")


def test_character_features_match_scikit_learn_char_wb_on_folded_text() -> None:
    texts = ["Schlaglöcher überall!", "Der Bus  kommt nie", "a bb ccc dddd", "Radweg-Benutzungspflicht? Nein."]
    ours = CharNgramVectorizer.fit(texts, 2, 5)
    theirs = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, preprocessor=fold)
    reference = theirs.fit_transform(texts).toarray()
    order = [theirs.vocabulary_[gram] for gram in ours.grams]
    assert sorted(ours.vocabulary) == sorted(theirs.vocabulary_)
    for row, text in enumerate(texts):
        columns, values = ours.transform_one(text)
        dense = np.zeros(len(ours.vocabulary))
        dense[columns] = values
        np.testing.assert_allclose(dense, reference[row][order], rtol=1e-5, atol=1e-6)


@given(st.text(max_size=200))
def test_character_features_never_fail_and_are_unit_length_or_empty(text: str) -> None:
    vectorizer = CharNgramVectorizer.fit(["bus kommt", "müll im park", "ämter online"], 2, 4)
    columns, values = vectorizer.transform_one(text)
    norm = float(np.linalg.norm(values))
    assert len(columns) == len(values)
    assert norm == pytest.approx(1.0, abs=1e-5) or norm == 0.0


def test_metrics_agree_with_scikit_learn() -> None:
    labels = ("a", "b", "c")
    gold = ["a", "a", "b", "b", "c", "c", "c"]
    scores = np.array([[.9, .1, 0], [.2, .7, .1], [.1, .8, .1], [.6, .3, .1], [0, .3, .7], [.1, .1, .8], [.5, .1, .4]])
    metrics = compute(labels, gold, scores)
    predicted = [labels[i] for i in scores.argmax(axis=1)]
    assert metrics.macro_f1 == pytest.approx(f1_score(gold, predicted, average="macro"))
    assert metrics.accuracy == pytest.approx(4 / 7)
    assert metrics.top2_accuracy == pytest.approx(1.0)
    assert metrics.confusion == [[1, 1, 0], [1, 1, 0], [1, 0, 2]]


def test_confidence_threshold_is_lowest_probability_that_keeps_target_precision() -> None:
    top = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    assert confidence_threshold(top, correct, 0.75) == pytest.approx(0.7)
    assert confidence_threshold(top, correct, 1.0) == pytest.approx(0.9)
    assert confidence_threshold(np.array([0.9]), np.array([False]), 0.9) == 1.0


def test_embedding_cache_returns_what_the_embedder_computes(tmp_path: Path) -> None:
    embedder = Embedder(workers=2)
    texts = ["Bus kommt nie", "Müll im Park", "Bus kommt nie"]
    direct = embedder.embed_many(texts)
    cache = EmbeddingCache(tmp_path / "cache.npz")
    np.testing.assert_array_equal(cache.embed(embedder, texts), direct)
    cache.save()
    np.testing.assert_array_equal(EmbeddingCache(tmp_path / "cache.npz").embed(embedder, texts[:2]), direct[:2])
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    np.testing.assert_array_equal(EmbeddingCache(tmp_path / "broken.npz").embed(embedder, texts), direct)


def _jsonl(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, "field": f}, ensure_ascii=False) + "\n" for t, f in rows), "utf-8")
    return path


def test_another_city_can_swap_the_taxonomy_and_retrain(tmp_path: Path) -> None:
    fields = tmp_path / "fields.yaml"
    fields.write_text(TINY_FIELDS, encoding="utf-8")
    rows = [(t, "verkehr") for t in TRAFFIC] + [(t, "natur") for t in NATURE]
    train_file = _jsonl(tmp_path / "train.jsonl", rows[::2])
    dev_file = _jsonl(tmp_path / "dev.jsonl", rows[1::2])
    extra = _jsonl(tmp_path / "labels.jsonl", [("Die Linie 5 fährt nachts nicht", "verkehr")])
    inputs = TrainInputs(train=train_file, dev=dev_file, extra=[extra], fields_path=fields)
    logged: list[str] = []
    meta = train(inputs, tmp_path / "model", TrainConfig(embed_share=0.5), cache_path=None, log=logged.append)

    assert meta["labels"] == ["verkehr", "natur"] and meta["training_examples"] == 11
    assert any("embedding" in line for line in logged)
    lexicon = json.loads((tmp_path / "model" / "stadtdialog_textcat" / "umlauts.json").read_text(encoding="utf-8"))
    # Words of the project's training file are learnt; a word only a citizen's label file holds is not.
    assert lexicon["mapping"].get("muell") == "müll" and "faehrt" not in lexicon["mapping"]
    assert "nachts" not in lexicon["genuine"]
    classifier = FieldClassifier.load(tmp_path / "model", fields_path=fields)
    result = classifier.classify("Der Bus ist schon wieder ausgefallen")
    assert result.field == "verkehr" and set(result.scores) == {"verkehr", "natur"}
    with pytest.raises(ModelMismatchError, match="another taxonomy"):
        FieldClassifier.load(tmp_path / "model")

    again = train(inputs, tmp_path / "again", TrainConfig(embed_share=0.5), cache_path=None, log=logged.append)
    assert again["data_hash"] == meta["data_hash"]
    first, second = tmp_path / "model" / "stadtdialog_textcat", tmp_path / "again" / "stadtdialog_textcat"
    for name in ("ngrams.json", "calibration.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"training is not deterministic: {name}"
    with np.load(first / "heads.npz") as one, np.load(second / "heads.npz") as two:
        for key in one.files:
            np.testing.assert_array_equal(one[key], two[key], err_msg=f"training is not deterministic: {key}")
