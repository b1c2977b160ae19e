"""The simulated cloud's zones, through the simulated driver over HTTP."""

from __future__ import annotations

from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud


def test_compute_hosts_are_dealt_into_zones_round_robin_and_controllers_have_none():
    cloud, handle = start_sim_cloud(SimulatedCloudConfig(hosts=5, zones=2, controllers=1))
    try:
        hosts = {h.name: h.zone for h in SimulatedDriver(handle.url).list_hosts()}
    finally:
        handle.stop()
        cloud.close()

    assert hosts == {
        "compute-1": "zone-1",
        "compute-2": "zone-2",
        "compute-3": "zone-1",
        "compute-4": "zone-2",
        "compute-5": "zone-1",
        "controller-1": None,
    }


def test_without_zones_no_host_has_one():
    cloud, handle = start_sim_cloud(SimulatedCloudConfig(hosts=2))
    try:
        assert {h.zone for h in SimulatedDriver(handle.url).list_hosts()} == {None}
    finally:
        handle.stop()
        cloud.close()
