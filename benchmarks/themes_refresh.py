"""The production theme refresh over stored embeddings: `python -m benchmarks.themes_refresh` prints one JSON line.

The texts and vectors of `benchmarks.themes` (varied copies of the 349 hand-grouped texts with their real e5
vectors plus noise), stored the way the bot stores them: 70 % as ideas (`ideas.embedding`, every third approved with
a public text), 30 % as free-text survey answers with an `answer_embeddings` row. Timed: `bot.themes.refresh_themes`
end to end (read everything, `find_themes` per field, write registries and every theme id), then a second refresh
on the same data (registry in place: nothing changes, nothing written), then a third from a new `Database` object
(a restart). Target (issue 13): < 60 s for 20,000 texts. SQLite in a temp folder unless `--database-url` is given
(an EMPTY database: the benchmark migrates and fills it).

`--embed-batches N` measures the background embedding job instead: N runs of one batch each with the classifier's
e5 (one thread, as in the bot).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks.themes import synthetic
from bot.storage import models as m
from bot.storage.db import Database
from bot.themes import refresh_themes
from bot.themes.embedding import to_bytes

IDEA_SHARE = 0.7
PER_CITIZEN = 10
SURVEY = {"id": "bench", "title": {"de": "Bench", "en": "Bench"},
          "questions": [{"id": "wunsch", "type": "free_text", "text": {"de": "Wunsch?", "en": "Wish?"}}]}


def fill(database: Database, count: int) -> tuple[int, int]:
    """Store `count` texts; returns (ideas, answers)."""
    items = synthetic(count)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    ideas = int(count * IDEA_SHARE)
    with database.unit_of_work() as uow:
        session = uow.session
        citizens = [f"bench{n:06d}" for n in range(0, count // PER_CITIZEN + 1)]
        session.execute(insert(m.Citizen), [
            {"id": c, "language": "de", "language_chosen": True, "consent_version": "1", "consent_at": start,
             "training_consent": None, "created_at": start, "last_seen_at": start, "paused_until": None,
             "outreach_day": None, "outreach_count": 0} for c in citizens])
        session.execute(insert(m.Idea), [
            {"id": f"{n:032x}", "citizen_id": citizens[n // PER_CITIZEN], "text": item.text, "field": item.field,
             "fields": [item.field], "created_at": item.created_at, "status": "received",
             "publication": "approved" if item.quotable else "none",
             "public_text": item.text if item.quotable else None, "embedding": to_bytes(item.vector),
             "embedding_model": "bench"}
            for n, item in enumerate(items[:ideas])])
        uow.surveys.import_survey("bench", SURVEY, "hash-bench", "Bench", "bench.yaml", start)
        survey_id = session.execute(select(m.Survey.id).where(m.Survey.key == "bench")).scalar_one()
        answers = items[ideas:]
        session.execute(insert(m.Response), [
            {"id": f"r{n:07d}", "citizen_id": citizens[(ideas + n) // PER_CITIZEN], "survey_id": survey_id,
             "status": "completed", "started_at": item.created_at, "completed_at": item.created_at,
             "campaign_id": None} for n, item in enumerate(answers)])
        session.execute(insert(m.Answer), [
            {"response_id": f"r{n:07d}", "question_id": "wunsch", "value": item.text, "answered_at": item.created_at,
             "field": item.field, "scores": None, "model_version": None} for n, item in enumerate(answers)])
        ids = dict(session.execute(select(m.Answer.response_id, m.Answer.id)).tuples().all())
        session.execute(insert(m.AnswerEmbedding), [
            {"answer_id": ids[f"r{n:07d}"], "vector": to_bytes(item.vector), "model": "bench", "source_hash": "-",
             "created_at": item.created_at + timedelta(minutes=1), "theme": None} for n, item in enumerate(answers)])
    return ideas, len(answers)


def _timed(database: Database, now: datetime) -> tuple[float, Any]:
    begin = time.perf_counter()
    report = refresh_themes(database, now)
    return time.perf_counter() - begin, report


def run(count: int, url: str | None) -> dict[str, object]:
    """Fill, refresh three times, return the figures."""
    with tempfile.TemporaryDirectory() as folder:
        target = url or f"sqlite:///{Path(folder) / 'themes.db'}"
        database = Database(target)
        database.migrate()
        ideas, answers = fill(database, count)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        now = datetime(2026, 12, 6, tzinfo=UTC)
        first_s, first = _timed(database, now)
        second_s, second = _timed(database, now + timedelta(days=1))
        database.dispose()
        restarted = Database(target)
        third_s, third = _timed(restarted, now + timedelta(days=2))
        restarted.dispose()
    return {
        "benchmark": "themes_refresh",
        "database": "sqlite" if url is None else target.split(":", 1)[0],
        "texts": count, "ideas": ideas, "answers": answers,
        "refresh_s": round(first_s, 2), "second_refresh_s": round(second_s, 2), "after_restart_s": round(third_s, 2),
        "fields": first.fields, "themes": first.themes, "texts_in_themes": first.themed,
        "rows_written_first": first.changed, "rows_changed_second": second.changed,
        "rows_changed_after_restart": third.changed,
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
    }


def embed_run(batches: int) -> dict[str, object]:
    """The background job's cost: `batches` runs of `embed_backlog` (BATCH texts each) with the classifier's e5 on
    free-text answers stored without embedding (SQLite in a temp folder)."""
    from bot.classify import TextClassifier
    from bot.themes.embedding import BATCH, embed_backlog
    from bot.themes.jobs import ThemeJobs, shared_embedder
    from nlp.model import FieldClassifier

    embedder = shared_embedder(TextClassifier(FieldClassifier.load()))
    assert embedder is not None
    items = synthetic(BATCH * batches)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite:///{Path(folder) / 'embed.db'}")
        database.migrate()
        start = datetime(2026, 6, 1, tzinfo=UTC)
        with database.unit_of_work() as uow:
            uow.session.execute(insert(m.Citizen), [{
                "id": "bench", "language": "de", "language_chosen": True, "consent_version": "1",
                "consent_at": start, "training_consent": None, "created_at": start, "last_seen_at": start,
                "paused_until": None, "outreach_day": None, "outreach_count": 0}])
            uow.surveys.import_survey("bench", SURVEY, "hash-bench", "Bench", "bench.yaml", start)
            survey_id = uow.session.execute(select(m.Survey.id)).scalar_one()
            uow.session.execute(insert(m.Response), [
                {"id": f"r{n:07d}", "citizen_id": "bench", "survey_id": survey_id, "status": "completed",
                 "started_at": start, "completed_at": start, "campaign_id": None} for n in range(len(items))])
            uow.session.execute(insert(m.Answer), [
                {"response_id": f"r{n:07d}", "question_id": "wunsch", "value": item.text, "answered_at": start,
                 "field": item.field, "scores": None, "model_version": None} for n, item in enumerate(items)])
        jobs = ThemeJobs(database, embedder, lambda: start)
        seconds = []
        for _ in range(batches):
            begin = time.perf_counter()
            done = embed_backlog(database, embedder, jobs.prepare, start).done
            seconds.append(time.perf_counter() - begin)
            assert done == BATCH
        database.dispose()
    seconds.sort()
    return {
        "benchmark": "themes_embed_batch", "batch": BATCH, "batches": batches,
        "batch_s_median": round(seconds[len(seconds) // 2], 3), "batch_s_max": round(seconds[-1], 3),
        "texts_per_s_one_thread": round(BATCH * batches / sum(seconds), 1),
        "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: Sequence[str]) -> int:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=20_000, help="number of stored texts")
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--embed-batches", type=int, default=0,
                        help="instead: time this many background embedding batches (loads the classifier)")
    args = parser.parse_args(list(argv))
    figures = embed_run(args.embed_batches) if args.embed_batches else run(args.texts, args.database_url)
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
