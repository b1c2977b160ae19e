"""Two controller processes on one database never both claim a host."""

from __future__ import annotations

import threading

import pytest

from fenix.db.database import Database
from fenix.timeutil import utcnow


@pytest.fixture
def databases(database_url):
    """Two handles on one database, as two controller processes have."""
    first, second = Database(database_url), Database(database_url)
    first.upgrade()
    yield first, second
    first.dispose()
    second.dispose()


def test_a_second_claim_of_a_host_waits_for_the_first_and_sees_it_taken(databases):
    first, second = databases
    seen: dict[str, object] = {}
    first_committing = threading.Event()

    def check_from_the_other_process() -> None:
        with second.transaction() as repo:
            seen["busy"] = repo.busy_hosts(["compute-1"])
            seen["after_first"] = first_committing.is_set()

    with first.transaction() as repo:
        assert repo.busy_hosts(["compute-1"]) == {}
        other = threading.Thread(target=check_from_the_other_process)
        other.start()
        other.join(1.0)
        assert other.is_alive(), f"the other check did not wait for this claim: {seen}"
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[("compute-1", "compute")],
            actions=[],
        )
        first_committing.set()
    other.join(30)
    assert seen == {"busy": {"compute-1": session.id}, "after_first": True}
