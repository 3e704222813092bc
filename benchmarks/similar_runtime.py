"""The bot's similar-idea search path end to end: `python -m benchmarks.similar_runtime [--rows N] [--url URL]`
prints one JSON line.

A database (a temporary SQLite file unless `--url` names another, e.g. PostgreSQL) holds N approved ideas with
stored embeddings (random unit vectors; keys from the classifier corpus). Figures: building the index from the
stored vectors at the first search, then per search what a citizen waits for between their idea text and the
SIMILAR event in their inbox — count the attempt, embed with e5 (one text), sync the index, search, load the
matches, store the event, delete the row — as p50/p99, the part without embedding, and the RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.similar import percentile, rss_mb

ROOT = Path(__file__).resolve().parents[1]


def _fill(url: str, rows: int) -> str:
    """Migrate, store `rows` published ideas and one searching citizen; the citizen's id."""
    from sqlalchemy import insert

    from bot.storage import models as m
    from bot.storage.db import Database
    from bot.storage.repositories._base import table_of
    from handlers.events import CitizenState

    corpus = [json.loads(line)["text"] for line in (ROOT / "nlp" / "data" / "train.jsonl").read_text(
        encoding="utf-8").splitlines() if line]  # fmt: skip
    database = Database(url)
    database.migrate()
    now = datetime.now(UTC)
    published = now - timedelta(hours=1)  # published before the bot started, as in a running city
    rng = np.random.default_rng(13)
    with database.unit_of_work() as uow:
        for citizen in ("author", "citizen"):
            uow.citizens.save_state(citizen, CitizenState(consent_version="1", consent_at=now, flow="idle"), now)
            uow.contacts.upsert(citizen, "bench", citizen, citizen)
    for start in range(0, rows, 5000):
        count = min(5000, rows - start)
        vectors = rng.standard_normal((count, 384), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        with database.unit_of_work() as uow:
            uow.session.execute(insert(table_of(m.Idea)), [
                {"id": uuid.uuid4().hex, "citizen_id": "author", "text": corpus[(start + i) % len(corpus)],
                 "field": "mobilitaet", "fields": ["mobilitaet"], "created_at": now, "status": "new",
                 "embedding": vectors[i].astype("<f4").tobytes(), "embedding_model": "bench",
                 "publication": "approved", "public_text": corpus[(start + i) % len(corpus)],
                 "publication_at": published}
                for i in range(count)
            ])  # fmt: skip
    if not database.is_sqlite:  # statistics as autovacuum keeps them in a running city (a fresh bulk load has none)
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE ideas")
    database.dispose()
    return "citizen"


async def _measure(url: str, queries: list[str]) -> dict[str, Any]:
    from bot.ideaboard import store
    from bot.ideaboard.search import SimilarSearch
    from bot.storage.db import Database
    from nlp.embed import Embedder

    database = Database(url)
    embedder = Embedder(prefix="query")

    async def in_db(function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, functools.partial(function, *args))

    worker = SimilarSearch(database, embedder, in_db=in_db, kick_chat=lambda key: None, clock=lambda: datetime.now(UTC))
    embed_one = embedder.embed_one
    embedding: list[float] = []

    def timed_embed(text: str) -> Any:
        began = time.perf_counter()
        try:
            return embed_one(text)
        finally:
            embedding.append(time.perf_counter() - began)

    embedder.embed_one = timed_embed  # type: ignore[method-assign]
    gc.collect()
    before = rss_mb()
    totals: list[float] = []
    build = 0.0
    for number, text in enumerate(queries):
        with database.unit_of_work() as uow:
            store.add_search(uow, "citizen", "bench", "d", text, datetime.now(UTC))
        with database.unit_of_work(read_only=True) as uow:
            (row,) = store.pending_searches(uow, 1, datetime.now(UTC))
        began = time.perf_counter()
        await worker.answer(row)
        elapsed = time.perf_counter() - began
        if number == 0:
            build = elapsed - embedding[-1]
        else:
            totals.append(elapsed)
    rss = rss_mb() - before
    database.dispose()
    rest = [total - embed for total, embed in zip(totals, embedding[1:], strict=True)]
    return {
        "index_build_s": round(build, 2),
        "search_p50_ms": round(1000 * statistics.median(totals), 1),
        "search_p99_ms": round(1000 * percentile(totals, 0.99), 1),
        "without_embedding_p50_ms": round(1000 * statistics.median(rest), 1),
        "without_embedding_p99_ms": round(1000 * percentile(rest, 0.99), 1),
        "embedding_p50_ms": round(1000 * statistics.median(embedding[1:]), 1),
        "rss_growth_mb": round(rss, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--url", help="SQLAlchemy URL of an EMPTY database (default: a temporary SQLite file)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from nlp.similarfit import load_items

    texts = [item.text for item in load_items("dev") + load_items("test")]
    queries = [texts[i % len(texts)] for i in range(args.queries + 1)]
    with tempfile.TemporaryDirectory() as folder:
        url = args.url or f"sqlite:///{folder}/bench.db"
        began = time.perf_counter()
        _fill(url, args.rows)
        fill = time.perf_counter() - began
        figures = asyncio.run(_measure(url, queries))
    backend = url.split(":", 1)[0]
    print(json.dumps({"benchmark": "similar_runtime", "backend": backend, "rows": args.rows,
                      "queries": args.queries, "fill_s": round(fill, 1), **figures}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
