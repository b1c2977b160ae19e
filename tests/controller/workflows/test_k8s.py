"""The k8s workflow end to end: the Kubernetes driver (the real client) against the simulated
API server, real managers and real HTTP; the simulated cluster is the judge (its evictions,
its cordons, its measured downtime)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from kubernetes import client as kubernetes_client

from fenix.drivers.kubernetes import KubernetesDriver
from fenix.simulators.kubernetes import SimCluster, SimClusterConfig, start_sim_cluster
from fenix.wsgi import ServerHandle
from tests.controller.live import LiveController

pytestmark = pytest.mark.slow

FAST = {"create_seconds": 0.1, "ready_seconds": 0.1, "terminate_seconds": 0.1}
DRIVER = {"eviction_retry": 0.05, "poll_interval": 0.02, "request_timeout": 5.0}


@dataclass
class Stack:
    cluster: SimCluster
    server: ServerHandle
    live: LiveController

    def cordoned(self) -> list[str]:
        return sorted(
            n for n, node in self.cluster.nodes.items() if node["spec"].get("unschedulable")
        )

    def serving(self, namespace: str, workload: str) -> int:
        pods = self.cluster.pods_of(namespace, workload)
        return sum(
            1
            for p in pods
            if p["status"]["phase"] == "Running" and "deletionTimestamp" not in p["metadata"]
        )


@pytest.fixture
def make_stack(live_stack) -> Iterator[Callable[..., Stack]]:
    """``make_stack(nodes, max_pods, **settings)``: a cluster (node-1..N and a control plane,
    no workloads yet) and a live controller driving it through a KubernetesDriver."""
    opened: list = []

    def make(nodes: int = 3, max_pods: int = 6, **settings) -> Stack:
        config = SimClusterConfig(nodes=nodes, max_pods=max_pods, workloads=False, **FAST)
        cluster, server = start_sim_cluster(config)
        api_client = kubernetes_client.ApiClient(kubernetes_client.Configuration(host=server.url))
        opened.append((api_client, server))
        driver = KubernetesDriver(api_client=api_client, **DRIVER)
        return Stack(cluster, server, live_stack.start(driver=driver, **settings))

    yield make
    for api_client, server in opened:
        api_client.close()
        server.stop()


def _received(vnfm) -> list[dict]:
    return [m for m in vnfm.messages if m["direction"] == "received"]


def _out_of_service_at_once(events: list[dict]) -> int:
    out = most = 0
    for event in events:
        if event["kind"] == "host.state" and event["new"] == "PREPARING":
            out += 1
        if event["kind"] == "host.state" and event["new"] == "MAINTENANCE_COMPLETE":
            out -= 1
        most = max(most, out)
    return most


def test_pods_are_evicted_node_by_node_keeping_budgets_and_daemonsets(make_stack):
    stack = make_stack(nodes=3, max_pods=5)
    cluster = stack.cluster
    cluster.add_workload("kube-system", "kube-proxy", kind="DaemonSet", labels={"k8s-app": "p"})
    web = {"app": "web"}
    cluster.add_workload("project-1", "web", 3, labels=web, nodes=["node-1", "node-2", "node-3"])
    cluster.add_budget("project-1", "web", web, min_available=2)
    cluster.add_workload("project-2", "db", 2, kind="StatefulSet", labels={"app": "db"})
    cluster.add_budget("project-2", "db", {"app": "db"}, max_unavailable=1)
    proxies = {p["metadata"]["uid"] for p in cluster.pods_of("kube-system", "kube-proxy")}
    manager = stack.live.add_manager("project-1", instance_action="EVICTION", cloud=None)
    session_id = stack.live.create_session(workflow="k8s")  # project-2 has no manager

    detail = stack.live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    assert {h["name"]: h["state"] for h in detail["hosts"]} == {
        f"node-{n}": "MAINTENANCE_COMPLETE" for n in (1, 2, 3)
    }  # and not the control plane
    assert stack.cordoned() == []
    events = stack.live.events(session_id)
    assert _out_of_service_at_once(events) == 1
    evicted = {e["pod"] for e in cluster.evictions}
    assert evicted and not any(p.startswith("kube-system/") for p in evicted)
    assert {p["metadata"]["uid"] for p in cluster.pods_of("kube-system", "kube-proxy")} == proxies
    assert (stack.serving("project-1", "web"), stack.serving("project-2", "db")) == (3, 2)
    measured = cluster.downtime_report()["workloads"]
    assert measured["project-1/web"]["none_ready_seconds"] == 0  # the budgets held
    assert measured["project-2/db"]["none_ready_seconds"] == 0
    asked = [m["body"] for m in _received(manager) if m["state"] == "PLANNED_MAINTENANCE"]
    assert asked and all(b["allowed_actions"] == ["EVICTION", "OWN_ACTION"] for b in asked)
    defaulted = [e for e in events if e["kind"] == "project.no_manager"]
    assert {e["subject"] for e in defaulted} == {"project-2"}
    actions = {i["action"] for i in detail["instances"] if i["action"]}
    assert actions == {"EVICTION"}


def test_an_eviction_the_budget_refuses_goes_through_once_the_budget_allows(make_stack):
    stack = make_stack(nodes=2, max_pods=4)
    labels = {"app": "web"}
    stack.cluster.add_workload("project-1", "web", 2, labels=labels, nodes=["node-1", "node-1"])
    stack.cluster.add_budget("project-1", "web", labels, max_unavailable=1)
    session_id = stack.live.create_session(workflow="k8s")

    detail = stack.live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_DONE", detail["error"]
    codes: dict[str, list[int]] = {}
    for eviction in stack.cluster.evictions:
        codes.setdefault(eviction["pod"], []).append(eviction["code"])
    refused = [pod for pod, answers in codes.items() if 429 in answers]
    assert refused, codes  # the second pod had to wait for the first one's replacement
    assert all(codes[pod][-1] == 201 for pod in refused)
    assert stack.serving("project-1", "web") == 2
    assert stack.cordoned() == []


def test_a_node_its_budget_never_lets_empty_fails_the_session_and_stays_cordoned(make_stack):
    stack = make_stack(nodes=2, max_pods=3, move_timeout=1.0)
    labels = {"app": "web"}
    stack.cluster.add_workload("project-1", "web", 1, labels=labels, nodes=["node-1"])
    stack.cluster.add_budget("project-1", "web", labels, min_available=1)
    session_id = stack.live.create_session(workflow="k8s")

    detail = stack.live.wait_for(session_id, timeout=120)

    assert detail["state"] == "MAINTENANCE_FAILED"
    error = detail["error"]
    assert "could not empty node-1" in error and "still running after 1 s" in error, error
    assert "disruption budget" in error, error
    assert [h["name"] for h in detail["hosts"] if h["disabled"]] == ["node-1"]
    assert stack.cordoned() == ["node-1"]
    left = [e for e in stack.live.events(session_id) if e["kind"] == "hosts.left_disabled"]
    assert left[-1]["data"]["hosts"] == ["node-1"]
    assert stack.serving("project-1", "web") == 1  # nothing was forced past the budget


def test_a_lost_api_server_fails_the_session_with_the_drivers_message(make_stack):
    stack = make_stack(nodes=2, max_pods=3)
    stack.cluster.add_workload("project-1", "web", 2, labels={"app": "web"})
    stack.live.add_manager("project-1", instance_action="EVICTION", cloud=None, reply_delay=1.0)
    session_id = stack.live.create_session(workflow="k8s")
    stack.live.wait_for(session_id, states=("PREPARE_MAINTENANCE",), timeout=60)

    stack.server.stop()  # while the manager thinks about its answer

    detail = stack.live.wait_for(session_id, timeout=60)
    assert detail["state"] == "MAINTENANCE_FAILED"
    assert f"Kubernetes API at {stack.server.url} unreachable" in detail["error"], detail["error"]
