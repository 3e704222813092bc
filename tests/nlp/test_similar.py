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
from nlp.similar import (
    DEFAULT_PARAMS,
    MatcherError,
    MatchIndex,
    MatchParams,
    is_place_key,
    operators,
    operators_clash,
    pair_features,
    shares_content_key,
    text_keys,
)
from nlp.similarcli import similar_stream
from nlp.similarfit import (
    CACHE,
    Item,
    SearchResults,
    embed,
    load_items,
    lowest_search_threshold,
    lowest_threshold,
    places_fingerprint,
)

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
    assert shown and right / len(shown) >= 0.95  # measured 28 of 28 (docs/ideas.md)


def test_place_keys_are_districts_stations_roads_and_street_names_not_what_is_proposed() -> None:
    for text in ("Barmen", "Elberfelder", "Vohwinkler", "Uellendahl-Katernberg", "Ölberg", "Oelberg", "B7",
                 "Talachse", "Nordbahntrasse", "Hbf", "Schwebebahnhaltestellen", "Bushaltestelle", "Luisenviertel",
                 "Kaiserstraße", "Bahnhofstraße"):
        assert text_keys(text) and all(is_place_key(key) for key in text_keys(text)), text
    for text in ("Spielplatz", "Radweg", "Hauptstraße", "Fahrradstraße", "Ladestation", "Mülleimer", "Schwebebahn",
                 "Linde", "Fahrradständer", "WLAN"):
        assert not any(is_place_key(key) for key in text_keys(text)), text


def test_sharing_only_a_place_is_no_evidence_of_the_same_idea(params: MatchParams) -> None:
    wlan, toilets = "Freies WLAN in Barmen und Elberfeld", "Öffentliche Toiletten in Elberfeld und Barmen"
    features = pair_features(0.99, text_keys(wlan), text_keys(toilets), 0.0, 0.0)
    assert not shares_content_key(features) and params.probability(features) == 0.0
    # Not even an identical embedding makes them a match: the only shared keys are places.
    vector = _unit_vectors(1)[0]
    index = MatchIndex.build(["toilets"], vector[None, :], [text_keys(toilets)], params)
    assert index.search(wlan, vector) == [] and not index.is_duplicate(wlan, vector)
    assert MatchIndex.build(["wlan"], vector[None, :], [text_keys(wlan)], params).search(wlan, vector) != []


def test_a_shared_place_neither_adds_nor_removes_key_evidence() -> None:
    plain = pair_features(0.9, text_keys("Mehr Mülleimer aufstellen"), text_keys("Zusätzliche Mülleimer"), 0.0, 0.0)
    placed = pair_features(
        0.9, text_keys("Mehr Mülleimer am Bahnhof Vohwinkel aufstellen"),
        text_keys("Zusätzliche Mülleimer in Vohwinkel"), 0.0, 0.0,
    )
    assert placed == plain and shares_content_key(plain)


def test_threshold_rules_stop_at_the_first_precision_below_target() -> None:
    scores = np.array([0.99, 0.98, 0.97, 0.5, 0.4, 0.0], dtype=np.float32)
    assert lowest_threshold(scores, [1, 1, 1, 0, 1, 0]) == pytest.approx(0.97)
    assert lowest_threshold(scores, [0, 1, 1, 1, 1, 1]) == 1.0  # the best-scored pair is wrong: show nothing
    assert lowest_threshold(np.array([0.9, 0.0], dtype=np.float32), [1, 1]) == pytest.approx(0.9)  # 0: no key
    results = SearchResults([[(0.99, True), (0.95, True), (0.9, False)], [(0.97, True), (0.6, True)]], wanted=6)
    assert results.at(0.95) == (3, 3) and results.at(0.0, shown=1) == (2, 2)
    assert lowest_search_threshold(results) == pytest.approx(0.95)


def test_the_fit_met_the_target_on_dev_for_pairs_and_for_the_search_path(params: MatchParams) -> None:
    fit = json.loads(DEFAULT_PARAMS.read_text(encoding="utf-8"))["fit"]
    assert fit["chosen_on"] == "dev"
    assert fit["places_sha256"] == places_fingerprint()  # places.txt changed: re-run python -m nlp.similarfit
    assert params.threshold >= max(fit["threshold_pairs"], fit["threshold_search"])
    assert fit["dev_out_of_fold"]["precision"] >= 0.95
    assert fit["dev_out_of_fold_search"]["precision"] >= 0.95


def test_a_parameter_file_fitted_with_place_keys_counted_is_refused(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_PARAMS.read_text(encoding="utf-8"))
    data["features"] = [
        "cosine", "key_jaccard", "coverage_min", "coverage_max", "gram_dice", "cosine_x_coverage", "cosine_csls",
    ]
    old = tmp_path / "matcher.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    old.with_suffix(".npz").write_bytes(DEFAULT_PARAMS.with_suffix(".npz").read_bytes())
    with pytest.raises(MatcherError):
        MatchParams.load(old)


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


def test_the_issues_own_hard_negatives_are_no_matches_and_their_paraphrases_are(tmp_path: Path) -> None:
    """"Fahrradständer am Bahnhof" vs "Radweg zum Bahnhof", "mehr Mülleimer" vs "Mülleimer öfter leeren": same topic,
    other proposal. Short texts share their object word; what they want done differs (`operators_clash`), or too
    little of each is shared (`MIN_CONTENT_COVERAGE`)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "Fahrradständer am Bahnhof\nmehr Mülleimer\nMehr Mülleimer im Mirker Park\n"
        "Mehr Sitzbänke an der Nordbahntrasse\n",
        encoding="utf-8",
    )
    queries = [
        "Radweg zum Bahnhof",
        "Mülleimer öfter leeren",
        "Die Mülleimer in der Innenstadt sollten öfter geleert werden",
        "Mülleimer im Mirker Park öfter leeren",
        "Mehr Fahrradständer am Bahnhof",
        "Bitte mehr Bänke entlang der Nordbahntrasse aufstellen",
    ]
    sink = io.StringIO()
    similar_stream(corpus, DEFAULT_PARAMS, io.StringIO("\n".join(queries) + "\n"), sink)
    found = [[match["line"] for match in json.loads(line)["matches"]] for line in sink.getvalue().splitlines()]
    assert found[:4] == [[], [], [], []]
    assert found[4] == [1] and found[5] == [4]


def test_operators_name_what_a_text_wants_done_by_meaning() -> None:
    more, often = operators(text_keys("Mehr Mülleimer")), operators(text_keys("Mülleimer öfter leeren"))
    assert more == {"more"} and often == {"often", "empty"} and operators_clash(more, often)
    assert not operators_clash(more, operators(text_keys("zusätzliche Mülleimer aufstellen")))
    assert not operators_clash(more, operators(text_keys("Mülleimer im Park")))  # one says nothing: no clash
