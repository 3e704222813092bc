"""Theme quality against the hand-grouped set: `python -m nlp.themes_eval [--show] [--json]`.

Prints the adjusted Rand index (ARI) of the clusters against the hand-assigned proposal areas
(`nlp/data/themes/grouped.jsonl`): per field and overall, with the hand-given fields, with the classifier's fields
(what `stadtdialog nlp themes` does) and with all texts as one field; and how many theme ids survive when the data
grows from 70 % to 100 % (with a registry). `--show` prints every theme with the hand groups of its members, for
the reading judgement in docs/themes.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nlp.themes import ThemeInput, ThemeResult, ThemeSettings, cluster_labels, find_themes

DEFAULT_SET = Path(__file__).parent / "data" / "themes" / "grouped.jsonl"
CACHE_DIR = Path(__file__).parent / ".cache"
# The threshold was chosen on these fields only; the others are the held-out check.
DEV_FIELDS = ("mobilitaet", "umwelt", "wirtschaft")


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def adjusted_rand_index(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Adjusted Rand index (Hubert & Arabie) of two labelings of the same items; 1.0 when both are identical."""
    if len(gold) != len(predicted):
        raise ValueError("both labelings must cover the same items")
    table = Counter(zip(gold, predicted, strict=True))
    index = sum(_pairs(n) for n in table.values())
    rows = sum(_pairs(n) for n in Counter(gold).values())
    columns = sum(_pairs(n) for n in Counter(predicted).values())
    total = _pairs(len(gold))
    expected = rows * columns / total if total else 0.0
    maximum = (rows + columns) / 2
    if maximum == expected:  # both all-singletons or both one cluster: identical structure
        return 1.0
    return (index - expected) / (maximum - expected)


def _load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _embedded(path: Path, texts: list[str]) -> tuple[np.ndarray[Any, Any], tuple[str, ...]]:
    """Vectors and classifier fields of the set, cached by the file's content (embedding takes ~20 s)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache = CACHE_DIR / f"themes-{digest}.npz"
    if cache.is_file():
        with np.load(cache) as data:
            return data["vectors"], tuple(str(f) for f in data["fields"])
    from nlp.themes_cli import embed_texts

    embedded = embed_texts(texts, classify=True)
    assert embedded.fields is not None
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, vectors=embedded.vectors, fields=np.array(embedded.fields))
    return embedded.vectors, embedded.fields


def _cluster_ari(rows: list[dict[str, str]], vectors: np.ndarray[Any, Any], fields: Sequence[str],
                 keep: Sequence[str] | None = None) -> float:
    """ARI of all clusters (themes and the small ones) with `fields` deciding which texts are clustered together."""
    gold: list[str] = []
    predicted: list[str] = []
    for key in sorted(set(fields)):
        index = [i for i, f in enumerate(fields) if f == key and (keep is None or rows[i]["field"] in keep)]
        if not index:
            continue
        labels = cluster_labels(vectors[index], ThemeSettings().distance_threshold)
        gold += [rows[i]["group"] for i in index]
        predicted += [f"{key}/{label}" for label in labels.tolist()]
    return round(adjusted_rand_index(gold, predicted), 3)


def _items(rows: list[dict[str, str]], vectors: np.ndarray[Any, Any], index: Sequence[int]) -> list[ThemeInput]:
    return [ThemeInput(rows[i]["text"], vectors[i], rows[i]["field"], quotable=True) for i in index]


def _majority(result: ThemeResult, groups: Sequence[str]) -> dict[str, tuple[str, float]]:
    found = {}
    for theme in result.themes:
        counts = Counter(groups[m] for m in theme.members)
        group, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        found[theme.id] = (group, count / theme.size)
    return found


def evaluate(path: Path = DEFAULT_SET) -> tuple[dict[str, Any], ThemeResult, list[dict[str, str]]]:
    """The figures, the themes of the whole set, and its rows."""
    rows = _load(path)
    vectors, predicted_fields = _embedded(path, [row["text"] for row in rows])
    gold_fields = [row["field"] for row in rows]
    test_fields = sorted(set(gold_fields) - set(DEV_FIELDS))
    result = find_themes(_items(rows, vectors, range(len(rows))))
    themed = [theme_id or f"none/{i}" for i, theme_id in enumerate(result.assignments)]
    groups = [row["group"] for row in rows]
    majority = _majority(result, groups)
    # Growth: the first 70 % (a fixed, content-based choice) with a registry, then everything with that registry.
    early = [i for i, row in enumerate(rows) if hashlib.sha256(row["text"].encode()).digest()[0] < 179]
    before = find_themes(_items(rows, vectors, early))
    after = find_themes(_items(rows, vectors, range(len(rows))), registry=before.registry)
    before_groups = _majority(before, [groups[i] for i in early])
    after_groups = _majority(after, groups)
    kept = [t for t in before_groups if t in after_groups]
    figures = {
        "texts": len(rows),
        "groups": len(set(groups)),
        "ari_clusters_hand_fields": _cluster_ari(rows, vectors, gold_fields),
        "ari_clusters_dev_fields": _cluster_ari(rows, vectors, gold_fields, DEV_FIELDS),
        "ari_clusters_test_fields": _cluster_ari(rows, vectors, gold_fields, test_fields),
        "ari_themes_hand_fields": round(adjusted_rand_index(groups, themed), 3),
        "ari_clusters_classifier_fields": _cluster_ari(rows, vectors, predicted_fields),
        "ari_clusters_one_field": _cluster_ari(rows, vectors, ["all"] * len(rows)),
        "themes": len(result.themes),
        "texts_in_themes": sum(1 for a in result.assignments if a is not None),
        "themes_pure_75": sum(1 for _, purity in majority.values() if purity >= 0.75),
        "distinct_majority_groups": len({group for group, _ in majority.values()}),
        "growth_themes_before": len(before.themes),
        "growth_ids_kept": len(kept),
        "growth_ids_kept_same_group": sum(1 for t in kept if before_groups[t][0] == after_groups[t][0]),
    }
    return figures, result, rows


def show(result: ThemeResult, rows: list[dict[str, str]]) -> str:
    """Every theme with keywords, representatives and its members' hand groups, for reading."""
    out = []
    for theme in result.themes:
        counts = Counter(rows[m]["group"] for m in theme.members)
        out.append(f"{theme.id} ({theme.size}) keywords: {', '.join(theme.keywords) or '-'}")
        out.append("  groups: " + "; ".join(f"{g} {n}" for g, n in counts.most_common()))
        out += [f"  > {rows[r]['text']}" for r in theme.representatives]
    return "\n".join(out)


def main(argv: Sequence[str]) -> int:
    """Print the figures (one JSON line with --json), and the themes with --show."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path, nargs="?", default=DEFAULT_SET)
    parser.add_argument("--show", action="store_true", help="print every theme for reading")
    parser.add_argument("--json", action="store_true", help="figures as one JSON line")
    args = parser.parse_args(list(argv))
    figures, result, rows = evaluate(args.file)
    if args.show:
        print(show(result, rows))
    if args.json:
        print(json.dumps(figures))
    else:
        print("\n".join(f"{key}: {value}" for key, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
