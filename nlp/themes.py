"""Themes for analysts: ideas and free-text answers of one strategy field grouped by what they propose.

Pure and offline: texts come with their stored e5 embeddings, nothing is embedded here. Per field the vectors are
centred on the field's mean (e5 puts all German texts of one topic close together; centring spreads them) and
grouped by average-linkage clustering with a cosine-distance threshold. Clusters of at least `min_size` texts are
themes; their keywords are words found in at least `keyword_min_texts` members that are rare in the field's other
texts (a c-TF-IDF), their representatives the most central members that may be quoted.

Same input, same output: texts are put in a canonical order (by text, then vector) before anything is computed,
so input order changes nothing but the member numbers. Theme ids stay stable across runs and as data grows through
a `ThemeRegistry` the caller stores: each new cluster takes over the id of the registered theme whose centroid is
most similar (one-to-one, above `match_threshold`); see docs/themes.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from nlp.text import fold

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Larger fields are first condensed into this many k-means micro-clusters (exact linkage needs n² memory).
EXACT_LIMIT = 4000
_KMEANS_ROUNDS = 8
_CHUNK = 4096
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_UMLAUT = re.compile("[äöüÄÖÜß]")
_MIN_TAIL = 4  # shorter compound tails ("rad", "weg") would match inside too many words
# Words every idea uses; the c-TF-IDF would mostly rank them low anyway, but a small field can let one through.
_EXTRA_STOP = frozenset(
    fold(word)
    for word in (
        "bitte", "stadt", "wuppertal", "wuppertaler", "wuppertals", "brauchen", "braucht", "sollten", "gerne",
        "endlich", "einfach", "please", "city", "would", "could", "should", "need", "needs", "more", "also",
        "really",
    )
)


class ThemeError(ValueError):
    """The input cannot be grouped (vectors of different length, a registry of another dimension, ...)."""


@dataclass(frozen=True)
class ThemeInput:
    """One text to group: its stored embedding, strategy field, time (UTC-aware) and whether it may be quoted."""

    text: str
    vector: FloatArray
    field: str
    created_at: datetime | None = None
    quotable: bool = False  # only published (approved, public) ideas may be shown as representatives


@dataclass(frozen=True)
class Trend:
    """Members created in the last `period_days` up to `until`, and in the period before that."""

    recent: int
    previous: int
    period_days: int
    until: datetime | None


@dataclass(frozen=True)
class Theme:
    """A group of texts of one field proposing the same kind of thing; members index the caller's input."""

    id: str
    field: str
    size: int
    keywords: tuple[str, ...]
    members: tuple[int, ...]
    representatives: tuple[int, ...]
    trend: Trend

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (member numbers are input indices from 0)."""
        until = self.trend.until.isoformat() if self.trend.until else None
        return {
            "id": self.id, "field": self.field, "size": self.size, "keywords": list(self.keywords),
            "members": list(self.members), "representatives": list(self.representatives),
            "trend": {"recent": self.trend.recent, "previous": self.trend.previous,
                      "period_days": self.trend.period_days, "until": until},
        }


@dataclass(frozen=True)
class RegisteredTheme:
    """What the registry remembers of a theme: its id, field, centroid (raw e5 space), size and keywords."""

    id: str
    field: str
    centroid: tuple[float, ...]
    size: int
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class ThemeRegistry:
    """The themes seen so far; store it (e.g. as JSON) and pass it to the next run to keep ids stable."""

    themes: tuple[RegisteredTheme, ...] = ()

    def to_json(self) -> str:
        """Sorted, rounded JSON: the same registry always gives the same bytes."""
        return json.dumps(
            {"themes": [{"id": t.id, "field": t.field, "size": t.size, "keywords": list(t.keywords),
                         "centroid": list(t.centroid)} for t in sorted(self.themes, key=lambda t: t.id)]},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, data: str) -> ThemeRegistry:
        """Read what `to_json` wrote; raises ThemeError on anything else."""
        try:
            loaded = json.loads(data)
            themes = tuple(
                RegisteredTheme(str(t["id"]), str(t["field"]), tuple(float(x) for x in t["centroid"]), int(t["size"]),
                                tuple(str(k) for k in t["keywords"]))
                for t in loaded["themes"]
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ThemeError(f"not a theme registry: {exc}") from exc
        return cls(themes)


@dataclass(frozen=True)
class ThemeSettings:
    """The knobs; defaults chosen on half of the hand-grouped set (docs/themes.md)."""

    distance_threshold: float = 0.9  # average cosine distance (centred vectors) at which clusters stop merging
    min_size: int = 3  # smaller clusters are no theme (their texts get theme None)
    keyword_min_texts: int = 3  # a keyword occurs in at least this many member texts
    keywords: int = 5
    representatives: int = 3
    match_threshold: float = 0.95  # centroid cosine (raw e5) above which a cluster keeps a registered id
    period_days: int = 30
    now: datetime | None = None  # end of the trend's recent period; default: the newest created_at


@dataclass(frozen=True)
class ThemeResult:
    """Themes (largest first within each field, fields in key order), each input's theme id, the new registry."""

    themes: tuple[Theme, ...]
    assignments: tuple[str | None, ...]
    registry: ThemeRegistry = field(default_factory=ThemeRegistry)


def find_themes(
    items: Sequence[ThemeInput],
    *,
    registry: ThemeRegistry | None = None,
    min_size: int | None = None,
    keyword_min_texts: int | None = None,
    settings: ThemeSettings | None = None,
) -> ThemeResult:
    """Group `items` into themes per field; ids come from `registry` where a theme was seen before.

    `min_size` and `keyword_min_texts`, when given, override the ones in `settings` (both default to 3).
    """
    chosen = settings or ThemeSettings()
    chosen = replace(chosen, min_size=chosen.min_size if min_size is None else min_size,
                     keyword_min_texts=chosen.keyword_min_texts if keyword_min_texts is None else keyword_min_texts)
    if not items:
        return ThemeResult((), (), registry or ThemeRegistry())
    try:
        vectors = np.stack([np.asarray(item.vector, dtype=np.float32) for item in items])
    except ValueError as exc:
        raise ThemeError(f"every vector must have the same length: {exc}") from exc
    if vectors.ndim != 2:
        raise ThemeError("every vector must be one-dimensional")
    dated = [item.created_at for item in items if item.created_at is not None]
    now = chosen.now or (max(dated) if dated else None)
    known = list(registry.themes) if registry else []
    if any(len(t.centroid) != vectors.shape[1] for t in known):
        raise ThemeError(f"the registry's centroids do not have {vectors.shape[1]} dimensions")
    themes: list[Theme] = []
    entries: dict[str, RegisteredTheme] = {t.id: t for t in known}
    for key in sorted({item.field for item in items}):
        order = sorted((i for i, item in enumerate(items) if item.field == key),
                       key=lambda i: (items[i].text, vectors[i].tobytes()))
        found = _field_themes(items, vectors, order, chosen, now)
        for theme, centroid in _name(found, key, [t for t in entries.values() if t.field == key], chosen, set(entries)):
            themes.append(theme)
            entries[theme.id] = RegisteredTheme(theme.id, key, tuple(round(float(x), 6) for x in centroid),
                                                theme.size, theme.keywords)
    assignments: list[str | None] = [None] * len(items)
    for theme in themes:
        for member in theme.members:
            assignments[member] = theme.id
    new_registry = ThemeRegistry(tuple(sorted(entries.values(), key=lambda t: t.id)))
    return ThemeResult(tuple(themes), tuple(assignments), new_registry)


def cluster_labels(vectors: FloatArray, distance_threshold: float = 0.9) -> IntArray:
    """Cluster numbers for rows of one field (in the given order): centred, average linkage, cut at the threshold."""
    count = len(vectors)
    if count < 2:
        return np.zeros(count, dtype=np.int64)
    centred = vectors - vectors.mean(axis=0, dtype=np.float64).astype(np.float32)
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)
    if count <= EXACT_LIMIT:
        return _average_linkage(centred, distance_threshold)
    micro = _kmeans(centred, EXACT_LIMIT)
    used = np.unique(micro)
    centroids = np.stack([centred[micro == label].mean(axis=0) for label in used])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    upper = _average_linkage(centroids, distance_threshold)
    return upper[np.searchsorted(used, micro)]


def _average_linkage(rows: FloatArray, threshold: float) -> IntArray:
    distances = np.clip(pdist(rows.astype(np.float64), "cosine"), 0.0, None)
    tree = linkage(distances, method="average")
    return np.asarray(fcluster(tree, t=threshold, criterion="distance"), dtype=np.int64) - 1


def _kmeans(rows: FloatArray, clusters: int) -> IntArray:
    """Spherical k-means with evenly spaced seeds from the canonical order: deterministic, no random state."""
    centres = rows[np.linspace(0, len(rows) - 1, clusters).astype(np.int64)].copy()
    labels = np.zeros(len(rows), dtype=np.int64)
    for _ in range(_KMEANS_ROUNDS):
        for start in range(0, len(rows), _CHUNK):
            labels[start : start + _CHUNK] = np.argmax(rows[start : start + _CHUNK] @ centres.T, axis=1)
        sums = np.zeros_like(centres)
        np.add.at(sums, labels, rows)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        filled = norms[:, 0] > 0
        centres[filled] = sums[filled] / norms[filled]
    return labels


@dataclass(frozen=True)
class _Found:
    members: tuple[int, ...]  # input indices in canonical order
    keywords: tuple[str, ...]
    representatives: tuple[int, ...]
    trend: Trend
    centroid: FloatArray
    medoid_text: str


def _field_themes(
    items: Sequence[ThemeInput], vectors: FloatArray, order: list[int], settings: ThemeSettings, now: datetime | None
) -> list[_Found]:
    labels = cluster_labels(vectors[order], settings.distance_threshold)
    groups: dict[int, list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(order[position])
    clusters = [members for members in groups.values() if len(members) >= max(1, settings.min_size)]
    words = {i: _words(items[i].text) for i in order}
    field_df: Counter[str] = Counter()
    for i in order:
        field_df.update(_mentioned(words[i]))
    found: list[_Found] = []
    for members in clusters:
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        closeness = vectors[members] @ centroid
        central = [members[j] for j in sorted(range(len(members)), key=lambda j: -float(closeness[j]))]
        quotable = tuple(i for i in central if items[i].quotable)[: settings.representatives]
        keywords = _keywords([words[i] for i in members], field_df, len(order), settings)
        trend = _trend([items[i].created_at for i in members], now, settings.period_days)
        found.append(_Found(tuple(members), keywords, quotable, trend, centroid, items[central[0]].text))
    # Largest first; equal sizes in canonical order of their first member (already deterministic).
    return sorted(found, key=lambda f: -len(f.members))


def _stem(folded: str) -> str:
    """A light plural/case ending strip on the folded word ("toiletten", "toilette" → "toilett")."""
    if len(folded) > 5 and folded.endswith("en"):
        return folded[:-2]
    if len(folded) > 4 and folded[-1] in "es":
        return folded[:-1]
    return folded


def _words(text: str) -> dict[str, str]:
    """Stem of every word → the surface form used in this text, stop words left out."""
    from spacy.lang.de.stop_words import STOP_WORDS as GERMAN
    from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH

    result: dict[str, str] = {}
    for token in _WORD.findall(text):
        lower = token.lower()
        key = fold(lower)
        if len(key) < 3 or lower in GERMAN or lower in ENGLISH or key in _EXTRA_STOP:
            continue
        result.setdefault(_stem(key), token)
    return result


def _mentioned(words: Mapping[str, str]) -> set[str]:
    """The stems a text mentions: its own, and the tails of its compounds ("sitzbaenk" mentions "baenk")."""
    found = set(words)
    for stem in words:
        found.update(stem[start:] for start in range(1, len(stem) - _MIN_TAIL + 1))
    return found


def mentions(text: str, keyword: str) -> bool:
    """True when `text` uses `keyword` as a word or the end of a compound, in any spelling (what k counts)."""
    return mentioned_by(keyword, mention_set(text))


def mention_set(text: str) -> frozenset[str]:
    """What `text` mentions, for `mentioned_by`: compute it once per text when checking many keywords."""
    return frozenset(_mentioned(_words(text)))


def mentioned_by(keyword: str, mentioned: frozenset[str]) -> bool:
    """`mentions(text, keyword)` given `mention_set(text)`."""
    stems = _words(keyword)
    return bool(stems) and set(stems) <= mentioned


def _keywords(
    member_words: list[dict[str, str]], field_df: Mapping[str, int], field_size: int, settings: ThemeSettings
) -> tuple[str, ...]:
    """Words mentioned by >= k members, scored by their share inside times their rarity in the field's other texts.

    A candidate is a word some member writes on its own; compounds count for their tail, so "Bänke" is mentioned
    by "Sitzbänke" and "Parkbänke" too.
    """
    inside: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for words in member_words:
        inside.update(_mentioned(words))
        for key, surface in words.items():
            spellings.setdefault(key, Counter())[surface] += 1
    outside_size = field_size - len(member_words)
    scored = []
    for key in spellings:
        count = inside[key]
        if count < settings.keyword_min_texts:
            continue
        outside = field_df[key] - count
        score = count / len(member_words) * math.log((1 + outside_size) / (1 + outside))
        if score > 0:
            scored.append((-score, key))
    result: list[str] = []
    chosen: list[str] = []
    for _, key in sorted(scored):
        # "Schlaglöcher" adds nothing next to "Löcher" (or the other way round): one of a compound family.
        if len(chosen) == settings.keywords or any(key.endswith(c) or c.endswith(key) for c in chosen):
            continue
        chosen.append(key)
        forms = spellings[key]
        # The most used spelling; on a tie the one with umlauts ("Mülleimer" over "Muelleimer"), then alphabetical.
        result.append(min(forms, key=lambda form: (-forms[form], not _UMLAUT.search(form), form)))
    return tuple(result)


def _trend(times: Sequence[datetime | None], now: datetime | None, period_days: int) -> Trend:
    if now is None:
        return Trend(0, 0, period_days, None)
    period = timedelta(days=period_days)
    recent = sum(1 for t in times if t is not None and now - period < t <= now)
    previous = sum(1 for t in times if t is not None and now - 2 * period < t <= now - period)
    return Trend(recent, previous, period_days, now)


def _name(
    found: list[_Found], key: str, registered: list[RegisteredTheme], settings: ThemeSettings, taken: set[str]
) -> list[tuple[Theme, FloatArray]]:
    """Give each cluster the id of its best-matching registered theme (one-to-one), or a new content-derived id."""
    ids: dict[int, str] = {}
    if found and registered:
        similarity = np.stack([f.centroid for f in found]) @ np.asarray([t.centroid for t in registered]).T
        pairs = sorted(
            (-float(similarity[a, b]), a, registered[b].id)
            for a in range(len(found)) for b in range(len(registered))
            if similarity[a, b] >= settings.match_threshold
        )
        used: set[str] = set()
        for _, index, theme_id in pairs:
            if index not in ids and theme_id not in used:
                ids[index] = theme_id
                used.add(theme_id)
    result = []
    for index, cluster in enumerate(found):
        if index not in ids:
            digest = hashlib.sha256(cluster.medoid_text.encode()).hexdigest()
            length = 6
            while f"{key}-{digest[:length]}" in taken:
                length += 1
            ids[index] = f"{key}-{digest[:length]}"
        taken.add(ids[index])
        theme = Theme(ids[index], key, len(cluster.members), cluster.keywords, tuple(sorted(cluster.members)),
                      cluster.representatives, cluster.trend)
        result.append((theme, cluster.centroid))
    return result
