"""How long a staff member waits for the chat's live views on a large database (no reference exists for this).

Builds the export benchmark's synthetic database (`benchmarks.export_data`: a campaign with a share of 50,000
responses, 10,000 ideas) on SQLite or a scratch PostgreSQL database, then times the read side the staff desk runs
inside the event's transaction (`bot/staffdesk/views.py`): `/kampagne N` (live figures with median and drop-off),
`/kampagnen`, `/ideen_neu` as Telegram staff see it (redacted) and one idea. Prints one JSON line: per view the
median and the worst of `--runs` runs, in milliseconds.

    python -m benchmarks.staff_views [--responses 50000] [--ideas 10000] [--database sqlite|postgresql] [--runs 7]

While a view runs, that database thread handles nothing else (SQLite has one; PostgreSQL four): the figures say
how long other chats' events may queue behind a staff member's refresh.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import export_data
from benchmarks.exports import scratch_database

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _timed(runs: int, work: Callable[[], Any]) -> dict[str, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def measure(url: str, runs: int) -> dict[str, Any]:
    from sqlalchemy import select

    from bot.app import field_infos
    from bot.staffdesk import views
    from bot.storage import models as m
    from bot.storage.db import Database
    from bot.survey_sync import load_catalog

    database = Database(url)
    secret = export_data.SECRET.encode()
    keys = [info.key for info in field_infos()]
    now = datetime.now(UTC)
    try:
        catalog = load_catalog(database)
        with database.unit_of_work(read_only=True) as uow:
            campaign_id = uow.session.execute(select(m.Campaign.id)).scalar_one()
            idea_id = uow.session.execute(select(m.Idea.id).limit(1)).scalar_one()

        def view(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
            def run() -> Any:
                with database.unit_of_work(read_only=True) as uow:
                    return function(uow, *args, **kwargs)

            return run

        figures = view(views.campaign_figures, campaign_id, catalog, set(), now)()
        return {
            "campaign_started": figures.line.started,
            "campaign_completed": figures.line.completed,
            "campaign": _timed(runs, view(views.campaign_figures, campaign_id, catalog, set(), now)),
            "campaigns": _timed(runs, view(views.campaign_lines, set(), now)),
            "new_ideas_telegram": _timed(runs, view(views.new_ideas, keys, per_field=3, full_text=False,
                                                    secret=secret, staff_citizens=set())),
            "idea": _timed(runs, view(views.idea_item, idea_id, full_text=False, secret=secret)),
        }
    finally:
        database.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staff_views", description=__doc__.split("\n")[0])
    parser.add_argument("--responses", type=int, default=50_000)
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("STADTDIALOG_PSEUDONYM_SECRET", export_data.SECRET)
    with tempfile.TemporaryDirectory() as folder:
        admin = ADMIN_URL if args.database == "postgresql" else None
        with scratch_database(admin, Path(folder), "staff") as url:
            summary = export_data.build(url, responses=args.responses, ideas=args.ideas)
            result = {"benchmark": "staff_views", "database": args.database, "responses": summary.responses,
                      "campaign_responses": summary.campaign_responses, "ideas": summary.ideas,
                      "build_s": summary.seconds, **measure(url, args.runs)}  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
