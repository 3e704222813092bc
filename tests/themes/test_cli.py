"""`stadtdialog themes refresh|embed` as an operator runs them, and the scheduler's theme jobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from bot.app import build_runtime
from bot.config import load_config
from bot.scheduler import EMBED_INTERVAL_S, THEMES_INTERVAL_S, build_scheduler
from bot.storage import models as m
from bot.storage.db import Database
from tests.themes import data


def stadtdialog(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STADTDIALOG_")}
    env["STADTDIALOG_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env, check=False)


def test_refresh_and_embed_from_the_command_line(tmp_path: Path) -> None:
    assert stadtdialog(tmp_path, "migrate").returncode == 0
    database = Database(f"sqlite:///{tmp_path / 'data' / 'stadtdialog.sqlite3'}")
    data.fill(database, data.Vectors.make())
    with database.unit_of_work() as uow:
        uow.ideas.add("no-vector", "a_baenke_0", "Trinkbrunnen im Park", "umwelt", data.START, fields=("umwelt",))
    refreshed = stadtdialog(tmp_path, "themes", "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout) == {"fields": 2, "themes": 4, "themed": 24, "unthemed": 0, "changed": 24,
                                            "skipped": False}
    embedded = stadtdialog(tmp_path, "themes", "embed", "--limit", "5")
    assert embedded.returncode == 0, embedded.stderr
    assert json.loads(embedded.stdout) == {"answers": 0, "ideas": 1, "refreshed": 0, "skipped": 0}
    with database.unit_of_work(read_only=True) as uow:
        assert uow.session.scalar(select(m.Idea.embedding_model).where(m.Idea.id == "no-vector"))
    database.dispose()


def test_the_scheduler_embeds_every_minute_and_checks_the_themes_hourly(tmp_path: Path) -> None:
    config = load_config({"STADTDIALOG_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
                          "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789"}, cwd=tmp_path)
    runtime = build_runtime(config, classify=False)
    try:
        scheduler = build_scheduler(runtime)
        embeddings, themes = scheduler.get_job("embeddings"), scheduler.get_job("themes")
        assert embeddings.trigger.interval.total_seconds() == EMBED_INTERVAL_S == 60
        assert themes.trigger.interval.total_seconds() == THEMES_INTERVAL_S == 3600
        assert runtime.themes.embedder is None, "no classifier: nothing to embed with, no second e5"
    finally:
        runtime.db.dispose()
