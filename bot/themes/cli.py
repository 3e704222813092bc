"""`stadtdialog themes refresh` and `stadtdialog themes embed`: what the scheduler does, now, from the shell.

The CLI writes rows only (DESIGN.md): theme ids and registries, embeddings. `embed` loads the classifier's e5
(this process is not the bot); `refresh` loads no model at all.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from bot.config import Config
from bot.storage.db import Database

from .embedding import BATCH, EmbedReport, embed_backlog
from .refresh import refresh_themes, report_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `themes refresh|embed`."""
    themes = sub.add_parser("themes", help="themes of ideas and free-text answers: refresh now, embed the backlog")
    themes_sub = themes.add_subparsers(dest="themes_command", required=True, metavar="ACTION")
    themes_sub.add_parser("refresh", help="find the themes per field now and store ids (the bot does it daily)")
    embed = themes_sub.add_parser("embed", help="embed answers and ideas stored without embedding (loads e5)")
    embed.add_argument("--limit", type=int, default=0, help="stop after this many texts (default: all)")


def run(config: Config, database: Database, args: argparse.Namespace) -> int:
    """Run the chosen action; prints one JSON line."""
    if args.themes_command == "refresh":
        print(json.dumps(report_json(refresh_themes(database, datetime.now(UTC)))))
        return 0
    from bot.classify import load_classifier
    from bot.themes.jobs import ThemeJobs, shared_embedder

    embedder = shared_embedder(load_classifier(config))
    if embedder is None:
        print(json.dumps({"error": "no classifier (STADTDIALOG_CLASSIFIER=off): nothing to embed with"}))
        return 1
    jobs = ThemeJobs(database, embedder, lambda: datetime.now(UTC))
    total = EmbedReport()
    while not args.limit or total.done < args.limit:
        step = embed_backlog(database, embedder, jobs.prepare, datetime.now(UTC),
                             limit=min(BATCH, args.limit - total.done) if args.limit else BATCH)
        total = EmbedReport(total.answers + step.answers, total.ideas + step.ideas,
                            total.refreshed + step.refreshed, total.skipped + step.skipped)
        if not step.done:
            break
    print(json.dumps({"answers": total.answers, "ideas": total.ideas, "refreshed": total.refreshed,
                      "skipped": total.skipped}))
    return 0
