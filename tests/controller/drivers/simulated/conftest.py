"""A simulated cloud served on a free port, and a driver talking to it, per test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloud, SimulatedCloudConfig, start_sim_cloud

FAST = {
    "migrate_seconds": 0.05,
    "live_migrate_seconds": 0.05,
    "evict_seconds": 0.05,
    "maintain_seconds": 0.05,
}


@dataclass
class Sim:
    cloud: SimulatedCloud
    url: str
    driver: SimulatedDriver


@pytest.fixture
def make_sim(_stoppers) -> Iterator[Callable[..., Sim]]:
    started = []

    def make(**overrides) -> Sim:
        cloud, handle = start_sim_cloud(SimulatedCloudConfig(**{**FAST, **overrides}))
        driver = SimulatedDriver(handle.url, timeout=5.0)
        started.append((cloud, handle, driver))
        return Sim(cloud, handle.url, driver)

    yield make
    for cloud, handle, driver in started:
        driver.close()
        cloud.close()
        stopper = threading.Thread(target=handle.stop, name="stop-sim-cloud", daemon=True)
        stopper.start()
        _stoppers.append(stopper)


@pytest.fixture
def sim(make_sim) -> Sim:
    return make_sim()
