"""Corpus checks: normalisation, near-duplicate search, strict reading and the whole-corpus check."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp.datacheck import (
    DataError,
    Example,
    check_corpus,
    main,
    near_duplicates,
    normalise,
    read_jsonl,
)
from nlp.fields import load_fields

KEYS = ("mobilitaet", "umwelt")
REAL_DATA = Path(__file__).resolve().parents[2] / "nlp" / "data"


def _write(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def _random_texts(count: int, seed: int) -> list[str]:
    """Distinct word salads whose 5-grams hardly overlap, like independently written sentences."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzäöüß"
    return [
        " ".join("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(rng.randint(6, 14)))
        for _ in range(count)
    ]


def _clean_corpus(directory: Path) -> dict[str, list[dict[str, object]]]:
    texts = iter(_random_texts(800 + 240 + 240 + 160, seed=7))
    sizes = {"train": 400, "dev": 60, "test": 60}
    corpus: dict[str, list[dict[str, object]]] = {
        name: [{"text": next(texts), "field": key} for key in KEYS for _ in range(size)] for name, size in sizes.items()
    }
    corpus["defects"] = [{"text": next(texts), "field": KEYS[i % 2]} for i in range(160)]
    for name, records in corpus.items():
        _write(directory / f"{name}.jsonl", records)
    return corpus


# --- normalise ---------------------------------------------------------------------------------------------


def test_normalise_folds_case_umlauts_and_sharp_s() -> None:
    assert normalise("Straße voller MÜLL, Ärger über Öffnungszeiten") == (
        "strasse voller muell aerger ueber oeffnungszeiten"
    )


def test_normalise_turns_punctuation_and_whitespace_into_single_spaces() -> None:
    assert normalise("  Hallo!!!   Wann kommt\tder Bus???\n(Linie 5)  ") == "hallo wann kommt der bus linie 5"
    assert normalise("Café") == normalise("Cafe") == "cafe"


@settings(max_examples=500)
@given(st.text())
def test_normalise_is_idempotent_and_leaves_only_single_spaced_words(text: str) -> None:
    result = normalise(text)
    assert normalise(result) == result
    assert result == result.strip()
    assert "  " not in result
    assert not any(char in result for char in "äöüß!?.,;:\n\t")


# --- near_duplicates ---------------------------------------------------------------------------------------


def test_spelling_variants_of_the_same_text_are_near_duplicates() -> None:
    train = [Example("Die Straße vor der Schule ist voller Müll!", "umwelt")]
    held_out = [Example("die strasse vor der schule ist voller muell", "umwelt")]
    assert near_duplicates(train, held_out) == [(0, 0, 1.0)]


def test_lightly_edited_copy_is_found_but_unrelated_text_is_not() -> None:
    original = "Die Ampel an der Kreuzung Hauptstraße und Kirchweg ist seit drei Tagen komplett ausgefallen."
    train = [
        Example("Im Stadtpark fehlen Mülleimer, überall liegen Verpackungen herum.", "umwelt"),
        Example(original, "mobilitaet"),
    ]
    held_out = [
        Example("Wann öffnet das Hallenbad nach der Sanierung wieder?", "leben"),
        Example(original.replace("drei", "vier"), "mobilitaet"),
    ]
    pairs = near_duplicates(train, held_out)
    assert [(i, j) for i, j, _ in pairs] == [(1, 1)]
    assert 0.8 <= pairs[0][2] < 1.0


def test_text_contained_in_a_longer_one_counts_as_duplicate() -> None:
    sentence = "Der Radweg an der Uferstraße endet plötzlich im Nichts."
    train = [
        Example(f"{sentence} Bitte endlich durchgehend bis zum Bahnhof bauen, das ist gefährlich für Kinder.", "x")
    ]
    held_out = [Example(sentence, "x")]
    assert near_duplicates(train, held_out) == [(0, 0, 1.0)]
    # Containment works in both directions: the shorter text may sit in either set.
    assert near_duplicates(held_out, train) == [(0, 0, 1.0)]


def test_containment_of_a_very_short_text_is_ignored() -> None:
    train = [Example("Schlagloch", "mobilitaet")]
    held_out = [Example("Seit Wochen ein riesiges Schlagloch vor der Einfahrt, wann wird das repariert?", "mobilitaet")]
    assert near_duplicates(train, held_out) == []


def test_threshold_decides_how_similar_texts_must_be() -> None:
    train = [Example("Bitte mehr Bänke und Schatten auf dem Marktplatz aufstellen", "leben")]
    held_out = [Example("Bitte mehr Bänke und Bäume auf dem Marktplatz pflanzen", "leben")]
    ((_, _, similarity),) = near_duplicates(train, held_out, threshold=0.3)
    assert 0.3 <= similarity < 0.8
    assert near_duplicates(train, held_out, threshold=0.8) == []


def _brute_force(train: list[str], held_out: list[str], threshold: float) -> list[tuple[int, int]]:
    def shingles(text: str) -> set[str]:
        norm = normalise(text)
        return {norm[i : i + 5] for i in range(len(norm) - 4)} if len(norm) > 5 else {norm}

    pairs = []
    for j, held in enumerate(held_out):
        for i, other in enumerate(train):
            a, b = shingles(held), shingles(other)
            shorter, longer = sorted((normalise(held), normalise(other)), key=len)
            contained = len(shorter) >= 20 and shorter in longer
            if contained or len(a & b) / len(a | b) >= threshold:
                pairs.append((i, j))
    return sorted(pairs)


words = st.sampled_from(["bus", "bahn", "müll", "baum", "die", "der", "straße", "ampel", "kaputt", "seit", "tagen"])
sentences = st.lists(words, min_size=1, max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(sentences, min_size=1, max_size=8),
    st.lists(sentences, min_size=1, max_size=8),
    st.sampled_from([0.5, 0.8, 0.9]),
)
def test_fast_search_finds_exactly_what_comparing_every_pair_finds(
    train: list[str], held_out: list[str], threshold: float
) -> None:
    found = near_duplicates([Example(t, "x") for t in train], [Example(t, "x") for t in held_out], threshold)
    assert [(i, j) for i, j, _ in found] == _brute_force(train, held_out, threshold)


def test_search_over_3000_by_1000_texts_takes_seconds_not_minutes() -> None:
    texts = _random_texts(4000, seed=11)
    train = [Example(text, "x") for text in texts[:3000]]
    held_out = [Example(text, "x") for text in texts[3000:]]
    held_out[10] = Example(train[42].text.upper() + "!", "x")
    started = time.perf_counter()
    pairs = near_duplicates(train, held_out)
    assert time.perf_counter() - started < 10
    assert [(i, j) for i, j, _ in pairs] == [(42, 10)]


# --- read_jsonl --------------------------------------------------------------------------------------------


def test_read_jsonl_reads_text_field_and_secondary_fields(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "dev.jsonl", [{"text": " Mehr Bäume an Radwegen ", "field": "umwelt", "also": ["mobilitaet"]}]
    )
    path.write_text(path.read_text(encoding="utf-8") + '\n{"text": "Ampel defekt", "field": "mobilitaet"}\n')
    assert read_jsonl(path, KEYS) == [
        Example("Mehr Bäume an Radwegen", "umwelt", ("mobilitaet",)),
        Example("Ampel defekt", "mobilitaet"),
    ]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"text": "Ampel kaputt", "field": "mobilitaet"', "invalid JSON"),
        ('["Ampel kaputt", "mobilitaet"]', "JSON object"),
        ('{"text": "Ampel kaputt", "field": "verkehr"}', "unknown field 'verkehr'"),
        ('{"text": "   ", "field": "mobilitaet"}', "non-empty"),
        ('{"field": "mobilitaet"}', "non-empty"),
        ('{"text": "Ampel kaputt", "field": "mobilitaet", "also": ["klima"]}', "unknown field 'klima' in 'also'"),
        ('{"text": "Ampel kaputt", "field": "mobilitaet", "also": ["mobilitaet"]}', "repeats"),
        ('{"text": "Ampel kaputt", "field": "mobilitaet", "also": "umwelt"}', "list of field keys"),
        ('{"text": "Ampel kaputt", "feld": "mobilitaet"}', "unexpected key"),
    ],
)
def test_read_jsonl_names_file_and_line_of_a_bad_record(tmp_path: Path, bad_line: str, message: str) -> None:
    path = tmp_path / "test.jsonl"
    path.write_text('{"text": "Mehr Grün", "field": "umwelt"}\n\n' + bad_line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_jsonl(path, KEYS)
    assert caught.value.path == path and caught.value.line == 3
    assert message in caught.value.message
    assert str(path) in str(caught.value)


# --- check_corpus and the command line ---------------------------------------------------------------------


def test_clean_corpus_has_no_problems(tmp_path: Path) -> None:
    _clean_corpus(tmp_path)
    assert check_corpus(tmp_path, KEYS) == []


def test_check_corpus_reports_counts_duplicates_and_leaks(tmp_path: Path) -> None:
    corpus = _clean_corpus(tmp_path)
    corpus["train"] = corpus["train"][1:]  # 399 mobilitaet examples
    leaked = str(corpus["train"][5]["text"])
    corpus["test"][3] = {"text": leaked.upper() + "!!", "field": "mobilitaet"}
    corpus["dev"][0] = {"text": str(corpus["test"][70]["text"]), "field": "mobilitaet"}
    corpus["dev"][1] = dict(corpus["dev"][2])
    for name in ("train", "dev", "test"):
        _write(tmp_path / f"{name}.jsonl", corpus[name])
    (tmp_path / "defects.jsonl").unlink()

    problems = check_corpus(tmp_path, KEYS)

    def has(*parts: str) -> bool:
        return any(all(part in line for part in parts) for line in problems)

    assert has("defects.jsonl", "missing")
    assert has("train.jsonl", "'mobilitaet' has 399", "at least 400")
    assert has("dev.jsonl:3", "duplicate of line 2")
    assert has("near-duplicate", "train.jsonl:6", "test.jsonl:4")
    assert has("near-duplicate", "dev.jsonl:1", "test.jsonl:71")
    assert len(problems) == 5, "\n".join(problems)


def test_check_corpus_reports_an_unreadable_file_instead_of_crashing(tmp_path: Path) -> None:
    _clean_corpus(tmp_path)
    with (tmp_path / "dev.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"text": "kaputt", "field": "nirgendwo"}\n')
    problems = check_corpus(tmp_path, KEYS)
    assert len(problems) == 1 and "dev.jsonl:121" in problems[0] and "nirgendwo" in problems[0]


def test_command_prints_counts_and_exit_code_tells_whether_corpus_is_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fields = tmp_path / "fields.yaml"
    fields.write_text(
        "fields:\n" + "".join(f"  - key: {key}\n    name: {key}\n    description: {key}\n" for key in KEYS),
        encoding="utf-8",
    )
    _clean_corpus(tmp_path)
    assert main([str(tmp_path), "--fields", str(fields)]) == 0
    output = capsys.readouterr().out
    assert "mobilitaet" in output and "400" in output and "no problems" in output

    (tmp_path / "defects.jsonl").write_text('{"text": "Bank kaputt", "field": "umwelt"}\n', encoding="utf-8")
    assert main([str(tmp_path), "--fields", str(fields)]) == 1
    assert "defects.jsonl: 1 examples, need at least 150" in capsys.readouterr().out


# --- the real corpus ---------------------------------------------------------------------------------------


def test_shipped_corpus_is_complete_balanced_and_free_of_leaks() -> None:
    if not (REAL_DATA / "train.jsonl").exists():
        pytest.skip("nlp/data/train.jsonl is not written yet (the training corpus is added separately)")
    keys = [field.key for field in load_fields()]
    problems = check_corpus(REAL_DATA, keys)
    assert problems == [], "\n".join(problems)
