"""The default workflow through the OpenStack driver: the real openstacksdk against the
simulated Keystone and Nova, real managers and real HTTP; the simulated Nova is the judge (its
services, its servers, the downtime it measured)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import openstack
import pytest

from fenix.drivers.openstack import OpenStackDriver
from fenix.simulators.openstack import (
    SimulatedOpenStack,
    SimulatorConfig,
    clouds_yaml_entry,
    start_simulator,
)
from fenix.wsgi import ServerHandle
from tests.controller.live import LiveController
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = [*OPENSTACKSDK_MARKS, pytest.mark.slow]

FAST = {
    "live_migrate_seconds": 0.1,
    "migrate_seconds": 0.2,
    "confirm_seconds": 0.02,
    "delete_seconds": 0.02,
}


@dataclass
class Stack:
    sim: SimulatedOpenStack
    server: ServerHandle
    live: LiveController
    servers: dict[str, str]
    """Server ids by name."""

    def disabled(self) -> list[str]:
        return sorted(
            s.host for s in self.sim.find_services(binary="nova-compute") if s.status != "enabled"
        )


@pytest.fixture
def make_stack(live_stack) -> Iterator[Callable[..., Stack]]:
    """compute-1..3 (2 vCPUs each) and controller-0; project-1-vm-1, -2 and project-2-vm-1, -2
    (1 vCPU) round robin from compute-1, so compute-1 holds two; a live controller drives it
    through an OpenStackDriver on an SDK connection made from the simulator's clouds.yaml."""
    opened: list = []

    def make(**settings) -> Stack:
        sim, server = start_simulator(SimulatorConfig(**FAST))
        hosts = ["compute-1", "compute-2", "compute-3"]
        for host in hosts:
            sim.add_compute_host(host, vcpus=2)
        sim.add_controller_host("controller-0")
        flavor = sim.add_flavor("m1.small", vcpus=1)
        names = [f"project-{p}-vm-{k}" for p in (1, 2) for k in (1, 2)]
        servers = {
            name: sim.add_server(name, name.rsplit("-vm-", 1)[0], hosts[j % 3], flavor)
            for j, name in enumerate(names)
        }
        entry = clouds_yaml_entry(sim, server.url)
        connection = openstack.connect(load_yaml_config=False, load_envvars=False, **entry)
        opened.append((sim, server, connection))
        driver = OpenStackDriver(connection=connection, poll_interval=0.05)
        return Stack(sim, server, live_stack.start(driver=driver, **settings), servers)

    yield make
    for sim, server, connection in opened:
        connection.close()
        sim.close()
        server.stop()


def test_managers_answers_are_carried_out_by_nova_and_its_downtime_is_measured(make_stack):
    stack = make_stack()
    stack.live.add_manager("project-1", instance_action="LIVE_MIGRATE", cloud=None)
    stack.live.add_manager("project-2", instance_action="MIGRATE", cloud=None)
    session_id = stack.live.create_session()

    detail = stack.live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert {h["name"]: h["state"] for h in detail["hosts"]} == {
        f"compute-{n}": "MAINTENANCE_COMPLETE" for n in (1, 2, 3)
    }  # and not controller-0
    assert stack.disabled() == []
    assert all(s.state == "ACTIVE" for s in stack.live.runtime.driver.list_instances())
    measured = stack.sim.report()["servers"]
    assert len(measured) == 4 and all(s["fate"] == "active" for s in measured.values())
    for server in measured.values():
        assert len(server["hosts"]) >= 2, server  # every host was maintained: all moved
        if server["project_id"] == "project-1":
            assert server["downtime_seconds"] == 0, server
            assert {m["kind"] for m in server["moves"]} == {"live_migrate"}
        else:
            assert server["downtime_seconds"] > 0, server  # cold migrations stop the guest
            assert {m["kind"] for m in server["moves"]} == {"migrate"}
    # Every cold migration was confirmed: no server waits in VERIFY_RESIZE.
    assert all(
        m.status == "confirmed" for m in stack.sim.migrations if m.migration_type == "migration"
    )


def test_a_migration_nova_fails_fails_the_session_with_novas_fault(make_stack):
    stack = make_stack()
    stack.live.add_manager("project-1", instance_action="MIGRATE", cloud=None)
    stack.live.add_manager("project-2", instance_action="MIGRATE", cloud=None)
    fault = "Unable to migrate instance: destination compute reported a disk I/O error"
    for server_id in stack.servers.values():
        stack.sim.fail_next_migration(server_id, fault)
    session_id = stack.live.create_session()

    detail = stack.live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_FAILED"
    assert fault in detail["error"] and "cold migration" in detail["error"], detail["error"]
    held = [h["name"] for h in detail["hosts"] if h["disabled"]]
    assert len(held) == 1 and stack.disabled() == held  # out of service, and on record
    errored = [s for s in stack.sim.report()["servers"].values() if s["fate"] == "error"]
    assert len(errored) == 1 and errored[0]["downtime_seconds"] > 0


def test_a_lost_cloud_fails_the_session_with_the_drivers_message(make_stack):
    stack = make_stack()
    stack.live.add_manager("project-1", instance_action="MIGRATE", cloud=None, reply_delay=1.0)
    session_id = stack.live.create_session()
    stack.live.wait_for(session_id, states=("PREPARE_MAINTENANCE",), timeout=60)

    stack.server.stop()  # while the manager thinks about its answer

    detail = stack.live.wait_for(session_id, timeout=60)
    assert detail["state"] == "MAINTENANCE_FAILED"
    assert "Unable to establish connection" in detail["error"], detail["error"]
    assert stack.server.url in detail["error"]
