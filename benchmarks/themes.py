"""Theme speed: `python -m benchmarks.themes` prints one JSON line.

20,000 texts with stored embeddings, made from the 349 hand-grouped texts (`nlp/data/themes/grouped.jsonl`): each
copy gets a small change of wording (an appended phrase, lower case, umlauts typed as ae/oe/ue) and its real e5
vector with a little noise (cosine ≈ 0.98 to the original), a creation time within 180 days, every third quotable.
Figures: `find_themes` with the hand-given fields (no registry, then again with the registry of the first run),
and with all texts as one field (the k-means condensing path), plus peak RSS. No model is loaded in this process
(the vectors come from the cache `python -m nlp.themes_eval` writes; the benchmark runs it first when missing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from nlp.text import fold
from nlp.themes import ThemeInput, ThemeResult, find_themes
from nlp.themes_eval import CACHE_DIR, DEFAULT_SET, _embedded, _load

SUFFIXES = ("", " bitte", "!!", " Danke.", " – das wäre super", " (Barmen)", " (Elberfeld)", " finde ich")


def _texts_and_vectors() -> tuple[list[dict[str, str]], np.ndarray]:
    rows = _load(DEFAULT_SET)
    if not _cached():  # embed in a child, so this process's peak RSS holds no model
        subprocess.run([sys.executable, "-m", "nlp.themes_eval", "--json"], check=True, stdout=subprocess.DEVNULL)
    vectors, _ = _embedded(DEFAULT_SET, [row["text"] for row in rows])
    return rows, vectors


def _cached() -> bool:
    digest = hashlib.sha256(DEFAULT_SET.read_bytes()).hexdigest()[:16]
    return (CACHE_DIR / f"themes-{digest}.npz").is_file()


def synthetic(count: int, seed: int = 0) -> list[ThemeInput]:
    """`count` texts: varied copies of the hand-grouped texts with their perturbed real vectors."""
    rows, vectors = _texts_and_vectors()
    rng = np.random.default_rng(seed)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    items = []
    for number in range(count):
        base = number % len(rows)
        text = rows[base]["text"] + SUFFIXES[(number // len(rows)) % len(SUFFIXES)]
        if number % 5 == 1:
            text = text.lower()
        elif number % 5 == 2:
            text = fold(text)
        vector = vectors[base] + rng.normal(0, 0.2 / np.sqrt(vectors.shape[1]), vectors.shape[1])
        vector = (vector / np.linalg.norm(vector)).astype(np.float32)
        created = start + timedelta(minutes=int(rng.integers(0, 180 * 24 * 60)))
        items.append(ThemeInput(text, vector, rows[base]["field"], created, quotable=number % 3 == 0))
    return items


def _timed(items: Sequence[ThemeInput], **options: object) -> tuple[float, ThemeResult]:
    begin = time.perf_counter()
    result = find_themes(items, **options)  # type: ignore[arg-type]
    return time.perf_counter() - begin, result


def run(count: int) -> dict[str, object]:
    """Measure and return the figures."""
    items = synthetic(count)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fields_s, first = _timed(items)
    registry_s, second = _timed(items, registry=first.registry)
    one_field = [ThemeInput(i.text, i.vector, "all", i.created_at, i.quotable) for i in items]
    one_field_s, single = _timed(one_field)
    return {
        "benchmark": "themes",
        "texts": count,
        "fields": len({item.field for item in items}),
        "themes_s": round(fields_s, 2),
        "themes_with_registry_s": round(registry_s, 2),
        "themes": len(first.themes),
        "texts_in_themes": sum(1 for a in first.assignments if a is not None),
        "ids_kept_with_registry": sum(1 for a, b in zip(first.themes, second.themes, strict=False) if a.id == b.id),
        "one_field_s": round(one_field_s, 2),
        "one_field_themes": len(single.themes),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str]) -> int:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=20_000, help="number of synthetic texts")
    args = parser.parse_args(list(argv))
    print(json.dumps(run(args.texts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
