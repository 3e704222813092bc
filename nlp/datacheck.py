"""Checks of the strategy-field corpus in `nlp/data/`: format, counts, duplicates and train/held-out leakage.

`python -m nlp.datacheck [DATA_DIR]` prints a table of counts per field and file, then every problem found;
it exits with 1 when there is a problem, so it can guard a build.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from nlp.fields import DEFAULT_PATH, TaxonomyError, load_fields

DEFAULT_DATA_DIR = Path(__file__).with_name("data")
SHINGLE_SIZE = 5
# Containment of very short texts ("Schlagloch") says nothing about leakage, so it needs this many characters.
MIN_CONTAINED_CHARS = 20
MIN_PER_FIELD = {"train": 400, "dev": 60, "test": 60}
MIN_DEFECTS = 150
FILES = ("train", "dev", "test", "defects")
HELD_OUT = ("dev", "test", "defects")
ALLOWED_KEYS = frozenset({"text", "field", "also"})

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_NON_WORD = re.compile(r"[\W_]+")


class DataError(Exception):
    """A corpus file cannot be used; names the file and the 1-based line that is wrong."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Example:
    """One labelled text: its primary strategy field and further fields it clearly touches."""

    text: str
    field: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Located:
    line: int
    example: Example


def _parse_line(path: Path, number: int, raw: str, field_keys: Collection[str]) -> Example:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(path, number, f"invalid JSON: {exc.msg}") from exc
    if not isinstance(record, dict):
        raise DataError(path, number, "expected a JSON object")
    unexpected = sorted(set(record) - ALLOWED_KEYS)
    if unexpected:
        raise DataError(path, number, f"unexpected key(s) {unexpected}; allowed: {sorted(ALLOWED_KEYS)}")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise DataError(path, number, "'text' must be a non-empty string")
    field = record.get("field")
    if not isinstance(field, str) or field not in field_keys:
        raise DataError(path, number, f"unknown field {field!r}; known: {sorted(field_keys)}")
    also_raw = record.get("also", [])
    if not isinstance(also_raw, list) or not all(isinstance(key, str) for key in also_raw):
        raise DataError(path, number, "'also' must be a list of field keys")
    for key in also_raw:
        if key not in field_keys:
            raise DataError(path, number, f"unknown field {key!r} in 'also'; known: {sorted(field_keys)}")
    if field in also_raw or len(set(also_raw)) != len(also_raw):
        raise DataError(path, number, "'also' repeats a field (or the primary field)")
    return Example(text=text.strip(), field=field, also=tuple(also_raw))


def _read_located(path: Path, field_keys: Collection[str]) -> list[_Located]:
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, 0, f"cannot read: {exc}") from exc
    return [
        _Located(number, _parse_line(path, number, raw, field_keys))
        for number, raw in enumerate(content.splitlines(), start=1)
        if raw.strip()
    ]


def read_jsonl(path: Path, field_keys: Collection[str]) -> list[Example]:
    """Read a corpus file (one JSON object per line, blank lines ignored); raises DataError on the first bad line."""
    return [located.example for located in _read_located(path, field_keys)]


def normalise(text: str) -> str:
    """Lower-case, fold umlauts (ä→ae, ß→ss) and accents, and turn each run of punctuation/space into one space."""
    lowered = unicodedata.normalize("NFC", text).lower().translate(_UMLAUTS)
    # Accents beyond the German umlauts (é, ñ) are dropped so "Cafe" and "Café" compare equal.
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    # Compatibility decomposition can yield new capitals ("℠" -> "SM"), so fold case once more.
    return _NON_WORD.sub(" ", stripped.lower().translate(_UMLAUTS)).strip()


def _shingles(normalised: str) -> frozenset[str]:
    if len(normalised) <= SHINGLE_SIZE:
        return frozenset({normalised})
    return frozenset(normalised[i : i + SHINGLE_SIZE] for i in range(len(normalised) - SHINGLE_SIZE + 1))


def near_duplicates(
    train: Sequence[Example], held_out: Sequence[Example], threshold: float = 0.8
) -> list[tuple[int, int, float]]:
    """Pairs (train index, held-out index, similarity) whose normalised texts are near-identical, sorted.

    Similarity is the Jaccard index of character 5-gram sets; when one normalised text of at least
    MIN_CONTAINED_CHARS characters is contained in the other, the pair counts with similarity 1.0.
    """
    train_texts = [normalise(example.text) for example in train]
    held_texts = [normalise(example.text) for example in held_out]
    found = _similar_sets(
        [_shingles(text) for text in train_texts], [_shingles(text) for text in held_texts], threshold
    )
    for pair in _containments(train_texts, held_texts):
        found[pair] = 1.0
    return sorted((train_index, held_index, score) for (train_index, held_index), score in found.items())


def _similar_sets(
    train_sets: Sequence[frozenset[str]], held_sets: Sequence[frozenset[str]], threshold: float
) -> dict[tuple[int, int], float]:
    # Prefix filtering (as in all-pairs similarity joins): J(A, B) >= t implies |A & B| >= t * max(|A|, |B|), so
    # with all shingles in one global order, the first |X| - floor(t*|X|) + 1 shingles of A and of B overlap.
    # Ordering rarest first keeps the posting lists of those prefixes short.
    frequency = Counter(shingle for shingles in (*train_sets, *held_sets) for shingle in shingles)

    def prefix(shingles: frozenset[str]) -> list[str]:
        ordered = sorted(shingles, key=lambda shingle: (frequency[shingle], shingle))
        return ordered[: len(ordered) - int(threshold * len(ordered)) + 1]

    index: defaultdict[str, list[int]] = defaultdict(list)
    for train_index, shingles in enumerate(train_sets):
        for shingle in prefix(shingles):
            index[shingle].append(train_index)
    found: dict[tuple[int, int], float] = {}
    for held_index, shingles in enumerate(held_sets):
        candidates = {train_index for shingle in prefix(shingles) for train_index in index.get(shingle, ())}
        for train_index in candidates:
            other = train_sets[train_index]
            # Size filter: the smaller set must hold at least t times the larger one.
            if min(len(shingles), len(other)) < threshold * max(len(shingles), len(other)):
                continue
            shared = len(shingles & other)
            jaccard = shared / (len(shingles) + len(other) - shared)
            if jaccard >= threshold:
                found[train_index, held_index] = jaccard
    return found


def _containments(train_texts: Sequence[str], held_texts: Sequence[str]) -> set[tuple[int, int]]:
    """(train index, held-out index) where one text (long enough to mean something) contains the other."""
    pairs: set[tuple[int, int]] = set()
    for needles, haystacks, needle_is_train in ((held_texts, train_texts, False), (train_texts, held_texts, True)):
        # Normalised texts contain no newline, so a match in the joined string never spans two texts.
        joined = "\n".join(haystacks)
        starts = list(accumulate((len(text) + 1 for text in haystacks[:-1]), initial=0))
        for needle_index, needle in enumerate(needles):
            if len(needle) < MIN_CONTAINED_CHARS:
                continue
            position = joined.find(needle)
            while position != -1:
                hay_index = bisect_right(starts, position) - 1
                pairs.add((needle_index, hay_index) if needle_is_train else (hay_index, needle_index))
                next_start = starts[hay_index + 1] if hay_index + 1 < len(starts) else len(joined)
                position = joined.find(needle, next_start)
    return pairs


def _snippet(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _count_problems(name: str, examples: Sequence[_Located], field_keys: Collection[str]) -> list[str]:
    if name == "defects":
        if len(examples) < MIN_DEFECTS:
            return [f"defects.jsonl: {len(examples)} examples, need at least {MIN_DEFECTS}"]
        return []
    minimum = MIN_PER_FIELD[name]
    counts = Counter(located.example.field for located in examples)
    return [
        f"{name}.jsonl: field '{key}' has {counts[key]} examples, need at least {minimum}"
        for key in field_keys
        if counts[key] < minimum
    ]


def _duplicate_problems(name: str, examples: Sequence[_Located]) -> list[str]:
    first_line: dict[str, int] = {}
    problems: list[str] = []
    for located in examples:
        key = normalise(located.example.text)
        if key in first_line:
            problems.append(
                f"{name}.jsonl:{located.line}: duplicate of line {first_line[key]}: {_snippet(located.example.text)!r}"
            )
        else:
            first_line[key] = located.line
    return problems


def _leak_problems(left_name: str, left: Sequence[_Located], right_name: str, right: Sequence[_Located]) -> list[str]:
    pairs = near_duplicates([item.example for item in left], [item.example for item in right])
    return [
        f"near-duplicate ({similarity:.2f}): {left_name}.jsonl:{left[i].line} {_snippet(left[i].example.text)!r}"
        f" ~ {right_name}.jsonl:{right[j].line} {_snippet(right[j].example.text)!r}"
        for i, j, similarity in pairs
    ]


def _load_all(data_dir: Path, field_keys: Collection[str]) -> tuple[dict[str, list[_Located]], list[str]]:
    loaded: dict[str, list[_Located]] = {}
    problems: list[str] = []
    for name in FILES:
        path = data_dir / f"{name}.jsonl"
        if not path.is_file():
            problems.append(f"{name}.jsonl: missing in {data_dir}")
            continue
        try:
            loaded[name] = _read_located(path, field_keys)
        except DataError as exc:
            problems.append(str(exc))
    return loaded, problems


def check_corpus(data_dir: Path, field_keys: Collection[str]) -> list[str]:
    """Every problem of the corpus in `data_dir` as a human-readable line; an empty list means it is usable."""
    loaded, problems = _load_all(data_dir, field_keys)
    for name, examples in loaded.items():
        problems += _count_problems(name, examples, field_keys)
        problems += _duplicate_problems(name, examples)
    comparisons = [("train", held) for held in HELD_OUT]
    comparisons += [(a, b) for position, a in enumerate(HELD_OUT) for b in HELD_OUT[position + 1 :]]
    for left, right in comparisons:
        if left in loaded and right in loaded:
            problems += _leak_problems(left, loaded[left], right, loaded[right])
    return problems


def _summary(data_dir: Path, field_keys: Sequence[str]) -> str:
    loaded, _ = _load_all(data_dir, field_keys)
    names = [name for name in FILES if name in loaded]
    counts = {name: Counter(item.example.field for item in loaded[name]) for name in names}
    width = max(len(key) for key in [*field_keys, "total"])
    rows = [" ".join([f"{'field':<{width}}", *(f"{name:>8}" for name in names)])]
    for key in field_keys:
        rows.append(" ".join([f"{key:<{width}}", *(f"{counts[name][key]:>8}" for name in names)]))
    rows.append(" ".join([f"{'total':<{width}}", *(f"{len(loaded[name]):>8}" for name in names)]))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print counts and problems of the corpus; 0 when it is clean, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m nlp.datacheck", description=__doc__)
    parser.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DATA_DIR, help="corpus folder")
    parser.add_argument("--fields", type=Path, default=DEFAULT_PATH, help="taxonomy file (fields.yaml)")
    args = parser.parse_args(argv)
    try:
        field_keys = [field.key for field in load_fields(args.fields)]
    except TaxonomyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(_summary(args.data_dir, field_keys))
    problems = check_corpus(args.data_dir, field_keys)
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for line in problems:
            print(f"- {line}")
        return 1
    print("\nno problems found")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
