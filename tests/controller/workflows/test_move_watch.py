"""Waiting for the moves off a host: every move that ends is reported once, and a cloud that
cannot be asked is reported too."""

from __future__ import annotations

import queue
import time

import pytest

from fenix.drivers.base import ActionStatus, DriverError
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.workflows.move_watch import InFlight, MoveWatchers
from tests.controller.live import wait_until


@pytest.fixture
def driver():
    # Three hosts of capacity 3 with two instances each: compute-1's go one to each other host.
    config = SimulatedCloudConfig(
        hosts=3, projects=1, instances=6, live_migrate_seconds=0.2, migrate_seconds=0.6
    )
    sim, handle = start_sim_cloud(config)
    yield SimulatedDriver(handle.url)
    handle.stop()
    sim.close()


def _watchers(driver, reports: queue.Queue) -> MoveWatchers:
    return MoveWatchers(lambda: driver, 30.0, lambda: {"LIVE_MIGRATE": 0.2}, reports.put)


def _drain(reports: queue.Queue) -> list[tuple]:
    items = []
    while not reports.empty():
        items += reports.get_nowait()
    return items


def test_every_move_off_a_host_is_reported_once_when_it_ends(driver):
    first, second = driver.list_instances(host="compute-1")
    reports: queue.Queue = queue.Queue()
    watchers = _watchers(driver, reports)
    now = time.time()
    try:
        live = driver.live_migrate(first.instance_id, "compute-2")
        cold = driver.migrate(second.instance_id, "compute-3")
        watchers.watch("compute-1", InFlight(first.instance_id, live, "LIVE_MIGRATE", now))
        watchers.watch("compute-1", InFlight(second.instance_id, cold, "MIGRATE", now))

        seen: list[tuple] = []
        wait_until(lambda: seen.extend(_drain(reports)) or len(seen) >= 2, what="both moves")
    finally:
        watchers.close()
    seen += _drain(reports)
    assert sorted(item[1] for item in seen) == sorted([first.instance_id, second.instance_id])
    assert all(
        kind == "move" and result.status == ActionStatus.DONE for kind, _i, result, _a in seen
    )
    assert {i.instance_id for i in driver.list_instances(host="compute-1")} == set()


def test_a_cloud_that_cannot_say_how_a_move_went_is_reported(driver):
    reports: queue.Queue = queue.Queue()
    watchers = _watchers(driver, reports)
    try:
        watchers.watch("compute-1", InFlight("project-1-vm-1", "no-such-action", "MIGRATE", 0.0))

        (kind, host, error, _at) = wait_until(lambda: _drain(reports), what="the error")[0]
    finally:
        watchers.close()
    assert (kind, host) == ("move-error", "compute-1")
    assert isinstance(error, DriverError)
