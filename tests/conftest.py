"""Shared test fixtures."""

from __future__ import annotations

# --- database fixtures (owned by the storage layer) ---------------------------------------------------------------
# `database_url` runs a test on SQLite (a file in tmp_path) and on PostgreSQL (a fresh database per test, dropped
# afterwards). PostgreSQL is skipped when unreachable, unless STADTDIALOG_TEST_POSTGRES_URL is set: then it is
# mandatory and an unreachable server fails the test. `database` is a migrated `Database` for that URL.
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

from bot.storage.db import Database

POSTGRES_URL_VARIABLE = "STADTDIALOG_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _libpq_url(sqlalchemy_url: str) -> str:
    """The same URL as psycopg's own connection string (without the `+psycopg` driver suffix)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of the PostgreSQL maintenance database test databases are created from (skips/fails if unreachable)."""
    url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    try:
        with psycopg.connect(_libpq_url(url), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        message = f"PostgreSQL at {make_url(url).render_as_string()} is unreachable: {error}"
        if os.environ.get(POSTGRES_URL_VARIABLE):
            pytest.fail(f"{message} ({POSTGRES_URL_VARIABLE} is set, so PostgreSQL tests are mandatory)")
        pytest.skip(message)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'stadtdialog.db'}"
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    name = f"stadtdialog_test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(admin_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq_url(admin_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database for `database_url`."""
    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


# --- end of database fixtures -------------------------------------------------------------------------------------
