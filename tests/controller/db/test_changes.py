"""Session change counters move with every committed change to what a session shows, in the
same transaction, and stay put for reads, leases and rolled-back work."""

from __future__ import annotations

import threading

import pytest

from fenix.db.database import Database
from fenix.db.models import SessionInstance
from fenix.timeutil import utcnow


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.fixture
def session_id(database):
    with database.transaction() as repo:
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[("compute-1", "compute"), ("compute-2", "compute")],
            actions=[("prepare", "pre", {})],
        )
        return session.id


def _seq(database, session_id, **kwargs):
    with database.transaction() as repo:
        return repo.change_seq(session_id, **kwargs)


def _positions(database, session_id, after=0):
    with database.transaction() as repo:
        return [(event.position, event.subject) for event in repo.events(session_id, after)]


def test_a_new_session_starts_at_one_and_an_unknown_one_has_none(database, session_id):
    assert _seq(database, session_id) == 1
    assert _seq(database, "no-such-session") is None


def test_reading_does_not_move_the_counter(database, session_id):
    with database.transaction() as repo:
        session = repo.get_session(session_id)
        assert [h.name for h in session.hosts] == ["compute-1", "compute-2"]
        repo.events(session_id)
    assert _seq(database, session_id) == 1


def test_one_transaction_of_many_writes_moves_it_once(database, session_id):
    with database.transaction() as repo:
        session = repo.get_session(session_id)
        repo.set_host_state(session.hosts[0], "PREPARING")
        repo.orm.flush()
        repo.set_session_state(session, "SCALE_IN")
        session.percent_done = 10
    assert _seq(database, session_id) == 2


@pytest.mark.parametrize(
    "change",
    [
        "event",
        "host",
        "session",
        "instance_added",
        "instance_changed",
        "project",
        "action_run",
        "outbox",
        "deleted",
    ],
)
def test_each_kind_of_change_moves_it(database, session_id, change):
    if change == "instance_changed":
        with database.transaction() as repo:
            repo.add_instance(
                repo.get_session(session_id),
                instance_id="i-1",
                name="vm",
                project_id="p",
                host="compute-1",
            )
    before = _seq(database, session_id)

    with database.transaction() as repo:
        session = repo.get_session(session_id)
        if change == "event":
            repo.add_event(session_id, "test.event")
        elif change == "host":
            session.hosts[1].details = {"note": "x"}
        elif change == "session":
            session.error = "boom"
        elif change == "instance_added":
            repo.add_instance(
                session, instance_id="i-2", name="vm", project_id="p", host="compute-1"
            )
        elif change == "instance_changed":
            (row,) = repo.session_instances(session_id, ["i-1"])
            row.state = "MIGRATING"
        elif change == "project":
            repo.project(session, "project-1").step = "MAINTENANCE"
        elif change == "action_run":
            repo.add_action_run(session_id, "prepare", "pre", [])
        elif change == "outbox":
            repo.add_outbox(
                subscription_id="s",
                session_id=session_id,
                event_type="maintenance.session",
                message_id="m",
                body={},
            )
        elif change == "deleted":
            session.deleted = True

    assert _seq(database, session_id, with_deleted=True) == before + 1


def test_a_rolled_back_change_does_not_move_it(database, session_id):
    with pytest.raises(RuntimeError), database.transaction() as repo:
        repo.add_event(session_id, "test.event")
        raise RuntimeError("boom")
    assert _seq(database, session_id) == 1


def test_a_lease_changes_neither_the_counter_nor_updated_at(database, session_id):
    with database.transaction() as repo:
        before = repo.get_session(session_id).updated_at

    with database.transaction() as repo:
        assert repo.acquire_lease(session_id, "engine-1", 30)
    with database.transaction() as repo:
        repo.release_lease(session_id, "engine-1")

    with database.transaction() as repo:
        assert repo.get_session(session_id).updated_at == before
    assert _seq(database, session_id) == 1


def test_pruning_a_sessions_events_moves_it(database, session_id):
    with database.transaction() as repo:
        events, _ = repo.prune_session_records(session_id, utcnow())
    assert events == 1
    assert _seq(database, session_id) == 2


def test_deleting_a_subscription_moves_the_sessions_whose_dead_notifications_show_it(
    database, session_id
):
    with database.transaction() as repo:
        subscription = repo.add_subscription(event_types=["x"], callback_url="http://h/")
        message = repo.add_outbox(
            subscription_id=subscription.id,
            session_id=session_id,
            event_type="x",
            message_id="m",
            body={},
        )
        message.state = "DEAD"
        subscription_id = subscription.id
    before = _seq(database, session_id)

    with database.transaction() as repo:
        repo.delete_row(repo.get_subscription(subscription_id))

    assert _seq(database, session_id) == before + 1


def test_concurrent_writers_each_move_it_and_number_every_event_once(database, session_id):
    """Every committed change has its own value: two writers never both leave the same one;
    every event has its own position, without a gap, a transaction's events side by side."""
    writers = 4
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            for k in range(5):
                with database.transaction() as repo:
                    repo.add_event(session_id, "test.event", subject=f"{n}.{k}")
                    repo.add_event(session_id, "test.event", subject=f"{n}.{k}b")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert _seq(database, session_id) == 1 + writers * 5
    read = _positions(database, session_id)
    assert [position for position, _ in read] == list(range(1, len(read) + 1))
    ours = [(position, subject) for position, subject in read if subject and "." in subject]
    assert len(ours) == 2 * writers * 5
    for position, subject in ours:
        if subject.endswith("b"):
            assert (position - 1, subject[:-1]) in read


def test_a_session_instance_row_counts_before_its_first_flush(database, session_id):
    """A row appended to a session's collection has no session_id until it is flushed."""
    with database.transaction() as repo:
        session = repo.get_session(session_id)
        row = SessionInstance(instance_id="i-9", name="vm", project_id="p", host="compute-2")
        session.instances.append(row)
        assert row.session_id is None
    assert _seq(database, session_id) == 2


def test_a_new_sessions_events_are_numbered_from_one_in_the_order_written(database):
    with database.transaction() as repo:
        session = repo.add_session(
            workflow="default", maintenance_at=utcnow(), meta={}, download=[], hosts=[], actions=[]
        )
        session_id = session.id
        for n in range(3):
            repo.add_event(session_id, "test.event", subject=str(n))
    with database.transaction() as repo:
        repo.add_event(session_id, "test.event", subject="3")
        repo.add_event(None, "test.global")  # no session: no position

    read = _positions(database, session_id)
    assert [position for position, _ in read] == list(range(1, len(read) + 1))
    first = len(read) - 4  # the session's own creation is logged before ours
    assert read[first:] == [(first + 1, "0"), (first + 2, "1"), (first + 3, "2"), (first + 4, "3")]
    assert _positions(database, session_id, after=first + 2) == read[first + 2 :]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_event_committed_after_a_later_written_one_is_not_skipped_by_a_reader(
    database, session_id
):
    """Event 1 is written first but committed after event 2. On PostgreSQL an id is taken at
    insert: had the events been inserted as they were written, a reader that read 2 and then
    asked for what followed it by id would never see 1. They are inserted at the commit, under
    the session's counter lock: positions, and ids too, follow the commits."""
    (before, _), *_ = reversed(_positions(database, session_id))
    with database.transaction() as slow:
        slow.add_event(session_id, "test.event", subject="written first")
        slow.orm.flush()
        with database.transaction() as quick:
            quick.add_event(session_id, "test.event", subject="written second")
        first_read = _positions(database, session_id, after=before)
        assert first_read == [(before + 1, "written second")]
    second_read = _positions(database, session_id, after=first_read[-1][0])

    assert second_read == [(before + 2, "written first")]
    with database.transaction() as repo:
        ids = {event.subject: event.id for event in repo.events(session_id)}
    assert ids["written second"] < ids["written first"]
