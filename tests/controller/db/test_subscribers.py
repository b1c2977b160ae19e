"""Subscriptions kept in memory between changes: read once per change, never stale across
the processes that share a database."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from fenix.db.database import Database

PLANNED = {"maintenance.planned"}


@pytest.fixture
def databases(database_url):
    """Two Database objects on one database, as the engine's and an API worker's processes."""
    engine_side, api_side = Database(database_url), Database(database_url)
    engine_side.upgrade()
    yield engine_side, api_side
    engine_side.dispose()
    api_side.dispose()


def _subscribe(db: Database, project_id: str, event_types=("maintenance.planned",)) -> str:
    with db.transaction() as repo:
        subscription = repo.add_subscription(
            project_id=project_id,
            event_types=list(event_types),
            callback_url="http://127.0.0.1:9/hook",
            secret="s3cret",
            format="fenix",
        )
        return subscription.id


def _ids(db: Database, project_id: str | None, event_types=PLANNED) -> list[str]:
    with db.transaction() as repo:
        return [s.id for s in repo.subscriptions_for(event_types, project_id)]


def _reads_of_subscriptions(db: Database) -> list[str]:
    """Every SELECT on the subscriptions table the database runs from now on."""
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM subscriptions" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    return statements


def test_another_processs_changes_are_seen_by_the_next_transaction(databases):
    engine_side, api_side = databases
    assert _ids(engine_side, "project-1") == []

    first = _subscribe(api_side, "project-1")
    assert _ids(engine_side, "project-1") == [first]
    assert _ids(engine_side, "project-2") == []

    with api_side.transaction() as repo:
        repo.get_subscription(first).event_types = ["maintenance.host"]
    assert _ids(engine_side, "project-1") == []
    assert _ids(engine_side, "project-1", {"maintenance.host"}) == [first]

    with api_side.transaction() as repo:
        repo.delete_row(repo.get_subscription(first))
    assert _ids(engine_side, "project-1", {"maintenance.host"}) == []


def test_unchanged_subscriptions_are_read_once_whatever_the_notifications(databases):
    engine_side, _ = databases
    wanted = _subscribe(engine_side, "project-1")
    _subscribe(engine_side, "project-2")
    reads = _reads_of_subscriptions(engine_side)

    for _ in range(3):
        with engine_side.transaction() as repo:
            for project in ("project-1", "project-2", "project-3") * 5:
                repo.subscriptions_for(PLANNED, project)
            assert [s.id for s in repo.subscriptions_for(PLANNED, "project-1")] == [wanted]

    assert len(reads) == 1


def test_a_transaction_sees_its_own_new_subscription_before_it_commits(databases):
    engine_side, _ = databases
    assert _ids(engine_side, "project-1") == []  # cached: none
    with engine_side.transaction() as repo:
        added = repo.add_subscription(
            project_id="project-1",
            event_types=["maintenance.planned"],
            callback_url="http://127.0.0.1:9/hook",
            format="fenix",
        )
        assert [s.id for s in repo.subscriptions_for(PLANNED, "project-1")] == [added.id]
    assert _ids(engine_side, "project-1") == [added.id]


def test_what_is_kept_holds_no_secret_and_no_url(databases):
    engine_side, _ = databases
    _subscribe(engine_side, "project-1")
    with engine_side.transaction() as repo:
        (kept,) = repo.subscriptions_for(PLANNED, "project-1")
    assert not hasattr(kept, "secret") and not hasattr(kept, "callback_url")


def test_an_infrastructure_notice_goes_only_to_subscriptions_for_every_project(databases):
    engine_side, _ = databases
    everyone = _subscribe(engine_side, None)
    own = _subscribe(engine_side, "project-1")
    assert _ids(engine_side, None) == [everyone]
    assert sorted(_ids(engine_side, "project-1")) == sorted([everyone, own])
