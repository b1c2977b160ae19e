"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from fenix.db.database import Database
from fenix.db.models import Base
from fenix.timeutil import utcnow


def test_models_and_migrations_agree(database_url):
    db = Database(database_url)
    db.upgrade()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    db.dispose()
    assert diff == [], "a model changed without a migration: run alembic revision --autogenerate"


def test_event_positions_are_given_to_the_events_there_were_in_id_order(database_url):
    """0006 numbers each session's existing events by id (they were committed long ago) and
    sets each counter to its session's last position, so new events follow on."""
    db = Database(database_url)
    db.upgrade("0005")
    session_row = (
        "INSERT INTO sessions (id, state, workflow, maintenance_at, metadata, download, cursor,"
        " percent_done, stop_requested, deleted, created_at, updated_at)"
        " VALUES (:id, 'MAINTENANCE', 'default', :now, '{}', '[]', '{}', 0, false, false,"
        " :now, :now)"
    )
    event_row = (
        "INSERT INTO events (session_id, at, kind, data) VALUES (:session_id, :now, :kind, '{}')"
    )
    with db.engine.begin() as connection:
        now = utcnow()
        for session_id in ("s-1", "s-2"):
            connection.execute(text(session_row), {"id": session_id, "now": now})
            connection.execute(
                text("INSERT INTO session_change_seq (session_id, change_seq) VALUES (:id, 5)"),
                {"id": session_id},
            )
        for session_id, kind in [
            ("s-1", "a"),
            ("s-2", "x"),
            ("s-1", "b"),
            (None, "g"),
            ("s-1", "c"),
        ]:
            connection.execute(
                text(event_row), {"session_id": session_id, "now": now, "kind": kind}
            )

    db.upgrade()

    with db.transaction() as repo:
        assert [(e.position, e.kind) for e in repo.events("s-1")] == [(1, "a"), (2, "b"), (3, "c")]
        assert [(e.position, e.kind) for e in repo.events("s-2")] == [(1, "x")]
        repo.add_event("s-1", "d")
    with db.transaction() as repo:
        assert [(e.position, e.kind) for e in repo.events("s-1", 3)] == [(4, "d")]
        assert repo.change_seq("s-1") == 6
    db.dispose()
