"""The database: engine set-up, migrations and the unit of work (one session and transaction per event)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from bot.files import create_private_file, private_dir
from bot.storage.repositories import (
    AuditRepository,
    CampaignRepository,
    ChannelStateRepository,
    CitizenRepository,
    ContactRepository,
    ConversationRepository,
    FeedbackRepository,
    FollowUpRepository,
    IdeaRepository,
    InboxRepository,
    OptInRepository,
    OutboxRepository,
    ResponseRepository,
    SurveyRepository,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_DEFERRED_OPTION = "stadtdialog_deferred"
"""Connection execution option read by the SQLite begin hook: start a deferred rather than an immediate transaction."""
_MIGRATION_LOCK_KEY = 0x5D1A_0001
"""PostgreSQL advisory lock held while migrating, so workers starting together do not race."""


class UnitOfWork:
    """One session and one transaction shared by every repository while one event is handled."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.citizens = CitizenRepository(session)
        self.contacts = ContactRepository(session)
        self.conversations = ConversationRepository(session)
        self.inbox = InboxRepository(session)
        self.outbox = OutboxRepository(session)
        self.surveys = SurveyRepository(session)
        self.responses = ResponseRepository(session)
        self.ideas = IdeaRepository(session)
        self.follow_ups = FollowUpRepository(session)
        self.opt_ins = OptInRepository(session)
        self.channel_state = ChannelStateRepository(session)
        self.feedback = FeedbackRepository(session)  # read-only, for analysts
        self.campaigns = CampaignRepository(session)
        self.audit = AuditRepository(session)  # staff actions (employees' data, own retention)


class Database:
    """Owns the engine for one database URL (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                _create_sqlite_file(Path(database).expanduser())
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options["pool_pre_ping"] = True
        self.engine: Engine = create_engine(parsed, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=True)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (`alembic upgrade head`); a no-op when it is current."""
        with self.engine.connect() as connection:
            if self.is_sqlite:
                _migrate_sqlite(connection)
                return
            with connection.begin():
                # Workers starting together would race to create the same tables; the lock makes them queue.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                command.upgrade(alembic_config(connection), "head")

    @contextlib.contextmanager
    def unit_of_work(self, *, read_only: bool = False) -> Iterator[UnitOfWork]:
        """A session in a transaction: committed when the block ends, rolled back when it raises.

        `read_only`: the block only reads. On SQLite it then starts a deferred transaction that does not queue for
        the write lock (WAL readers never wait for the writer); a write inside it may fail with "locked".
        """
        with self._sessions() as session, session.begin():
            if read_only and self.is_sqlite:
                session.connection(execution_options={_DEFERRED_OPTION: True})
            yield UnitOfWork(session)

    def ping(self) -> None:
        """Raise if the database cannot be reached now (tells a broken statement from a broken database)."""
        with self.unit_of_work(read_only=True) as uow:
            uow.session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close all pooled connections."""
        self.engine.dispose()


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic configuration for our migrations, without an ini file (the app migrates programmatically)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _create_sqlite_file(path: Path) -> None:
    """Its folder (0700 where created) and the empty database file with mode 0600, before SQLite first opens it.

    SQLite gives the -wal and -shm files the mode of the database file, so they are owner-only as well; an
    existing database keeps the mode it has.
    """
    private_dir(path.parent)
    create_private_file(path)


def _migrate_sqlite(connection: Connection) -> None:
    """Migrate with foreign keys off, as SQLite's documentation prescribes for schema changes.

    Batch migrations rebuild a table by copying it and dropping the original; with foreign keys on, that drop
    would cascade into the child rows. The pragma only takes effect outside a transaction, hence the raw call.
    """
    raw = connection.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():  # BEGIN IMMEDIATE: concurrent starters queue here
            command.upgrade(alembic_config(connection), "head")
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _configure_sqlite(engine: Engine) -> None:
    """Per-connection pragmas, and transactions that take the write lock up front.

    pysqlite would start transactions lazily and deferred; a deferred transaction that reads, then writes,
    fails at once with "database is locked" when another connection wrote meanwhile, whatever the busy
    timeout. BEGIN IMMEDIATE waits for the lock instead, so concurrent units of work simply queue.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see below)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        deferred = connection.get_execution_options().get(_DEFERRED_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
