"""Followers of a busy session's event log, each at its own position, given their pages from
the tail the API process holds: the database's page under the database's tag, read once for
all of them.

`runtime` makes the API busy from its first read (FENIX_BUSY_READS=0); `quiet_client` is an
app on the same database that reads every page from it, for comparison.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from fenix.api.event_tails import EventTails, Tail
from fenix.db.repository import Repository
from fenix.runtime import Runtime

from .conftest import runtime_with

MAX_AGE = 0.6


@pytest.fixture
def runtime(database_url: str, sim_url: str) -> Iterator[Runtime]:
    yield from runtime_with(database_url, sim_url, busy_reads=0, busy_read_max_age=MAX_AGE)


@pytest.fixture
def session_id(create_session) -> str:
    return create_session(hosts=["compute-1", "compute-2"])


@pytest.fixture
def event_reads(monkeypatch) -> list[int]:
    """The `since` of each read of the event log from the database."""
    reads: list[int] = []
    real = Repository.events

    def counted(self, session_id, after=0, limit=None):
        reads.append(after)
        return real(self, session_id, after, limit)

    monkeypatch.setattr(Repository, "events", counted)
    return reads


def _log(runtime: Runtime, session_id: str, count: int) -> None:
    """The engine logs `count` more events."""
    with runtime.db.transaction() as repo:
        for index in range(count):
            repo.add_event(session_id, "test.logged", f"subject-{index}")


def _events(session_id: str, since: int, limit: int = 100) -> str:
    return f"/v1/maintenance/{session_id}/events?since={since}&limit={limit}"


def test_followers_at_every_position_get_the_databases_pages_from_one_read(
    client, quiet_client, runtime, session_id, event_reads
):
    _log(runtime, session_id, 12)
    head = client.get(_events(session_id, 0)).get_json()["next"]
    reads_before = len(event_reads)

    pages = {since: client.get(_events(session_id, since, limit=5)) for since in range(head + 1)}

    assert len(event_reads) == reads_before  # every page from the tail read at since=0
    for since, page in pages.items():
        from_database = quiet_client.get(_events(session_id, since, limit=5))
        assert page.get_json() == from_database.get_json(), since
        assert page.headers["ETag"] == from_database.headers["ETag"], since
    assert pages[head].get_json() == {"events": [], "more": False, "next": head}
    assert pages[0].get_json()["more"] is True


def test_the_page_a_follower_holds_is_a_304(client, runtime, session_id):
    _log(runtime, session_id, 3)
    page = client.get(_events(session_id, 1))

    again = client.get(_events(session_id, 1), headers={"If-None-Match": page.headers["ETag"]})

    assert again.status_code == 304


def test_new_events_show_once_the_tail_is_half_max_age_old_read_after_its_newest(
    client, runtime, session_id, event_reads
):
    head = client.get(_events(session_id, 0)).get_json()["next"]
    _log(runtime, session_id, 4)
    assert client.get(_events(session_id, head)).get_json()["events"] == []  # a moment old

    time.sleep(MAX_AGE / 2 + 0.05)
    page = client.get(_events(session_id, head)).get_json()

    assert [event["subject"] for event in page["events"]] == [f"subject-{i}" for i in range(4)]
    assert event_reads[-1] == head  # only the events after the newest it held


def test_a_position_older_than_the_tail_is_read_from_the_database(
    client, quiet_client, runtime, session_id, event_reads
):
    _log(runtime, session_id, 6)
    client.get(_events(session_id, 4))  # the tail starts after position 4

    page = client.get(_events(session_id, 1, limit=2))

    assert event_reads[-1] == 1
    assert page.get_json() == quiet_client.get(_events(session_id, 1, limit=2)).get_json()


def test_a_position_past_the_end_of_the_log_does_not_keep_followers_off_the_tail(
    client, runtime, session_id, event_reads
):
    with runtime.db.transaction() as repo:
        head = repo.events(session_id)[-1].position
    client.get(_events(session_id, head + 1000))  # the first tail starts past the end
    _log(runtime, session_id, 3)
    time.sleep(MAX_AGE / 2 + 0.05)

    first = client.get(_events(session_id, head)).get_json()
    reads = len(event_reads)
    second = client.get(_events(session_id, head + 1)).get_json()

    assert [event["subject"] for event in first["events"]] == [
        "subject-0",
        "subject-1",
        "subject-2",
    ]
    assert second["events"] == first["events"][1:]
    assert len(event_reads) == reads  # the second from the tail the first read


def test_a_deleted_sessions_log_is_still_read_and_an_unknown_one_is_404(
    client, runtime, session_id
):
    _log(runtime, session_id, 2)
    before = client.get(_events(session_id, 0)).get_json()["events"]
    assert client.delete(f"/v1/maintenance/{session_id}").status_code == 200

    kept = client.get(_events(session_id, 0)).get_json()["events"]

    assert kept[: len(before)] == before and len(kept) > len(before)  # and its deletion
    assert client.get(_events("no-such-session", 0)).status_code == 404


def test_a_tail_keeps_only_its_newest_events_and_says_from_where():
    views = [{"id": position} for position in range(11, 21)]
    tail = Tail(seq=1, after=10, views=views, as_of=0.0)

    assert tail.covers(10) and tail.covers(20) and not tail.covers(9)
    assert tail.page(18, 5) == {"events": views[-2:], "more": False, "next": 20}
    assert tail.page(10, 3) == {"events": views[:3], "more": True, "next": 13}
    assert tail.page(20, 3) == {"events": [], "more": False, "next": 20}


def test_a_session_that_logged_more_than_a_tail_holds_is_read_from_the_database(
    runtime, session_id
):
    tails = EventTails(events_kept=3)

    def read(fn):
        with runtime.db.transaction() as repo:
            return fn(repo)

    def view(event) -> dict:
        return {"id": event.position}

    with runtime.db.transaction() as repo:
        head = repo.events(session_id)[-1].position
    _log(runtime, session_id, 2)
    now = time.monotonic()
    first = tails.tail(session_id, head, now, now, read, view)
    assert first is not None and first.after == head and len(first.views) == 2
    _log(runtime, session_id, 10)

    later = time.monotonic()
    assert tails.tail(session_id, head, later, later, read, view) is None
