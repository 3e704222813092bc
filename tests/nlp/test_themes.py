"""Themes: deterministic, stable ids as data grows, honest keywords and quotes, the CLI's output shape."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import nlp.themes as themes_module
from nlp.cli import main as nlp_main
from nlp.themes import ThemeInput, ThemeRegistry, ThemeSettings, cluster_labels, find_themes, mentions
from nlp.themes_eval import adjusted_rand_index

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# Three proposals of one field, each with its own words; vectors are noisy copies of one direction per proposal.
PROPOSALS = {
    "bank": ["Mehr Sitzbänke im Park", "Sitzbänke im Park fehlen", "Neue Sitzbänke am Park", "Bänke im Park bitte"],
    "klo": ["Öffentliche Toiletten fehlen", "Saubere öffentliche Toiletten", "Toiletten öffentliche am Markt"],
    "bad": ["Schwimmbad länger öffnen", "Das Schwimmbad abends öffnen", "Schwimmbad am Sonntag öffnen"],
}


def _vector(rng: np.random.Generator, centre: np.ndarray, noise: float = 0.25) -> np.ndarray:
    vector = centre + rng.normal(0, noise / np.sqrt(384), 384)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@pytest.fixture(scope="module")
def centres() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    common = rng.normal(0, 1, 384)  # e5-like: everything of one field shares a large common part
    result = {}
    for name in [*PROPOSALS, "neu"]:
        centre = common + 0.8 * rng.normal(0, 1, 384)
        result[name] = centre / np.linalg.norm(centre)
    return result


def _items(centres: dict[str, np.ndarray], names: list[str], seed: int, copies: int = 2) -> list[ThemeInput]:
    rng = np.random.default_rng(seed)
    items = []
    for name in names:
        texts = PROPOSALS.get(name, ["Hundewiese im Stadtteil", "Eine Hundewiese einzäunen", "Hundewiese im Park"])
        for copy in range(copies):
            for number, text in enumerate(texts):
                created = NOW - timedelta(days=10 + 25 * number + copy)
                items.append(ThemeInput(f"{text} {copy}", _vector(rng, centres[name]), "leben", created,
                                        quotable=number % 2 == 0))
    return items


def _snapshot(items: list[ThemeInput], registry: ThemeRegistry | None = None) -> dict[str, frozenset[str]]:
    result = find_themes(items, registry=registry)
    return {theme.id: frozenset(items[m].text for m in theme.members) for theme in result.themes}


def test_same_input_gives_the_same_output_byte_for_byte(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1)
    first, second = find_themes(items), find_themes(list(items))
    assert json.dumps([t.to_json() for t in first.themes]) == json.dumps([t.to_json() for t in second.themes])
    assert first.registry.to_json() == second.registry.to_json()
    assert len(first.themes) == 3


def test_themes_and_ids_do_not_depend_on_input_order(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1)
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    assert _snapshot(items) == _snapshot(shuffled)
    assert find_themes(items).registry.to_json() == find_themes(shuffled).registry.to_json()


def test_theme_ids_survive_new_texts_and_a_new_theme_gets_its_own_id(centres: dict[str, np.ndarray]) -> None:
    early = _items(centres, list(PROPOSALS), seed=1)
    before = find_themes(early)
    later = early + _items(centres, [*PROPOSALS, "neu"], seed=2, copies=1)
    random.Random(5).shuffle(later)
    after = _snapshot(later, registry=before.registry)
    for theme in before.themes:
        grown = after[theme.id]  # the same id again ...
        assert {early[m].text for m in theme.members} <= grown  # ... for the same texts plus the new ones
    new_ids = set(after) - {theme.id for theme in before.themes}
    assert len(new_ids) == 1 and any("Hundewiese" in text for text in after[new_ids.pop()])


def test_registry_round_trips_through_json(centres: dict[str, np.ndarray]) -> None:
    registry = find_themes(_items(centres, list(PROPOSALS), seed=1)).registry
    assert ThemeRegistry.from_json(registry.to_json()) == registry


def test_keywords_occur_in_at_least_k_member_texts(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1)
    for k in (2, 3, 5):
        result = find_themes(items, keyword_min_texts=k)
        assert any(theme.keywords for theme in result.themes)
        for theme in result.themes:
            for keyword in theme.keywords:
                containing = [m for m in theme.members if mentions(items[m].text, keyword)]
                assert len(containing) >= k, (keyword, theme.id)
    bank = next(t for t in find_themes(items).themes if any("Sitzbänke" in items[m].text for m in t.members))
    assert bank.keywords[:2] == ("Bänke", "Park")  # "Sitzbänke" counts for "Bänke", and is not listed twice


def test_a_keyword_is_mentioned_by_compounds_and_other_spellings_too() -> None:
    assert mentions("Neue Parkbänke aufstellen", "Bänke")
    assert mentions("mehr baenke bitte", "Bänke")
    assert mentions("Saubere öffentliche Toilette", "Toiletten")
    assert not mentions("Mehr Bäume pflanzen", "Bänke")


def test_representatives_are_only_quotable_members(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1)
    result = find_themes(items)
    for theme in result.themes:
        assert theme.representatives
        assert all(items[r].quotable and r in theme.members for r in theme.representatives)
    hidden = [ThemeInput(i.text, i.vector, i.field, i.created_at, quotable=False) for i in items]
    assert all(not theme.representatives for theme in find_themes(hidden).themes)


def test_trend_counts_the_last_period_against_the_one_before(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1)  # created 10, 35, 60 (85) days (and a day more) before NOW
    result = find_themes(items, settings=ThemeSettings(now=NOW))
    theme = next(t for t in result.themes if any("Sitzbänke" in items[m].text for m in t.members))
    assert (theme.trend.recent, theme.trend.previous, theme.trend.period_days) == (2, 2, 30)


def test_small_clusters_are_no_theme(centres: dict[str, np.ndarray]) -> None:
    items = _items(centres, list(PROPOSALS), seed=1) + _items(centres, ["neu"], seed=4, copies=1)[:2]
    result = find_themes(items, min_size=3)
    assert len(result.themes) == 3
    assert result.assignments[-2:] == (None, None)


def test_large_fields_are_condensed_first_and_stay_deterministic(
    centres: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    items = _items(centres, list(PROPOSALS), seed=1, copies=4)
    vectors = np.stack([item.vector for item in items])
    exact = cluster_labels(vectors)
    monkeypatch.setattr(themes_module, "EXACT_LIMIT", 12)
    condensed = cluster_labels(vectors)
    assert adjusted_rand_index(exact.tolist(), condensed.tolist()) == 1.0
    assert cluster_labels(vectors).tolist() == condensed.tolist()


def test_adjusted_rand_index_matches_a_hand_computed_example() -> None:
    # Pairs together in both: 1; in gold: 2; in prediction: 1; of 6 pairs. (1 - 1/3) / (3/2 - 1/3) = 4/7.
    assert adjusted_rand_index(["a", "a", "b", "b"], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand_index([1, 1, 2, 2], ["x", "x", "y", "y"]) == 1.0
    assert adjusted_rand_index([1, 2, 3, 4], [1, 1, 1, 1]) == 0.0


LINES = [
    "Mehr Sitzbänke im Park",
    "Im Park fehlen Sitzbänke für Ältere",
    "",
    "Sitzbänke im Park bitte, man kann nirgends sitzen",
    "Öffentliche Toiletten in der Innenstadt fehlen",
    "🙂🙂",
    "Saubere öffentliche Toiletten in der Innenstadt",
    "In der Innenstadt gibt es keine öffentlichen Toiletten",
]


def test_cli_prints_themes_with_line_numbers_keywords_and_quotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "ideas.txt"
    source.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    registry = tmp_path / "registry.json"
    assert nlp_main(["themes", str(source), "--json", "--registry", str(registry)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {tuple(theme["lines"]) for theme in printed} == {(1, 2, 4), (5, 7, 8)}
    for theme in printed:
        assert set(theme) == {"id", "field", "size", "keywords", "lines", "representatives"}
        assert theme["keywords"] and theme["size"] == 3
        for quote in theme["representatives"]:
            assert quote["line"] in theme["lines"] and quote["text"] == LINES[quote["line"] - 1]
    ids = {theme["id"] for theme in printed}
    assert ids == {theme["id"] for theme in json.loads(registry.read_text(encoding="utf-8"))["themes"]}
    assert nlp_main(["themes", str(source), "--one-field"]) == 0
    readable = capsys.readouterr().out
    assert "all-" in readable and "2 themes; 0 of 6 texts in no theme" in readable
