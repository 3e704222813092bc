"""The similar-ideas matcher: what the bot and `stadtdialog nlp similar` rely on."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp.embed import EmbeddingCache, FloatArray
from nlp.similar import DEFAULT_PARAMS, MatchIndex, MatchParams, pair_features, text_keys
from nlp.similarcli import similar_stream
from nlp.similarfit import CACHE, Item, embed, load_items

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def params() -> MatchParams:
    return MatchParams.load()


@pytest.fixture(scope="session")
def test_split() -> tuple[list[Item], FloatArray]:
    """The TEST texts and their e5 vectors (embedded once per session; the gitignored cache speeds reruns)."""
    items = load_items("test")
    return items, embed([item.text for item in items], "query", EmbeddingCache(CACHE))


def _unit_vectors(count: int, seed: int = 7) -> FloatArray:
    vectors = np.random.default_rng(seed).standard_normal((count, 384)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_keys_ignore_case_umlaut_spelling_and_plural_endings() -> None:
    assert text_keys("Mehr Mülleimer aufstellen") == text_keys("mehr muelleimer aufstellen")
    assert text_keys("Bäume pflanzen") == text_keys("Baum pflanzen")
    assert text_keys("Bitte, die Stadt sollte das machen!") == []
    assert json.loads(json.dumps(text_keys("Radweg zum Bahnhof"))) == text_keys("Radweg zum Bahnhof")


def test_cli_answers_every_query_with_one_json_line_and_numbers_corpus_lines_from_one(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "Mehr Fahrradständer am Hauptbahnhof Elberfeld\n\n🙂\nDie Schwebebahn soll am Wochenende nachts fahren\n"
        "Mehr Mülleimer am Von-der-Heydt-Platz\n",
        encoding="utf-8",
    )
    queries = "Die Schwebebahn soll am Wochenende nachts fahren\n\n🙂\nMülleimer öfter leeren\n"
    sink = io.StringIO()
    assert similar_stream(corpus, DEFAULT_PARAMS, io.StringIO(queries), sink) == 0
    answers = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert len(answers) == 4  # the blank query and the emoji-only query are answered too
    assert all(set(answer) == {"matches", "duplicate"} for answer in answers)
    assert answers[0]["matches"][0]["line"] == 4  # the blank line 2 and the emoji line 3 keep their numbers
    assert answers[0]["duplicate"] is True
    assert answers[1] == answers[2] == {"matches": [], "duplicate": False}
    assert answers[3] == {"matches": [], "duplicate": False}  # emptying bins is not placing more bins
    for answer in answers:
        scores = [match["score"] for match in answer["matches"]]
        assert scores == sorted(scores, reverse=True) and len(scores) <= 3


def test_cli_entry_point_speaks_the_same_contract(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Freies WLAN in der Elberfelder Fußgängerzone\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "nlp.cli", "similar", "--corpus", str(corpus)],
        input="Freies WLAN in der Elberfelder Fußgängerzone\nTempo 30 vor Schulen\n",
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["duplicate"] for line in lines] == [True, False]
    assert lines[0]["matches"][0]["line"] == 1


def test_hard_negatives_of_the_test_split_stay_unmatched(
    params: MatchParams, test_split: tuple[list[Item], FloatArray]
) -> None:
    items, vectors = test_split
    keys = [text_keys(item.text) for item in items]
    hubs = params.hubness(vectors @ params.projection.T)
    hard = [
        (a, b) for a, b in itertools.combinations(range(len(items)), 2)
        if items[a].cluster == items[b].cluster and items[a].group != items[b].group
    ]
    matched = [
        (a, b) for a, b in hard
        if params.probability(pair_features(float(vectors[a] @ vectors[b]), keys[a], keys[b], hubs[a], hubs[b]))
        >= params.threshold
    ]
    assert len(hard) > 300
    assert len(matched) / len(hard) <= 0.02, [(items[a].text, items[b].text) for a, b in matched]


def test_search_on_the_test_split_shows_mostly_the_same_proposal(
    params: MatchParams, test_split: tuple[list[Item], FloatArray]
) -> None:
    items, vectors = test_split
    index = MatchIndex.build([str(i) for i in range(len(items))], vectors, [text_keys(i.text) for i in items], params)
    shown = [
        (i, int(match.id)) for i, item in enumerate(items)
        for match in index.search(item.text, vectors[i], limit=4) if match.id != str(i)
    ]
    right = sum(items[i].group == items[j].group for i, j in shown)
    assert shown and right / len(shown) >= 0.85  # measured 32 of 36 (docs/ideas.md)


def test_the_threshold_file_is_what_the_index_applies(params: MatchParams) -> None:
    data = json.loads(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    assert MatchIndex().params.threshold == data["threshold"] == params.threshold
    vectors = _unit_vectors(2)
    vectors[1] = (vectors[0] + 0.4 * vectors[1]) / np.linalg.norm(vectors[0] + 0.4 * vectors[1])
    rows = ["Sitzbänke am Spielplatz", "Bänke am Spielplatz für Eltern"]
    everything = dataclasses.replace(params, threshold=0.0, min_cosine=-1.0)
    found = MatchIndex.build(["a", "b"], vectors, [text_keys(t) for t in rows], everything).search(rows[0], vectors[0])
    assert [match.id for match in found] == ["a", "b"]
    strict = MatchIndex.build(["a", "b"], vectors, [text_keys(t) for t in rows], params).search(rows[0], vectors[0])
    assert all(match.score >= params.threshold for match in strict)
    assert {match.id for match in strict} == {m.id for m in found if m.score >= params.threshold}


def test_index_add_replace_and_remove(params: MatchParams) -> None:
    vectors = _unit_vectors(3)
    index = MatchIndex(params, capacity=1)
    texts = ["Freibad erhalten", "Skatepark bauen", "Hundewiese"]
    for identifier, text, vector in zip("xyz", texts, vectors, strict=True):
        index.add(identifier, text, vector)
    assert len(index) == 3 and "y" in index
    assert [m.id for m in index.search("Skatepark bauen", vectors[1])] == ["y"]
    assert index.remove("y") and not index.remove("y") and len(index) == 3 - 1
    assert index.search("Skatepark bauen", vectors[1]) == []
    assert [m.id for m in index.search("Hundewiese", vectors[2])] == ["z"]  # moved into the freed row
    index.add("x", ["hundewies"], vectors[2])  # replacing keeps one row per id; keys may be given directly
    assert len(index) == 2
    assert {m.id for m in index.search("Hundewiese", vectors[2])} == {"x", "z"}
    assert not index.is_duplicate("Skatepark bauen", vectors[1])


def test_search_is_deterministic(params: MatchParams, test_split: tuple[list[Item], FloatArray]) -> None:
    items, vectors = test_split
    keys = [text_keys(item.text) for item in items]
    first = MatchIndex.build([str(i) for i in range(len(items))], vectors, keys, params)
    second = MatchIndex.build([str(i) for i in range(len(items))], vectors.copy(), keys, params)
    for i in range(0, len(items), 7):
        assert first.search(items[i].text, vectors[i]) == second.search(items[i].text, vectors[i])


def test_build_rejects_rows_that_do_not_line_up(params: MatchParams) -> None:
    with pytest.raises(ValueError):
        MatchIndex.build(["a", "b"], _unit_vectors(3), [[], [], []], params)
    with pytest.raises(ValueError):
        MatchIndex.build(["a", "a"], _unit_vectors(2), [[], []], params)


def test_the_matcher_embeds_like_the_classifier_so_one_stored_vector_serves_both() -> None:
    config = (ROOT / "nlp" / "model" / "config.cfg").read_text(encoding="utf-8")
    assert f'prefix = "{MatchParams.load().prefix}"' in config


def test_cli_with_a_corpus_of_blank_lines_still_answers_every_query(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n", encoding="utf-8")
    sink = io.StringIO()
    similar_stream(corpus, DEFAULT_PARAMS, io.StringIO("Mehr Bäume pflanzen\n"), sink)
    assert [json.loads(line) for line in sink.getvalue().splitlines()] == [{"matches": [], "duplicate": False}]
