"""Deleting a session part-way, on every driver: the simulated cloud, OpenStack (the real
openstacksdk against the simulated Nova over HTTP) and Kubernetes (the real kubernetes client
against the simulated API server). The session gives back to service every host it took out,
and touches no host it did not: one an admin had out of service before the session began (in
the session, and maintained by it) and one outside the session stay as they were, reasons and
all. The cloud is the judge; the event log says what was given back.

The scene on each cloud: hosts A, B, C, D; the project's instances all on A; B (empty) and D
taken out of service by an admin beforehand. A session over A and B maintains B first (it is
empty), leaving it as it found it, then takes A out of service and asks the manager, which
does not answer PLANNED_MAINTENANCE: the session is deleted while it waits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import openstack
import pytest
from kubernetes import client as kubernetes_client

from fenix.drivers.kubernetes import KubernetesDriver
from fenix.drivers.openstack import OpenStackDriver
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.kubernetes import SimClusterConfig, start_sim_cluster
from fenix.simulators.openstack import SimulatorConfig, clouds_yaml_entry, start_simulator
from fenix.vnfm import SampleVnfm, VnfmConfig
from tests.controller.live import LiveController, wait_until
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = [*OPENSTACKSDK_MARKS, pytest.mark.slow]

PROJECT = "project-1"
ADMIN_REASON = "admin: failing disk, keep it out"
OTHER_REASON = "held by another maintenance"


class MuteOnPlannedVnfm(SampleVnfm):
    """A manager that answers every step but PLANNED_MAINTENANCE."""

    def _reply(self, payload, reply):
        if payload["state"] != "PLANNED_MAINTENANCE":
            super()._reply(payload, reply)


@dataclass
class Scene:
    live: LiveController
    hosts: tuple[str, str, str, str]
    """A (the instances), B (empty, disabled by an admin), C, D (outside, disabled)."""
    workflow: str
    service: Callable[[str], tuple[bool, str | None]]
    """A host's (in service, disabled reason) as the cloud itself says."""


def _open_controller(live_stack, driver=None) -> LiveController:
    # Answers are waited for long enough that the delete comes first.
    return live_stack.start(driver=driver, reply_window=120.0, long_reply_window=120.0)


def _simulated(live_stack, _opened) -> Scene:
    live = live_stack.start(
        cloud={"hosts": 4, "projects": 1, "instances": 1},
        reply_window=120.0,
        long_reply_window=120.0,
    )
    admin = SimulatedDriver(live.sim_url)
    admin.disable_host("compute-2", ADMIN_REASON)
    admin.disable_host("compute-4", OTHER_REASON)

    def service(host: str) -> tuple[bool, str | None]:
        info = admin.get_host(host)
        return info.enabled, info.details.get("disabled_reason")

    return Scene(live, ("compute-1", "compute-2", "compute-3", "compute-4"), "default", service)


def _openstack(live_stack, opened) -> Scene:
    sim, server = start_simulator(
        SimulatorConfig(live_migrate_seconds=0.1, migrate_seconds=0.2, confirm_seconds=0.02)
    )
    hosts = ("compute-1", "compute-2", "compute-3", "compute-4")
    for host in hosts:
        sim.add_compute_host(host, vcpus=2)
    flavor = sim.add_flavor("m1.small", vcpus=1)
    sim.add_server(f"{PROJECT}-vm-1", PROJECT, "compute-1", flavor)
    connection = openstack.connect(
        load_yaml_config=False, load_envvars=False, **clouds_yaml_entry(sim, server.url)
    )
    opened.append(lambda: (connection.close(), sim.close(), server.stop()))
    for host, reason in (("compute-2", ADMIN_REASON), ("compute-4", OTHER_REASON)):
        (nova_compute,) = connection.compute.services(host=host, binary="nova-compute")
        connection.compute.disable_service(
            nova_compute, host=host, binary="nova-compute", disabled_reason=reason
        )
    driver = OpenStackDriver(connection=connection, poll_interval=0.05)

    def service(host: str) -> tuple[bool, str | None]:
        (found,) = sim.find_services(binary="nova-compute", host=host)
        return found.status == "enabled", found.disabled_reason

    return Scene(_open_controller(live_stack, driver), hosts, "default", service)


def _kubernetes(live_stack, opened) -> Scene:
    config = SimClusterConfig(
        nodes=4,
        max_pods=4,
        workloads=False,
        create_seconds=0.1,
        ready_seconds=0.1,
        terminate_seconds=0.1,
    )
    cluster, server = start_sim_cluster(config)
    api_client = kubernetes_client.ApiClient(kubernetes_client.Configuration(host=server.url))
    opened.append(lambda: (api_client.close(), server.stop()))
    cluster.add_workload(PROJECT, "web", 1, labels={"app": "web"}, nodes=["node-1"])
    core = kubernetes_client.CoreV1Api(api_client)
    for node, reason in (("node-2", ADMIN_REASON), ("node-4", OTHER_REASON)):
        # As `kubectl cordon` does, with a note of the admin's own.
        patch = {"spec": {"unschedulable": True}, "metadata": {"annotations": {"why": reason}}}
        core.patch_node(node, patch)
    driver = KubernetesDriver(
        api_client=api_client, eviction_retry=0.05, poll_interval=0.02, request_timeout=5.0
    )

    def service(node: str) -> tuple[bool, str | None]:
        found = cluster.nodes[node]
        return not found["spec"].get("unschedulable"), found["metadata"]["annotations"].get("why")

    live = _open_controller(live_stack, driver)
    return Scene(live, ("node-1", "node-2", "node-3", "node-4"), "k8s", service)


CLOUDS = {"simulated": _simulated, "openstack": _openstack, "kubernetes": _kubernetes}


@pytest.fixture(params=sorted(CLOUDS))
def scene(request, live_stack) -> Iterator[Scene]:
    opened: list[Callable[[], object]] = []
    yield CLOUDS[request.param](live_stack, opened)
    for close in reversed(opened):
        close()


def _start_muted_manager(live: LiveController) -> None:
    config = VnfmConfig(
        controller_url=live.url,
        project_id=PROJECT,
        token=live.token_for(PROJECT),
        cloud=None,
        instance_action="MIGRATE",
    )
    live.managers.append(MuteOnPlannedVnfm(config).start())


def test_a_deleted_session_gives_back_what_it_took_out_and_nothing_else(scene):
    live = scene.live
    a, b, c, d = scene.hosts
    _start_muted_manager(live)
    session_id = live.create_session(workflow=scene.workflow, hosts=[a, b])

    def waiting_on_a() -> bool:
        detail = live.detail(session_id)
        states = {h["name"]: h["state"] for h in detail["hosts"]}
        steps = {p["project_id"]: p["step"] for p in detail["projects"]}
        return states[a] == "PREPARING" and steps.get(PROJECT) == "PLANNED_MAINTENANCE"

    wait_until(waiting_on_a, timeout=120, what=f"{a} out of service, its manager asked")
    assert scene.service(a) == (False, scene.service(a)[1])  # the session's own disable

    deleted = live.http.delete(f"{live.url}/v1/maintenance/{session_id}", timeout=10)

    assert deleted.status_code == 200, deleted.text
    cancelled = wait_until(
        lambda: [e for e in live.events(session_id) if e["kind"] == "session.cancelled"],
        timeout=60,
        what="session.cancelled recorded",
    )
    assert cancelled[0]["data"] == {"given_back": [a], "left_as_found": []}
    assert scene.service(a) == (True, None)
    assert scene.service(b) == (False, ADMIN_REASON)  # maintained, and left as it was found
    assert scene.service(c) == (True, None)
    assert scene.service(d) == (False, OTHER_REASON)
    events = live.events(session_id)
    kinds = [(e["kind"], e["subject"]) for e in events]
    assert ("host.found_disabled", b) in kinds and ("host.left_as_found", b) in kinds
    assert ("host.enabled", a) in kinds
    assert ("host.found_disabled", a) not in kinds
    assert [e["new"] for e in events if e["kind"] == "session.state"][-1] == "MAINTENANCE_FAILED"
    assert not any(e["subject"] in (c, d) for e in events if e["kind"].startswith("host."))
    # The hosts are free for a new session at once.
    wait_until(lambda: not live.runtime.engine.running_sessions, what="the session stopped")
    assert live.create_session(workflow=scene.workflow, hosts=[a], maintenance_at="2099-01-01")


def test_a_deleted_vnf_session_lets_the_cold_migrations_under_way_end_first(live_stack):
    # Nova's cold migration ends with a resize confirmation the session makes: one left
    # unwatched would wait in VERIFY_RESIZE. Deleted mid-move, the session lets each move end.
    sim, server = start_simulator(
        SimulatorConfig(live_migrate_seconds=0.1, migrate_seconds=1.5, confirm_seconds=0.02)
    )
    hosts = ("compute-1", "compute-2", "compute-3")
    for host in hosts:
        sim.add_compute_host(host, vcpus=2)
    flavor = sim.add_flavor("m1.small", vcpus=1)
    for n, host in enumerate(hosts, start=1):
        sim.add_server(f"{PROJECT}-vm-{n}", PROJECT, host, flavor)
    connection = openstack.connect(
        load_yaml_config=False, load_envvars=False, **clouds_yaml_entry(sim, server.url)
    )
    try:
        driver = OpenStackDriver(connection=connection, poll_interval=0.05)
        live = live_stack.start(driver=driver)
        live.add_manager(PROJECT, instance_action="MIGRATE", cloud=None)
        session_id = live.create_session(workflow="vnf")

        def migrating() -> bool:
            detail = live.detail(session_id)
            return any(i["action_state"] == "RUNNING" for i in detail["instances"])

        wait_until(migrating, timeout=120, what="a cold migration under way")
        assert live.http.delete(f"{live.url}/v1/maintenance/{session_id}").status_code == 200

        wait_until(
            lambda: [e for e in live.events(session_id) if e["kind"] == "session.cancelled"],
            timeout=60,
            what="session.cancelled recorded",
        )
        events = live.events(session_id)
        (wound_down,) = [e for e in events if e["kind"] == "session.wound_down"]
        assert wound_down["data"] == {"left_moving": []}
        ended = [e for e in events if e["kind"] == "instance.action" and e["new"] == "DONE"]
        assert ended  # the move under way at the delete was seen to its end and recorded
        migrations = [m for m in sim.migrations if m.migration_type == "migration"]
        assert migrations and all(m.status == "confirmed" for m in migrations)
        assert all(s.status == "enabled" for s in sim.find_services(binary="nova-compute"))
        assert {views_status(sim, s) for s in sim.servers.values()} == {"ACTIVE"}
        assert not any(e["kind"] == "host.state" and e["new"] == "IN_MAINTENANCE" for e in events)
    finally:
        connection.close()
        sim.close()
        server.stop()


def views_status(sim, server) -> str:
    from fenix.simulators.openstack.views import server_status

    with sim.lock:
        return server_status(server)


def test_a_host_emptied_after_the_delete_is_given_back_without_its_maintenance(live_stack):
    live = live_stack.start(
        cloud={"hosts": 3, "projects": 1, "instances": 3, "migrate_seconds": 2.5}
    )
    live.add_manager(PROJECT, instance_action="MIGRATE")
    session_id = live.create_session()

    def moving_in_planned() -> bool:
        detail = live.detail(session_id)
        running = any(i["action_state"] == "RUNNING" for i in detail["instances"])
        return running and detail["state"] == "PLANNED_MAINTENANCE"

    wait_until(moving_in_planned, timeout=120, what="a host being emptied host by host")
    assert live.http.delete(f"{live.url}/v1/maintenance/{session_id}").status_code == 200

    wait_until(
        lambda: [e for e in live.events(session_id) if e["kind"] == "session.cancelled"],
        timeout=60,
        what="session.cancelled recorded",
    )
    events = live.events(session_id)
    report = live.cloud_report()
    assert all(h["enabled"] for h in report["hosts"].values())
    # Only the host emptied before the delete (PREPARE_MAINTENANCE's) was maintained.
    maintained = [
        e["subject"] for e in events if e["kind"] == "host.state" and e["new"] == "IN_MAINTENANCE"
    ]
    assert len(maintained) == 1
    assert [n for n, h in report["hosts"].items() if h["maintenance"]] == maintained
    # The moves under way were waited for: nothing is left half-moved, every instance serves.
    assert all(i["serving"] for i in report["instances"].values())
