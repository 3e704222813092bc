"""Classifier speed: `python -m benchmarks.classifier` prints one JSON line.

Figures: model load time, single-text latency p50/p99 (one text at a time, as the bot classifies), batch
throughput with both cores (`classify_many`), peak RSS. The load average is printed too: on a shared machine
the e5 embedder slows down in proportion to the load, so read the figures together with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _texts(paths: Sequence[Path]) -> list[str]:
    texts: list[str] = []
    for path in paths:
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return texts


def run(single: int, batch_rounds: int) -> dict[str, object]:
    """Measure and return the figures."""
    started = time.perf_counter()
    from nlp.model import FieldClassifier

    imported = time.perf_counter()
    classifier = FieldClassifier.load()
    loaded = time.perf_counter()
    texts = _texts([ROOT / "nlp" / "data" / "test.jsonl", ROOT / "nlp" / "data" / "defects.jsonl"])
    classifier.classify("Warm-up: der erste Aufruf lädt das Modell in den Speicher.")

    latencies = []
    for text in texts[:single]:
        begin = time.perf_counter()
        classifier.classify(text)
        latencies.append((time.perf_counter() - begin) * 1000)
    latencies.sort()

    begin = time.perf_counter()
    for _ in range(batch_rounds):
        classifier.classify_many(texts)
    batch_seconds = time.perf_counter() - begin
    return {
        "benchmark": "classifier",
        "model": classifier.version,
        "load_s": round(loaded - imported, 3),
        "import_and_load_s": round(loaded - started, 3),
        "single_p50_ms": round(statistics.median(latencies), 1),
        "single_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "single_texts": len(latencies),
        "batch_texts_per_s": round(len(texts) * batch_rounds / batch_seconds, 1),
        "batch_texts": len(texts) * batch_rounds,
        "batch_workers": 2,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str]) -> int:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=200, help="texts classified one at a time")
    parser.add_argument("--batch-rounds", type=int, default=1, help="passes over test+defects with classify_many")
    args = parser.parse_args(list(argv))
    print(json.dumps(run(args.single, args.batch_rounds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
