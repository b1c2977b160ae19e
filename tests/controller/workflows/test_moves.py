"""Choosing where an instance goes: only room that is really free is offered."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from fenix.config import Settings
from fenix.db.database import Database
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.timeutil import utcnow
from fenix.workflows.moves import InstanceMover, MoveFailed
from tests.controller.live import wait_until


def _session_db(tmp_path, host: str) -> tuple[Database, str]:
    """A database with one session over `host`; the caller disposes of it."""
    db = Database(f"sqlite:///{tmp_path / 'fenix.db'}")
    db.upgrade()
    with db.transaction() as repo:
        session = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[(host, "compute")],
            actions=[],
        )
        return db, session.id


def _record(db: Database, session_id: str, instance, host: str) -> None:
    """The session's row of a cloud instance on `host`, as the workflow writes it."""
    with db.transaction() as repo:
        repo.add_instance(
            repo.get_session(session_id),
            instance_id=instance.instance_id,
            name=instance.name,
            project_id=instance.project_id,
            host=host,
            size=instance.size,
            state="ACTIVE",
        )


@pytest.fixture
def driver():
    # Three hosts of capacity 2, one instance on each; moves take long enough to be watched.
    config = SimulatedCloudConfig(hosts=3, projects=1, instances=3, migrate_seconds=30)
    sim, handle = start_sim_cloud(config)
    yield SimulatedDriver(handle.url)
    handle.stop()
    sim.close()


def test_room_a_move_in_flight_will_take_is_not_offered(tmp_path, driver):
    db, session_id = _session_db(tmp_path, "compute-2")
    # Another session is moving an instance from compute-1 onto compute-3.
    (moving,) = driver.list_instances(host="compute-1")
    driver.migrate(moving.instance_id, "compute-3")
    ctx = SimpleNamespace(driver=driver, db=db, session_id=session_id)
    mover = InstanceMover(ctx, talk=None)  # choosing a place tells nobody anything

    free = mover.free_capacity(exclude="compute-2")

    assert free == {"compute-1": 1, "compute-3": 0}
    db.dispose()


class RoomTakenFirst(SimulatedDriver):
    """The cloud as another session leaves it: the first target we pick is filled just before
    our move reaches the cloud, which refuses it with its own 'No valid host'."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.taken: list[str] = []

    def live_migrate(self, instance_id: str, target_host: str | None = None) -> str:
        if not self.taken and target_host is not None:
            self.taken.append(target_host)
            host = next(h for h in self.list_hosts() if h.name == target_host)
            while sum(i.size for i in self.list_instances(host=target_host)) < host.capacity:
                self.create_instance("project-1", host=target_host)
        return super().live_migrate(instance_id, target_host)


def test_a_move_refused_because_another_session_took_the_room_goes_elsewhere(tmp_path):
    config = SimulatedCloudConfig(hosts=3, projects=1, instances=3, live_migrate_seconds=0.1)
    sim, handle = start_sim_cloud(config)
    driver = RoomTakenFirst(handle.url)
    db, session_id = _session_db(tmp_path, "compute-1")
    try:
        (victim,) = driver.list_instances(host="compute-1")
        _record(db, session_id, victim, "compute-1")
        ctx = SimpleNamespace(
            driver=driver,
            db=db,
            session_id=session_id,
            settings=Settings(move_timeout=30),
            check_stop=lambda: None,
        )

        moved = InstanceMover(ctx, talk=None).empty_host("compute-1", {}, "LIVE_MIGRATE")

        assert moved == [victim.instance_id]
        (refused,) = driver.taken
        (now,) = [i for i in driver.list_instances() if i.instance_id == victim.instance_id]
        assert now.host not in ("compute-1", refused)
        with db.transaction() as repo:
            starts = [
                e.data["details"]["error"]
                for e in repo.events(session_id, 0)
                if e.kind == "instance.action" and e.new == "FAILED"
            ]
        assert len(starts) == 1 and "No valid host" in starts[0]
    finally:
        db.dispose()
        handle.stop()
        sim.close()


def _room_case(tmp_path):
    """compute-1 to empty; compute-2 full; compute-3 out of service. Returns the cloud, its
    driver, the database, our session and the instance to move."""
    config = SimulatedCloudConfig(hosts=3, projects=1, instances=3, live_migrate_seconds=0.1)
    sim, handle = start_sim_cloud(config)
    driver = SimulatedDriver(handle.url)
    db, session_id = _session_db(tmp_path, "compute-1")
    (victim,) = driver.list_instances(host="compute-1")
    full = next(h for h in driver.list_hosts() if h.name == "compute-2")
    while sum(i.size for i in driver.list_instances(host="compute-2")) < full.capacity:
        driver.create_instance("project-1", host="compute-2")
    driver.disable_host("compute-3", "maintenance")
    _record(db, session_id, victim, "compute-1")
    ctx = SimpleNamespace(
        driver=driver,
        db=db,
        session_id=session_id,
        settings=Settings(move_timeout=30, room_wait=120),
        check_stop=lambda: None,
        pause=time.sleep,
    )
    return sim, handle, db, ctx, victim


def _hold(db, host: str, state: str) -> str:
    """Another session, holding `host` in `state`."""
    with db.transaction() as repo:
        other = repo.add_session(
            workflow="default",
            maintenance_at=utcnow(),
            meta={},
            download=[],
            hosts=[(host, "compute")],
            actions=[],
        )
        other.hosts[0].state = state
        return other.id


def test_a_move_waits_for_room_another_session_holds_and_goes_when_it_is_back(tmp_path):
    sim, handle, db, ctx, victim = _room_case(tmp_path)
    other = _hold(db, "compute-3", "IN_MAINTENANCE")
    moved: list = []
    mover = threading.Thread(
        target=lambda: moved.extend(
            InstanceMover(ctx, talk=None).empty_host("compute-1", {}, "LIVE_MIGRATE")
        )
    )
    try:
        mover.start()

        def waiting() -> bool:
            with db.transaction() as repo:
                return any(
                    e.kind == "instance.waiting_for_room" for e in repo.events(ctx.session_id, 0)
                )

        wait_until(waiting, what="the move waiting for room")
        assert mover.is_alive() and not moved
        # The other session's host comes back.
        ctx.driver.enable_host("compute-3")
        with db.transaction() as repo:
            repo.get_session(other).hosts[0].state = "MAINTENANCE_COMPLETE"
        mover.join(60)

        assert moved == [victim.instance_id]
        (now,) = [i for i in ctx.driver.list_instances() if i.instance_id == victim.instance_id]
        assert now.host == "compute-3"
    finally:
        mover.join(60)
        db.dispose()
        handle.stop()
        sim.close()


def test_with_no_other_session_holding_room_a_move_without_room_fails_at_once(tmp_path):
    sim, handle, db, ctx, victim = _room_case(tmp_path)
    try:
        with pytest.raises(MoveFailed, match="no host has room"):
            InstanceMover(ctx, talk=None).empty_host("compute-1", {}, "LIVE_MIGRATE")
        with db.transaction() as repo:
            kinds = {e.kind for e in repo.events(ctx.session_id, 0)}
        assert "instance.waiting_for_room" not in kinds
    finally:
        db.dispose()
        handle.stop()
        sim.close()
