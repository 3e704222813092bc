"""Does a new idea propose the same thing as a stored one? A pure matcher over stored e5 embeddings (issue 13).

e5 cosine alone ranks "Fahrradständer am Bahnhof" next to "Radweg zum Bahnhof": same topic, other proposal. So
the cosine only shortlists; each shortlisted pair is then scored by a small logistic regression over the cosine and
the overlap of the two texts' *keys* (content words, case and umlaut folded, lightly stemmed, stored once per idea
as JSON): exact and fuzzy key coverage in both directions and character n-gram overlap of the keys. Place keys
(Wuppertal districts, stations, roads: `data/similar/places.txt`) are left out of the overlap — sharing "Barmen"
says where, not what — and a pair that shares no other key is never a match. A match is shown only above a
threshold chosen on dev for precision ≥ 0.95, per pair and in the search path (`python -m nlp.similarfit`).

Speed: scanning 100,000 × 384 float32 (150 MB) costs 8–25 ms per query on the 2-core VM (memory bound), so the
scan runs over a 64-dimensional projection (the top right-singular vectors of real idea embeddings, 26 MB) and the
exact cosine is computed for the shortlist only, from float16 copies of the full vectors.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.embed import DIMENSIONS
from nlp.text import _GENERIC_STEMS, fold, prepare
from nlp.umlauts import UmlautRestorer

FloatArray = npt.NDArray[np.float32]
DEFAULT_PARAMS = Path(__file__).resolve().parent / "data" / "similar" / "matcher.json"
PLACES = Path(__file__).resolve().parent / "data" / "similar" / "places.txt"
# The classifier's umlaut lexicon: embedding texts as it does lets the bot store and reuse its vector.
DEFAULT_UMLAUTS = Path(__file__).resolve().parent / "model" / "stadtdialog_textcat" / "umlauts.json"
MAX_KEYS = 40
_SCAN_SLICE = 2048  # a pasted essay keeps its first 40 content words; ideas are short

_TOKEN = re.compile(r"[a-z0-9]+")
_BASE_VOWEL = (("ae", "a"), ("oe", "o"), ("ue", "u"))  # "baeume" meets "baum", "plaetze" meets "platz"
_SUFFIXES = ("ern", "en", "er", "es", "e", "n", "s")
_MIN_STEM = 4
# Function words and the filler of every suggestion ("bitte", "sollte", "wäre super"): they say nothing about
# *what* is proposed. Folded spelling. Words that do ("mehr", "öfter", "kostenlos", "länger") stay.
_STOPWORD_TEXT = """
    der die das den dem des ein eine einen einem einer eines und oder aber doch auch noch nur schon so wie als
    ist sind war waren wird werden wurde wurden sein bin bist hat haben hatte hatten habe kann koennen koennte
    muss muessen muesste soll sollen sollte sollten darf duerfen will wollen moechte moechten mag waere waeren
    wuerde wuerden gibt gab es er sie wir ihr ich du man mir mich uns euch ihm ihn ihnen mein meine meinen
    unser unsere unseren dein sich selbst dieser diese dieses diesen jeder jede jedes alle allen alles viele
    vielen viel sehr ganz gar nicht nichts kein keine keinen keiner mal halt eben ja nein bitte danke endlich
    dringend einfach echt wirklich super toll gut schoen gerne gern finde fand meiner meinung nach idee
    vorschlag waer is nich nix dat wat dass weil wenn dann damit denn da dort hier hin her wo wann was wer
    warum zu zum zur im in am an auf aus bei mit von vom fuer ueber unter vor nach bis durch gegen ohne um
    zwischen statt seit ab per pro je etwa z b bzw usw etc immer oft ueberall jetzt heute neu neue neuen
    brauchen braucht braeuchten braeuchte brauch fehlt fehlen machen macht gehoert gehoeren lassen
    stadt wuppertal wuppertaler the a an of to for and or in on at by with is are be should please
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Match:
    """A stored idea that proposes the same thing; `score` is the pair classifier's probability."""

    id: str
    score: float


class MatcherError(Exception):
    """The parameter file is missing, unreadable or does not fit this code."""


def _stem(word: str) -> str:
    for umlaut, vowel in _BASE_VOWEL:
        word = word.replace(umlaut, vowel)
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


def text_keys(text: str) -> list[str]:
    """The content-word keys of an idea text, in order of first occurrence; store them as JSON with the idea."""
    keys: list[str] = []
    for token in _TOKEN.findall(fold(prepare(text))):
        if token in _STOPWORDS or (len(token) < 3 and not any(c.isdigit() for c in token)):
            continue
        if token.isdigit() and len(token) > 2:
            continue  # years, house numbers, amounts: no proposal of their own
        stem = _stem(token)
        if stem not in keys:
            keys.append(stem)
            if len(keys) == MAX_KEYS:
                break
    return keys


@functools.cache
def _place_lexicon() -> tuple[frozenset[str], tuple[str, ...]]:
    """Place keys and place-type compound tails from `PLACES`, spelled as `text_keys` spells them."""
    names: set[str] = set()
    tails: set[str] = set()
    for line in PLACES.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keys = text_keys(line.lstrip("*"))
        names.update(keys)
        if line.startswith("*"):
            tails.update(keys)
    return frozenset(names), tuple(sorted(tails))


_STREET_TAIL = "strass"  # "Kaiserstraße" → key "kaiserstrass"; "Hauptstraße" and "Straße" are no names
_GENERIC_STREETS = frozenset(_stem(word + "strasse")[: -len(_STREET_TAIL)] for word in _GENERIC_STEMS["strasse"])


@functools.lru_cache(maxsize=65536)
def is_place_key(key: str) -> bool:
    """True for a key that names a place in Wuppertal (district, quarter, station, road, landmark, street name)
    rather than what is proposed; such keys do not count as shared evidence between two ideas."""
    names, tails = _place_lexicon()
    if key in names or any(key.endswith(tail) for tail in tails):
        return True
    head = key[: -len(_STREET_TAIL)]
    return key.endswith(_STREET_TAIL) and len(head) >= 3 and head not in _GENERIC_STREETS


def _grams(keys: Sequence[str], n: int = 4) -> set[str]:
    grams: set[str] = set()
    for key in keys:
        padded = f" {key} "
        grams.update(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
    return grams


@dataclass(frozen=True)
class _Profile:
    """What the pair features need of one text, computed once per text rather than once per pair: its keys
    without place keys (`is_place_key`), so that a shared district or station is no evidence of a shared idea."""

    keys: tuple[str, ...]
    key_grams: tuple[frozenset[str], ...]  # trigrams of each key, for typo-tolerant key matching
    grams: frozenset[str]  # 4-grams of all keys
    operators: frozenset[str] = frozenset()  # what the text wants done (`operators`)

    @classmethod
    def of(cls, keys: Sequence[str]) -> _Profile:
        unique = tuple(key for key in dict.fromkeys(keys) if not is_place_key(key))
        grams = tuple(frozenset(_grams([key], 3)) for key in unique)
        return cls(unique, grams, frozenset(_grams(unique)), operators(unique))


def _soft_equal(a: str, b: str, grams_a: frozenset[str], grams_b: frozenset[str]) -> bool:
    # Compound parts meet whole words ("staend" in "fahrradstaend"); a typo keeps most trigrams ("schwebbahn").
    if a == b:
        return True
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) >= _MIN_STEM and short in long:
        return True
    if len(short) < 5:
        return False
    return 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b)) >= 0.7


def _profile_features(cosine: float, a: _Profile, b: _Profile, hub_a: float, hub_b: float) -> list[float]:
    set_a, set_b = set(a.keys), set(b.keys)
    union = set_a | set_b
    jaccard = len(set_a & set_b) / len(union) if union else 0.0
    matched_a: set[int] = set()
    matched_b: set[int] = set()
    for i, (key_a, grams_a) in enumerate(zip(a.keys, a.key_grams, strict=True)):
        for j, (key_b, grams_b) in enumerate(zip(b.keys, b.key_grams, strict=True)):
            if _soft_equal(key_a, key_b, grams_a, grams_b):
                matched_a.add(i)
                matched_b.add(j)
    cover_a = len(matched_a) / len(a.keys) if a.keys else 0.0
    cover_b = len(matched_b) / len(b.keys) if b.keys else 0.0
    total = len(a.grams) + len(b.grams)
    dice = 2 * len(a.grams & b.grams) / total if total else 0.0
    low = min(cover_a, cover_b)
    # CSLS: a cosine counts less between texts that are close to everything (generic, "hub" texts).
    return [cosine, jaccard, low, max(cover_a, cover_b), dice, cosine * low, cosine - (hub_a + hub_b) / 2]


# Key features count content keys only (place keys left out); the names say so, so an older parameter file
# (fitted with place keys counted) is refused rather than silently misread.
FEATURES = (
    "cosine", "content_jaccard", "content_coverage_min", "content_coverage_max", "content_gram_dice",
    "cosine_x_content_coverage", "cosine_csls",
)
_SHARED = FEATURES.index("content_coverage_max")  # 0 exactly when the two texts share no content key
_LOW = FEATURES.index("content_coverage_min")
MIN_CONTENT_COVERAGE = 0.34
"""Share of each text's content keys the other must have (`content_coverage_min`) for a pair to be a match at all.

Short proposals about the same object differ in one or two words, and those words are the proposal: "mehr
Mülleimer" vs "Mülleimer öfter leeren" (the issue's own hard negative) share "Mülleimer" and have a cosine of
0.95, and the pair classifier, trained on mostly longer texts, scored them 0.985. With this gate, a pair must share
at least half of the content words of each text; one shared object word out of two or three is not enough."""


# What a proposal wants done with its object, by meaning. "Mehr Mülleimer" and "Mülleimer öfter leeren" are about
# the same object and want different things; when both texts say what they want and share no such meaning, they
# are different proposals however close their embeddings are (the issue's own hard negative).
_OPERATOR_WORDS = {
    "more": "mehr zusätzlich zusätzliche weitere more additional extra",
    "less": "weniger senken reduzieren verringern less fewer reduce",
    "often": "öfter häufiger regelmäßiger regelmäßig often frequently",
    "empty": "leeren geleert entleeren empty emptied",
    "clean": "reinigen gereinigt putzen sauber sauberer säubern clean cleaner",
    "repair": "reparieren repariert sanieren saniert erneuern erneuert instandsetzen repair renovate fix",
    "cheaper": "kostenlos kostenfrei gratis billiger günstiger free cheaper",
    "longer": "länger verlängern verlängert longer extend",
    "faster": "schneller beschleunigen faster",
    "expand": "ausbauen ausgebaut erweitern erweitert expand extend",
    "remove": "abschaffen verbieten entfernen sperren abbauen remove ban",
}


@functools.cache
def _operator_keys() -> dict[str, str]:
    """Key (as `text_keys` spells it) → the meaning it names."""
    return {key: meaning for meaning, words in _OPERATOR_WORDS.items() for key in text_keys(words)}


def operators(keys: Sequence[str]) -> frozenset[str]:
    """The meanings of what the text wants done (`_OPERATOR_WORDS`) among its keys."""
    lexicon = _operator_keys()
    return frozenset(lexicon[key] for key in keys if key in lexicon)


def operators_clash(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both texts say what they want done and agree on none of it: different proposals."""
    return bool(a) and bool(b) and not (a & b)


def shares_content_key(features: Sequence[float]) -> bool:
    """Whether a pair (its `pair_features`) shares at least one content key — exactly, as a compound part, or
    nearly (typo) — that is not a place. Pairs that do not are never matches, whatever their cosine (the pair
    classifier is trained on the pairs that do)."""
    return features[_SHARED] > 0


def may_match(features: Sequence[float]) -> bool:
    """Whether a pair can be a match at all: it shares a content key and at least `MIN_CONTENT_COVERAGE` of each
    text's content keys. A fixed rule on top of the fitted classifier and its threshold (it only removes
    matches): the threshold is chosen on dev without it, so the rule cannot loosen it."""
    return shares_content_key(features) and features[_LOW] >= MIN_CONTENT_COVERAGE


def pair_features(
    cosine: float, keys_a: Sequence[str], keys_b: Sequence[str], hub_a: float, hub_b: float
) -> list[float]:
    """The features of one pair, in the order of `FEATURES` (symmetric in a and b); hubs from `hubness`."""
    return _profile_features(cosine, _Profile.of(keys_a), _Profile.of(keys_b), hub_a, hub_b)


def hubness(reduced: FloatArray, reference: FloatArray, neighbours: int) -> FloatArray:
    """Mean similarity of each projected row to its `neighbours` nearest rows of the background `reference`."""
    similarity = np.atleast_2d(reduced) @ reference.T
    k = min(neighbours, similarity.shape[1])
    top = np.partition(similarity, similarity.shape[1] - k, axis=1)[:, -k:]
    result: FloatArray = top.mean(axis=1).astype(np.float32)
    return result


@dataclass(frozen=True)
class MatchParams:
    """What `python -m nlp.similarfit` chose on dev: embedding prefix, projection, classifier, threshold."""

    prefix: str  # e5 prefix the stored and query vectors must share
    threshold: float  # minimum pair probability for a match
    min_cosine: float  # pairs below never reach the classifier
    shortlist: int  # rows kept by the projected scan
    rerank: int  # rows (best exact cosine) scored by the classifier
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    projection: FloatArray  # (k, 384), orthonormal rows
    reference: FloatArray  # (m, k): projected embeddings of a fixed background corpus, for `hubness`
    hub_neighbours: int  # a text's hubness: mean similarity to its this many nearest background texts

    def hubness(self, reduced: FloatArray) -> FloatArray:
        """Per projected row of `reduced` (n, k): mean similarity to its nearest background texts."""
        return hubness(reduced, self.reference, self.hub_neighbours)

    def probability(self, features: Sequence[float]) -> float:
        """The pair classifier: logistic regression over standardised features; 0 for a pair that shares no
        content key (`shares_content_key`). `MatchIndex.search` also requires `may_match`."""
        if not shares_content_key(features):
            return 0.0
        z = self.bias + sum(
            w * (x - m) / s for w, x, m, s in zip(self.weights, features, self.means, self.scales, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, object]:
        """The JSON form written next to the projection file."""
        return {
            "prefix": self.prefix, "threshold": self.threshold, "min_cosine": self.min_cosine,
            "shortlist": self.shortlist, "rerank": self.rerank, "hub_neighbours": self.hub_neighbours,
            "features": list(FEATURES),
            "means": list(self.means), "scales": list(self.scales), "weights": list(self.weights), "bias": self.bias,
        }

    def save(self, path: Path, extra: dict[str, object] | None = None) -> None:
        """Write `path` (JSON) and its arrays (`path` with suffix .npz)."""
        data = {**self.to_json(), **(extra or {})}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        np.savez_compressed(
            path.with_suffix(".npz"), projection=self.projection.astype(np.float32),
            reference=self.reference.astype(np.float16),  # half the file; hubness needs no more precision
        )

    @classmethod
    def load(cls, path: Path = DEFAULT_PARAMS) -> MatchParams:
        """Read the parameter file and its arrays."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            with np.load(path.with_suffix(".npz")) as arrays:
                projection = arrays["projection"].astype(np.float32)
                reference = arrays["reference"].astype(np.float32)
            if data["features"] != list(FEATURES):
                raise MatcherError(f"{path}: features {data['features']} differ from this code's {list(FEATURES)}")
            if projection.ndim != 2 or projection.shape[1] != DIMENSIONS:
                raise MatcherError(f"{path}: projection has shape {projection.shape}")
            if reference.ndim != 2 or reference.shape[1] != projection.shape[0]:
                raise MatcherError(f"{path}: reference has shape {reference.shape}")
            return cls(
                prefix=str(data["prefix"]), threshold=float(data["threshold"]),
                min_cosine=float(data["min_cosine"]), shortlist=int(data["shortlist"]), rerank=int(data["rerank"]),
                means=tuple(map(float, data["means"])), scales=tuple(map(float, data["scales"])),
                weights=tuple(map(float, data["weights"])), bias=float(data["bias"]), projection=projection,
                reference=reference, hub_neighbours=int(data["hub_neighbours"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MatcherError(f"cannot read matcher parameters {path}: {exc}") from exc


def _keys_of(text_or_keys: str | Sequence[str]) -> list[str]:
    return text_keys(text_or_keys) if isinstance(text_or_keys, str) else list(text_or_keys)


def _unit(vector: npt.ArrayLike) -> FloatArray:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape != (DIMENSIONS,):
        raise ValueError(f"expected a {DIMENSIONS}-dimensional vector, got shape {array.shape}")
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0 else array


class MatchIndex:
    """Stored ideas (id, embedding, keys) searchable for ideas that propose the same thing.

    Memory per row: 64 float32 (scan) + 384 float16 (exact cosine) + 1 float32 (hubness) + the keys as one
    string ≈ 1.1 kB. Building costs one product with the background corpus per row (≈ 5 s for 100,000 rows).
    Not thread-safe: one writer, or a lock around `add`/`remove` and `search`.
    """

    def __init__(self, params: MatchParams | None = None, capacity: int = 1024) -> None:
        self.params = params or MatchParams.load()
        capacity = max(1, capacity)
        self._reduced = np.zeros((capacity, self.params.projection.shape[0]), dtype=np.float32)
        self._full = np.zeros((capacity, DIMENSIONS), dtype=np.float16)
        self._hub = np.zeros(capacity, dtype=np.float32)
        self._ids: list[str] = []
        self._keys: list[str] = []  # space-joined: one str per row is far smaller than a list of str
        self._rows: dict[str, int] = {}

    @classmethod
    def build(
        cls, ids: Sequence[str], vectors: npt.ArrayLike, keys: Sequence[Sequence[str]],
        params: MatchParams | None = None,
    ) -> MatchIndex:
        """An index of stored rows: ids, (n, 384) L2-normalised embeddings, and each row's `text_keys`."""
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != DIMENSIONS or not len(ids) == len(keys) == matrix.shape[0]:
            raise ValueError(f"need as many ids ({len(ids)}) and keys ({len(keys)}) as vectors {matrix.shape}")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        index = cls(params, capacity=len(ids))
        step = 1024  # in slices, so building never holds a second full-size copy or a huge similarity matrix
        for start in range(0, len(ids), step):
            block = matrix[start : start + step]
            reduced = block @ index.params.projection.T
            index._reduced[start : start + len(block)] = reduced
            index._hub[start : start + len(block)] = index.params.hubness(reduced)
            index._full[start : start + len(block)] = block
        index._ids = list(ids)
        index._keys = [" ".join(row) for row in keys]
        index._rows = {identifier: row for row, identifier in enumerate(ids)}
        return index

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, identifier: object) -> bool:
        return identifier in self._rows

    def add(self, identifier: str, text_or_keys: str | Sequence[str], vector: npt.ArrayLike) -> None:
        """Store one idea (replacing an earlier row with the same id); keys are computed when a text is given."""
        unit = _unit(vector)
        keys = " ".join(_keys_of(text_or_keys))
        if identifier in self._rows:
            row = self._rows[identifier]
        else:
            row = len(self._ids)
            if row == len(self._full):
                self._reduced = np.concatenate([self._reduced, np.zeros_like(self._reduced)])
                self._full = np.concatenate([self._full, np.zeros_like(self._full)])
                self._hub = np.concatenate([self._hub, np.zeros_like(self._hub)])
            self._ids.append(identifier)
            self._keys.append("")
            self._rows[identifier] = row
        self._reduced[row] = self.params.projection @ unit
        self._hub[row] = self.params.hubness(self._reduced[row])[0]
        self._full[row] = unit
        self._keys[row] = keys

    def remove(self, identifier: str) -> bool:
        """Forget one idea (withdrawn, rejected, deleted); False when it was not stored."""
        row = self._rows.pop(identifier, None)
        if row is None:
            return False
        last = len(self._ids) - 1
        if row != last:  # the last row fills the gap, so the stored rows stay contiguous
            self._reduced[row] = self._reduced[last]
            self._full[row] = self._full[last]
            self._hub[row] = self._hub[last]
            self._ids[row], self._keys[row] = self._ids[last], self._keys[last]
            self._rows[self._ids[row]] = row
        self._ids.pop()
        self._keys.pop()
        return True

    def shortlist(self, vector: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Rows the projected scan keeps (the `shortlist` best, unordered): the only rows looked at further."""
        size = len(self._ids)
        projected = self.params.projection @ _unit(vector)
        scan = np.empty(size, dtype=np.float32)
        # Slices small enough that OpenBLAS runs each product on one thread: its threads wait for each other on a
        # busy 2-core machine (p99 30 ms for the whole matrix at once, 2 ms in slices; benchmarks/similar.py).
        for start in range(0, size, _SCAN_SLICE):
            end = min(size, start + _SCAN_SLICE)
            np.matmul(self._reduced[start:end], projected, out=scan[start:end])
        if size <= self.params.shortlist:
            return np.arange(size)
        return np.argpartition(scan, size - self.params.shortlist)[size - self.params.shortlist :]

    def candidates(self, vector: npt.ArrayLike) -> list[tuple[int, float]]:
        """Rows worth scoring: (row, exact cosine) for the best `rerank` rows above `min_cosine`, best first."""
        if not self._ids:
            return []
        query = _unit(vector)
        params = self.params
        rows = self.shortlist(query)
        cosines = self._full[rows].astype(np.float32) @ query
        order = np.lexsort((rows, -cosines))[: params.rerank]  # ties by row: deterministic
        return [(int(rows[i]), float(cosines[i])) for i in order if cosines[i] >= params.min_cosine]

    def search(self, text_or_keys: str | Sequence[str], vector: npt.ArrayLike, limit: int = 3) -> list[Match]:
        """Stored ideas proposing the same thing as this one, best first, only those above the threshold."""
        query = _Profile.of(_keys_of(text_or_keys))
        query_hub = float(self.params.hubness(self.params.projection @ _unit(vector))[0])
        found: list[Match] = []
        for row, cosine in self.candidates(vector):
            stored = _Profile.of(self._keys[row].split())
            features = _profile_features(cosine, query, stored, query_hub, float(self._hub[row]))
            if not may_match(features) or operators_clash(query.operators, stored.operators):
                continue
            score = self.params.probability(features)
            if score >= self.params.threshold:
                found.append(Match(self._ids[row], round(score, 4)))
        found.sort(key=lambda match: (-match.score, match.id))
        return found[: max(0, limit)]

    def is_duplicate(self, text_or_keys: str | Sequence[str], vector: npt.ArrayLike) -> bool:
        """True when at least one stored idea proposes the same thing (a match above the threshold)."""
        return bool(self.search(text_or_keys, vector, limit=1))


def default_restorer(path: Path = DEFAULT_UMLAUTS) -> UmlautRestorer | None:
    """The classifier's umlaut lexicon, or None when no model is installed (texts are then embedded as typed)."""
    return UmlautRestorer.from_file(path) if path.is_file() else None


def embedding_text(text: str, restorer: Callable[[str], str] | None = None) -> str:
    """The text e5 embeds for an idea, as the classifier does: prepared, umlauts restored when a lexicon
    (`nlp.umlauts.UmlautRestorer`) is given — so the classifier's vector can be stored and reused."""
    prepared = prepare(text)
    return restorer(prepared) if restorer is not None else prepared
