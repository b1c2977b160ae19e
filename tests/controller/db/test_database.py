"""The schema and the repository on both backends: SQLite files and PostgreSQL."""

from __future__ import annotations

import stat
import threading

import pytest
from sqlalchemy import inspect

from fenix.db.database import Database
from fenix.timeutil import utcnow


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


def _new_session(repo, hosts=("compute-1",)):
    return repo.add_session(
        workflow="default",
        maintenance_at=utcnow(),
        meta={},
        download=[],
        hosts=[(h, "compute") for h in hosts],
        actions=[],
    )


def test_migrations_create_every_table_and_are_idempotent(database):
    database.upgrade()  # a second time changes nothing
    tables = set(inspect(database.engine).get_table_names())
    assert {
        "sessions",
        "session_hosts",
        "session_projects",
        "session_instances",
        "action_plugins",
        "action_runs",
        "instance_constraints",
        "instance_group_constraints",
        "subscriptions",
        "outbox",
        "events",
    } <= tables


def test_a_failed_transaction_leaves_nothing_behind(database):
    with pytest.raises(RuntimeError), database.transaction() as repo:
        _new_session(repo)
        raise RuntimeError("boom")
    with database.transaction() as repo:
        assert repo.list_session_ids() == []


def test_hosts_of_an_unfinished_session_are_busy(database):
    with database.transaction() as repo:
        session_id = _new_session(repo, ("compute-1", "compute-2")).id
    with database.transaction() as repo:
        assert repo.busy_hosts(["compute-2", "compute-3"]) == {"compute-2": session_id}


def test_lease_is_held_by_one_engine_until_it_expires(database):
    with database.transaction() as repo:
        session_id = _new_session(repo).id
    with database.transaction() as repo:
        assert repo.acquire_lease(session_id, "engine-a", 30)
    with database.transaction() as repo:
        assert not repo.acquire_lease(session_id, "engine-b", 30)
        assert repo.acquire_lease(session_id, "engine-a", 30)  # renewal
    with database.transaction() as repo:
        assert repo.acquire_lease(session_id, "engine-a", -1)  # let it lapse
    with database.transaction() as repo:
        assert repo.acquire_lease(session_id, "engine-b", 30)


def test_every_state_change_is_in_the_event_log_with_a_time(database):
    with database.transaction() as repo:
        session = _new_session(repo)
        repo.set_session_state(session, "SCALE_IN", "no room")
        session_id = session.id
    with database.transaction() as repo:
        events = repo.events(session_id)
    assert [(e.kind, e.old, e.new) for e in events] == [
        ("session.created", None, "MAINTENANCE"),
        ("session.state", "MAINTENANCE", "SCALE_IN"),
    ]
    assert events[1].data == {"reason": "no room"}
    assert all(e.at is not None for e in events)


def test_controllers_starting_together_on_postgresql_migrate_once(postgres_url):
    # Each controller migrates at start; on one empty database they must not trip on each other.
    databases = [Database(postgres_url) for _ in range(4)]
    barrier = threading.Barrier(len(databases))
    errors: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait()
        try:
            db.upgrade()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for db in databases:
        db.dispose()

    assert errors == []
    check = Database(postgres_url)
    assert "sessions" in inspect(check.engine).get_table_names()
    check.dispose()


def test_a_sqlite_database_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "fenix.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    with database.transaction() as repo:
        repo.add_event(None, "check", None)

    files = [path, *tmp_path.glob("fenix.db-*")]

    assert len(files) >= 2  # the database and its write-ahead log
    assert {oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {"0o600"}
    database.dispose()


def test_an_existing_sqlite_file_is_narrowed_to_its_owner(tmp_path):
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)

    Database(f"sqlite:///{path}").dispose()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
