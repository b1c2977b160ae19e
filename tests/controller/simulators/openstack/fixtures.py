"""A simulated OpenStack on a free port per test, and the real openstacksdk talking to it.

The fixtures of the simulator's own tests and of the OpenStack driver's: each directory's
conftest.py imports them; each test module ignores openstacksdk's own warnings
(tests/controller/openstack_warnings.py).

The scene: compute-0..2 with 4 vCPUs each and controller-0 (nova-scheduler, nova-conductor);
project-a has web-0 (compute-0) and web-1 (compute-1) in an anti-affinity group and db-0
(2 vCPUs, compute-0); project-b has app-0 (compute-0). None of them is in the project the
driver authenticates to, so every listing must ask for all projects.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openstack
import pytest

from fenix.drivers.openstack import OpenStackDriver
from fenix.simulators.openstack import (
    SimulatedOpenStack,
    SimulatorConfig,
    clouds_yaml_entry,
    start_simulator,
)

FAST = {
    "live_migrate_seconds": 0.1,
    "migrate_seconds": 0.1,
    "confirm_seconds": 0.02,
    "delete_seconds": 0.02,
}


@dataclass
class Cloud:
    sim: SimulatedOpenStack
    url: str
    connection: object
    driver: OpenStackDriver
    servers: dict[str, str] = field(default_factory=dict)
    """Server ids by name."""
    group_id: str = ""


def populate(sim: SimulatedOpenStack) -> tuple[dict[str, str], str]:
    for n in range(3):
        sim.add_compute_host(f"compute-{n}", vcpus=4)
    sim.add_controller_host("controller-0")
    small = sim.add_flavor("m1.small", vcpus=1)
    medium = sim.add_flavor("m1.medium", vcpus=2)
    group = sim.add_server_group("web", "anti-affinity", "project-a")
    servers = {
        "web-0": sim.add_server("web-0", "project-a", "compute-0", small, group_id=group),
        "web-1": sim.add_server("web-1", "project-a", "compute-1", small, group_id=group),
        "db-0": sim.add_server("db-0", "project-a", "compute-0", medium),
        "app-0": sim.add_server("app-0", "project-b", "compute-0", small),
    }
    return servers, group


def connect(sim: SimulatedOpenStack, url: str, **auth_overrides):
    """A real openstacksdk Connection to the simulator, as a clouds.yaml entry would make."""
    entry = clouds_yaml_entry(sim, url)
    entry["auth"].update(auth_overrides)
    return connect_entry(entry)


def connect_entry(entry: dict):
    """openstack.connect with one clouds.yaml entry, ignoring any clouds.yaml and OS_* around."""
    return openstack.connect(load_yaml_config=False, load_envvars=False, **entry)


@pytest.fixture
def make_cloud(_stoppers) -> Iterator[Callable[..., Cloud]]:
    started = []

    def make(**config) -> Cloud:
        sim, handle = start_simulator(SimulatorConfig(**{**FAST, **config}))
        servers, group = populate(sim)
        connection = connect(sim, handle.url)
        driver = OpenStackDriver(connection=connection, poll_interval=0.02)
        started.append((sim, handle, connection))
        return Cloud(sim, handle.url, connection, driver, servers, group)

    yield make
    for sim, handle, connection in started:
        connection.close()
        sim.close()
        stopper = threading.Thread(target=handle.stop, name="stop-openstack-sim", daemon=True)
        stopper.start()
        _stoppers.append(stopper)


@pytest.fixture
def cloud(make_cloud) -> Cloud:
    return make_cloud()
