"""APScheduler wiring: periodic jobs in this process that turn due rows into work (DESIGN.md).

No job store is shared between processes: the jobs only poll the database, so every worker can run them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from bot.runtime import Runtime

FOLLOW_UP_INTERVAL_S = 1
"""Due follow-ups are claimed every second, so a row is fed within about a second of its due time."""
RESUME_INTERVAL_S = 15
HOUSEKEEPING_INTERVAL_S = 3600
CATALOG_INTERVAL_S = 2
"""How often the bot checks whether the CLI changed surveys (close, reopen, import)."""
CAMPAIGN_INTERVAL_S = 5
EMBED_INTERVAL_S = 60
"""A small batch of answers/ideas without embedding per minute (bot/themes/embedding.py)."""
THEMES_INTERVAL_S = 3600
"""Hourly check whether the themes are due (refreshed about daily: bot/themes/refresh.py REFRESH_AGE)."""


def build_scheduler(runtime: Runtime) -> AsyncIOScheduler:
    """Jobs: due follow-ups, a sweep for pending inbox/outbox rows (retries, leftovers), the catalog check, the
    campaign tick, hourly housekeeping, background embeddings and the hourly check for the daily theme refresh."""
    scheduler = AsyncIOScheduler(timezone=runtime.config.timezone)
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 60}
    # A tick still running when the next is due is not stacked: the next simply starts once it ended.
    scheduler.add_job(runtime.feed_due_follow_ups, "interval", seconds=FOLLOW_UP_INTERVAL_S, id="follow_ups",
                      max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.add_job(runtime.resume_pending, "interval", seconds=RESUME_INTERVAL_S, id="resume", **common)
    scheduler.add_job(runtime.refresh_catalog, "interval", seconds=CATALOG_INTERVAL_S, id="catalog", **common)
    scheduler.add_job(runtime.campaign_tick, "interval", seconds=CAMPAIGN_INTERVAL_S, id="campaigns", **common)
    scheduler.add_job(runtime.housekeeping, "interval", seconds=HOUSEKEEPING_INTERVAL_S, id="housekeeping", **common)
    scheduler.add_job(runtime.themes.embed_tick, "interval", seconds=EMBED_INTERVAL_S, id="embeddings", **common)
    scheduler.add_job(runtime.themes.refresh_tick, "interval", seconds=THEMES_INTERVAL_S, id="themes", **common)
    return scheduler
