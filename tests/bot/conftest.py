"""Fixtures shared by the runtime tests (the database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, load_config

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
