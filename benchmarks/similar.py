"""Similar-idea search speed: `python -m benchmarks.similar` prints one JSON line.

Figures: search latency p50/p99 over 100,000 stored rows (embedding excluded; the query's keys are computed inside
`search`, as in the bot), RSS growth of the index, how often the projected scan keeps the exact 10 nearest rows,
and separately the cost of embedding one idea with e5. Stored rows: the real vectors of the labelled set plus
random unit vectors; keys from real texts (the classifier corpus, cycled). Queries: the labelled texts.
`--quality` prints precision and recall on dev and test instead (`nlp.similarfit.evaluate`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(rows: int, queries: int, embed_texts: int) -> dict[str, object]:
    """Measure and return the figures."""
    from nlp.embed import Embedder, EmbeddingCache
    from nlp.similar import MatchIndex, MatchParams, default_restorer, embedding_text, text_keys
    from nlp.similarfit import CACHE, embed, load_items

    params = MatchParams.load()
    items = load_items("dev") + load_items("test")
    texts = [item.text for item in items]
    real = embed(texts, "query", EmbeddingCache(CACHE))
    corpus_lines = (ROOT / "nlp" / "data" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    corpus = [json.loads(line)["text"] for line in corpus_lines if line]
    corpus_keys = [text_keys(text) for text in corpus]
    real_keys = [text_keys(text) for text in texts]
    gc.collect()
    before = rss_mb()

    rng = np.random.default_rng(13)
    vectors = rng.standard_normal((rows, real.shape[1]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[: len(real)] = real
    keys = real_keys + [corpus_keys[i % len(corpus_keys)] for i in range(rows - len(real))]
    began = time.perf_counter()
    index = MatchIndex.build([f"idea-{i}" for i in range(rows)], vectors, keys, params)
    build_s = time.perf_counter() - began

    # How often the projected scan keeps all of the exact 10 nearest rows (float32 brute force as reference).
    kept = 0
    for row in range(min(100, len(real))):
        exact = np.argsort(-(vectors @ real[row]))[:10]
        kept += set(exact.tolist()) <= set(index.shortlist(real[row]).tolist())
    del vectors
    gc.collect()
    grown = rss_mb() - before

    latencies = []
    for i in range(queries):
        text, vector = texts[i % len(texts)], real[i % len(real)]
        begin = time.perf_counter()
        index.search(text, vector, limit=3)
        latencies.append((time.perf_counter() - begin) * 1000)

    embedder = Embedder(prefix="query")
    restorer = default_restorer()
    embedder.embed_one("Warm-up: der erste Aufruf lädt das Modell.")
    embed_ms = []
    for text in texts[:embed_texts]:
        begin = time.perf_counter()
        embedder.embed_one(embedding_text(text, restorer))
        embed_ms.append((time.perf_counter() - begin) * 1000)
    return {
        "benchmark": "similar",
        "rows": rows,
        "queries": queries,
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p99_ms": round(percentile(latencies, 0.99), 2),
        "build_s": round(build_s, 2),
        "index_rss_growth_mb": round(grown, 1),
        "scan_keeps_exact_top10": round(kept / min(100, len(real)), 3),
        "embed_one_p50_ms": round(statistics.median(embed_ms), 1),
        "embed_one_p99_ms": round(percentile(embed_ms, 0.99), 1),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str]) -> int:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="stored rows")
    parser.add_argument("--queries", type=int, default=2000, help="searches timed")
    parser.add_argument("--embed-texts", type=int, default=100, help="texts embedded one at a time")
    parser.add_argument("--quality", action="store_true", help="precision/recall on dev and test instead")
    args = parser.parse_args(list(argv))
    if args.quality:
        from nlp.similarfit import evaluate

        print(json.dumps({"benchmark": "similar-quality", "dev": evaluate("dev"), "test": evaluate("test")}))
        return 0
    print(json.dumps(run(args.rows, args.queries, args.embed_texts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
