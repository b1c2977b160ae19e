"""The database handle: engine, transactions and schema migrations.

Every unit of work runs in `Database.transaction()`, so a request or an engine step either
commits whole or leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, func, make_url, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from fenix.db.changes import track_changes
from fenix.db.repository import Repository
from fenix.db.sealed import use_secret_key
from fenix.db.subscribers import SubscriberCache

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x66656E6978 + 1
"""The PostgreSQL advisory lock key held while the schema is migrated (HOST_CLAIM_LOCK + 1)."""


def _tune_sqlite(dbapi_connection, _record) -> None:
    """WAL and a busy timeout let the API, the engine and a second process share one file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def strict_json(value: object) -> str:
    """JSON columns hold only JSON: NaN or Infinity is an error here, not a row that SQLite
    stores and no JSON reader can read back (PostgreSQL refuses it)."""
    return json.dumps(value, allow_nan=False)


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (0600): it holds subscription secrets.

    SQLite gives its -wal and -shm files the main file's permissions. A file that exists is
    narrowed to 0600 too.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    path.chmod(0o600)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=strict_json,
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, json_serializer=strict_json
    )


class Database:
    def __init__(self, url: str, secret_key: str | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        use_secret_key(self.engine, secret_key)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        track_changes(self._sessions)
        self.subscribers = SubscriberCache()

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to the newest migration (a no-op when it is there already), or to
        `revision` (for testing a migration on the data before it)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Controllers starting together on one database: one migrates, the others wait
                # for its commit and then find the schema at head.
                connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Repository]:
        """One atomic unit of work; rolls back on any exception."""
        session: Session = self._sessions()
        try:
            with session.begin():
                yield Repository(session, self.subscribers)
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
