"""Fixtures shared by the runtime tests (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import field_infos
from bot.channels.base import Channel
from bot.classify import TextClassifier
from bot.config import Config, load_config
from bot.runtime import Runtime
from bot.storage.db import Database
from bot.survey_sync import import_surveys, load_catalog
from handlers.texts import load_texts

LIBRARY = Path(__file__).resolve().parents[2] / "surveys" / "library"


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    """A configuration on the test database with the sample surveys and a fixed pseudonym secret."""
    return load_config(
        {
            "STADTDIALOG_DATABASE_URL": database_url,
            "STADTDIALOG_PSEUDONYM_SECRET": "test-secret-0123456789",
            "STADTDIALOG_SURVEY_DIR": str(LIBRARY),
        },
        cwd=tmp_path,
    )


RuntimeFactory = Callable[..., Runtime]
"""`make_runtime(channel, settings=None, *, model=None)`: a runtime (not started) on the test database."""


@pytest.fixture
async def make_runtime(config: Config, database: Database) -> AsyncIterator[RuntimeFactory]:
    """Runtimes with the library surveys imported, other settings if given, a classifier around `model` if given;
    every runtime made is stopped afterwards."""
    fields = field_infos()
    import_surveys(database, config.survey_dir, {f.key for f in fields}, datetime.now(UTC))
    started: list[Runtime] = []

    def factory(channel: Channel, settings: Config | None = None, *, model: Any = None) -> Runtime:
        runtime = Runtime(
            settings or config,
            database,
            texts=load_texts(),
            fields=fields,
            catalog=load_catalog(database),
            classifier=None if model is None else TextClassifier(model),
        )
        runtime.add_channel(channel)
        started.append(runtime)
        return runtime

    yield factory
    for runtime in started:
        await runtime.stop()
