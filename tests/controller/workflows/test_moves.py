"""Choosing where an instance goes: only room that is really free is offered."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fenix.db.database import Database
from fenix.drivers.simulated import SimulatedCloudConfig, SimulatedDriver, start_sim_cloud
from fenix.timeutil import utcnow
from fenix.workflows.moves import InstanceMover


@pytest.fixture
def driver():
    # Three hosts of capacity 2, one instance on each; moves take long enough to be watched.
    config = SimulatedCloudConfig(hosts=3, projects=1, instances=3, migrate_seconds=30)
    sim, handle = start_sim_cloud(config)
    yield SimulatedDriver(handle.url)
    handle.stop()
    sim.close()


def test_room_a_move_in_flight_will_take_is_not_offered(tmp_path, driver):
    db = Database(f"sqlite:///{tmp_path / 'fenix.db'}")
    db.upgrade()
    with db.transaction() as repo:
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[("compute-2", "compute")],
            actions=[],
        )
    # Another session is moving an instance from compute-1 onto compute-3.
    (moving,) = driver.list_instances(host="compute-1")
    driver.migrate(moving.instance_id, "compute-3")
    ctx = SimpleNamespace(driver=driver, db=db, session_id=session.id)
    mover = InstanceMover(ctx, talk=None)  # choosing a place tells nobody anything

    free = mover.free_capacity(exclude="compute-2")

    assert free == {"compute-1": 1, "compute-3": 0}
    db.dispose()
