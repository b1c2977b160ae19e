"""KubernetesDriver through the official client, over real HTTP, against the simulated cluster."""

from __future__ import annotations

import json
import time

import pytest

from fenix.drivers.base import (
    ActionStatus,
    CloudDriver,
    DriverError,
    HostKind,
    UnknownHostError,
    UnknownInstanceError,
)
from fenix.drivers.kubernetes import KubernetesDriver, connection
from fenix.drivers.kubernetes.pods import REASON_ANNOTATION
from tests.controller.simulators.kubernetes.fixtures import DRIVER

WAIT = 5.0


def hosts_of(driver: KubernetesDriver) -> dict:
    return {h.name: h for h in driver.list_hosts()}


def pod_named(cluster, namespace: str, name: str) -> dict:
    (pod,) = cluster.list_pods(namespace, fields=f"metadata.name={name}")
    return pod


def serving(pod: dict) -> bool:
    conditions = {c["type"]: c["status"] for c in pod["status"].get("conditions", [])}
    return (
        pod["status"]["phase"] == "Running"
        and conditions.get("Ready") == "True"
        and "deletionTimestamp" not in pod["metadata"]
    )


def uids(pods: list[dict]) -> set[str]:
    return {p["metadata"]["uid"] for p in pods}


# -- hosts ---------------------------------------------------------------------------------


def test_nodes_are_hosts_control_plane_is_a_controller_capacity_is_allocatable_pods(kube):
    driver = kube.driver
    assert isinstance(driver, CloudDriver) and driver.name == "kubernetes"
    hosts = hosts_of(driver)
    assert list(hosts) == ["control-plane-1", "node-1", "node-2", "node-3", "node-4"]
    assert hosts["control-plane-1"].kind is HostKind.CONTROLLER
    assert all(hosts[f"node-{i}"].kind is HostKind.COMPUTE for i in range(1, 5))
    assert all(h.enabled and h.capacity == 10 for h in hosts.values())
    details = hosts["node-1"].details
    assert details["ready"] is True and details["kubelet_version"] == "v1.30.2"
    assert hosts["control-plane-1"].details["taints"] == [
        "node-role.kubernetes.io/control-plane:NoSchedule"
    ]


def test_disable_cordons_with_the_reason_and_enable_uncordons(kube):
    driver, cluster = kube.driver, kube.cluster
    driver.disable_host("node-2", "fenix maintenance session 42")
    node = cluster.get_node("node-2")
    assert node["spec"]["unschedulable"] is True
    assert node["metadata"]["annotations"][REASON_ANNOTATION] == "fenix maintenance session 42"
    host = hosts_of(driver)["node-2"]
    assert not host.enabled
    assert host.details["disabled_reason"] == "fenix maintenance session 42"
    assert "node.kubernetes.io/unschedulable:NoSchedule" in host.details["taints"]

    driver.enable_host("node-2")
    node = cluster.get_node("node-2")
    assert "unschedulable" not in node["spec"]
    assert REASON_ANNOTATION not in node["metadata"]["annotations"]
    host = hosts_of(driver)["node-2"]
    assert host.enabled and host.details["disabled_reason"] is None


def test_unknown_hosts_raise_unknown_host_error_and_a_host_of_system_pods_is_empty(kube):
    driver = kube.driver
    with pytest.raises(UnknownHostError, match="node-99"):
        driver.disable_host("node-99", "x")
    with pytest.raises(UnknownHostError, match="node-99"):
        driver.enable_host("node-99")
    with pytest.raises(UnknownHostError, match="node-99"):
        driver.list_instances(host="node-99")
    # Only a mirror pod and a DaemonSet pod run there: nothing to move.
    assert driver.list_instances(host="control-plane-1") == []


# -- instances -----------------------------------------------------------------------------


def test_pods_are_instances_by_uid_without_daemonset_mirror_or_finished_pods(kube):
    driver, cluster = kube.driver, kube.cluster
    instances = driver.list_instances()
    assert sorted(i.name.rsplit("-", 1)[0] for i in instances) == [
        "coredns-76f75df574",
        "coredns-76f75df574",
        "db",
        "db",
        "web-7c5ddbdf54",
        "web-7c5ddbdf54",
        "web-7c5ddbdf54",
    ]
    for instance in instances:
        pod = pod_named(cluster, instance.project_id, instance.name)
        assert instance.instance_id == pod["metadata"]["uid"]
        assert instance.host == pod["spec"]["nodeName"]
        assert instance.size == 1 and instance.state == "ACTIVE"
        assert instance.details["ready"] is True
    assert {i.project_id for i in instances} == {"kube-system", "shop"}
    # Every node runs a kube-proxy pod and the control plane a mirror pod; none is listed.
    everything = cluster.list_pods()
    assert len(everything) == len(instances) + 5 + 1

    for host in ("node-1", "node-2"):
        on_host = driver.list_instances(host=host)
        assert on_host and all(i.host == host for i in on_host)
    assert len(driver.list_instances(project_id="shop")) == 5
    shop_on_1 = driver.list_instances(host="node-1", project_id="shop")
    assert all(i.project_id == "shop" and i.host == "node-1" for i in shop_on_1)

    done = next(i for i in instances if i.name.startswith("web"))
    cluster.finish_pod("shop", done.name)
    assert done.instance_id not in {i.instance_id for i in driver.list_instances()}


def test_lists_are_paged_with_limit_and_continue(kube):
    paged = kube.new_driver()
    paged.page_size = 2
    assert sorted(i.instance_id for i in paged.list_instances()) == sorted(
        i.instance_id for i in kube.driver.list_instances()
    )
    assert len(paged.list_hosts()) == 5


# -- moving pods ---------------------------------------------------------------------------


def test_evict_returns_when_a_replacement_is_ready_on_another_node(make_kube):
    kube = make_kube(workloads=False, terminate_seconds=0.5)
    driver, cluster = kube.driver, kube.cluster
    cluster.add_workload("shop", "web-1", 2, labels={"app": "web"}, nodes=["node-1", "node-2"])
    before = uids(cluster.pods_of("shop", "web-1"))
    driver.disable_host("node-1", "maintenance")
    (victim,) = driver.list_instances(host="node-1")

    started = time.monotonic()
    action_id = driver.evict(victim.instance_id)
    first = driver.wait_action(action_id, 0)
    assert first.status is ActionStatus.RUNNING
    assert "terminating" in first.error

    result = driver.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.DONE, result.error
    assert time.monotonic() - started >= 0.5  # gone (0.5 s) after created (0.1) + ready (0.1)
    assert result.instance_id == victim.instance_id
    assert result.host not in (None, "node-1")
    (replacement,) = [
        p for p in cluster.pods_of("shop", "web-1") if p["metadata"]["uid"] not in before
    ]
    assert replacement["spec"]["nodeName"] == result.host and serving(replacement)
    assert driver.list_instances(host="node-1") == []
    assert victim.instance_id not in {i.instance_id for i in driver.list_instances()}
    # A finished action keeps its result.
    assert driver.wait_action(action_id, 0) == result


@pytest.mark.parametrize("move", ["migrate", "live_migrate"])
def test_migrations_are_evictions_and_the_scheduler_picks_the_node(bare, move):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 2, labels={"app": "web"}, nodes=["node-1", "node-2"])
    driver.disable_host("node-1", "maintenance")
    (victim,) = driver.list_instances(host="node-1")
    action_id = getattr(driver, move)(victim.instance_id, "node-1")  # a target is ignored
    result = driver.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.DONE and result.host not in (None, "node-1")
    assert [e["code"] for e in cluster.evictions] == [201]


def test_a_statefulset_pod_comes_back_under_its_name_with_a_new_uid(kube):
    driver, cluster = kube.driver, kube.cluster
    old = pod_named(cluster, "shop", "db-0")
    node = old["spec"]["nodeName"]
    driver.disable_host(node, "maintenance")
    result = driver.wait_action(driver.evict(old["metadata"]["uid"]), WAIT)
    assert result.status is ActionStatus.DONE and result.host != node
    new = pod_named(cluster, "shop", "db-0")
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert new["spec"]["nodeName"] == result.host and serving(new)


def test_each_eviction_of_one_owner_is_done_with_its_own_replacement(bare):
    driver, cluster = bare.driver, bare.cluster
    nodes = ["node-1", "node-1", "node-2"]
    cluster.add_workload("shop", "web-1", 3, labels={"app": "web"}, nodes=nodes)
    before = uids(cluster.pods_of("shop", "web-1"))
    driver.disable_host("node-1", "maintenance")
    actions = [driver.evict(i.instance_id) for i in driver.list_instances(host="node-1")]
    time.sleep(0.5)  # both replacements are Ready before either action looks: each must
    results = [driver.wait_action(a, WAIT) for a in actions]  # still report a different one
    assert all(r.status is ActionStatus.DONE for r in results)
    new = [p for p in cluster.pods_of("shop", "web-1") if p["metadata"]["uid"] not in before]
    assert len(new) == 2 and all(serving(p) for p in new)
    assert sorted(r.host for r in results) == sorted(p["spec"]["nodeName"] for p in new)
    assert len({r.host for r in results}) == 2  # the scheduler spread them


def test_a_pod_that_existed_before_an_eviction_is_not_taken_as_its_replacement(bare):
    driver, cluster = bare.driver, bare.cluster
    nodes = ["node-1", "node-1", "node-2"]
    cluster.add_workload("shop", "web-1", 3, labels={"app": "web"}, nodes=nodes)
    driver.disable_host("node-1", "maintenance")
    first, second = driver.list_instances(host="node-1")
    first_action = driver.evict(first.instance_id)
    time.sleep(0.4)  # the first replacement is Ready before the second eviction starts
    second_action = driver.evict(second.instance_id)
    time.sleep(0.4)
    # The first action may take either new pod; it must leave the second its only one.
    results = [driver.wait_action(first_action, WAIT), driver.wait_action(second_action, WAIT)]
    assert [r.status for r in results] == [ActionStatus.DONE, ActionStatus.DONE], results


def test_a_replacement_with_no_room_keeps_the_action_running_until_a_node_frees(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 1, labels={"app": "web"}, nodes=["node-1"])
    for node in ("node-1", "node-2", "node-3", "node-4"):
        driver.disable_host(node, "maintenance")
    (victim,) = driver.list_instances()
    action_id = driver.evict(victim.instance_id)
    result = driver.wait_action(action_id, 0.5)
    assert result.status is ActionStatus.RUNNING
    assert "waiting for a new pod of ReplicaSet shop/web-1" in result.error
    assert driver.list_instances() == []  # the replacement is Pending, on no node
    (pending,) = cluster.pods_of("shop", "web-1")
    with pytest.raises(DriverError, match="not scheduled to any node"):
        driver.evict(pending["metadata"]["uid"])
    driver.enable_host("node-3")
    result = driver.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.DONE and result.host == "node-3"


# -- disruption budgets --------------------------------------------------------------------


def test_an_eviction_refused_by_the_budget_is_retried_until_a_replacement_is_ready(make_kube):
    kube = make_kube(workloads=False)
    driver, cluster = kube.driver, kube.cluster
    nodes = ["node-1", "node-1", "node-2"]
    cluster.add_workload("shop", "web-1", 3, labels={"app": "web"}, nodes=nodes)
    cluster.add_budget("shop", "web", {"app": "web"}, min_available=2)
    # No node takes a replacement yet, so the first one stays Pending whatever the machine's
    # speed, and the budget (two healthy of three) must refuse the second eviction.
    for node in ("node-1", "node-2", "node-3", "node-4"):
        driver.disable_host(node, "maintenance")
    first, second = driver.list_instances(host="node-1")
    actions = [driver.evict(first.instance_id), driver.evict(second.instance_id)]
    assert [e["code"] for e in cluster.evictions] == [201, 429]
    assert driver.wait_action(actions[1], 0).status is ActionStatus.RUNNING

    room_at = time.monotonic()  # the simulated cluster's clock
    driver.enable_host("node-3")  # room again: the first one's replacement is scheduled
    results = [driver.wait_action(a, WAIT) for a in actions]
    assert all(r.status is ActionStatus.DONE for r in results), results
    assert all(r.host == "node-3" for r in results)
    tries = [e for e in cluster.evictions if e["pod"] == f"shop/{second.name}"]
    assert tries[0]["code"] == 429 and tries[-1]["code"] == 201
    assert all(e["code"] == 429 for e in tries[:-1])
    # The second went only once there was room for the first one's replacement (the
    # simulated API server admits it only when three pods are healthy again).
    (accepted_second,) = [e["at"] for e in tries if e["code"] == 201]
    assert accepted_second > room_at
    assert sum(serving(p) for p in cluster.pods_of("shop", "web-1")) == 3


def test_a_budget_that_never_allows_keeps_the_action_running_and_the_host_occupied(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 2, labels={"app": "web"}, nodes=["node-1", "node-2"])
    cluster.add_budget("shop", "web", {"app": "web"}, max_unavailable=0)
    driver.disable_host("node-1", "maintenance")
    (victim,) = driver.list_instances(host="node-1")
    action_id = driver.evict(victim.instance_id)

    started = time.monotonic()
    result = driver.wait_action(action_id, 0.5)
    assert time.monotonic() - started >= 0.5  # it waited its timeout out, still refused
    assert result.status is ActionStatus.RUNNING
    assert "Cannot evict pod as it would violate the pod's disruption budget" in result.error
    assert "The disruption budget web needs 2 healthy pods and has 2 currently" in result.error
    refusals = [e for e in cluster.evictions if e["code"] == 429]
    # Retried with backoff (at 0, 0.05, 0.15, 0.35 s), not every poll, never forced.
    assert 2 <= len(refusals) <= 5
    assert len(cluster.evictions) == len(refusals)
    assert [i.instance_id for i in driver.list_instances(host="node-1")] == [victim.instance_id]

    cluster.delete_budget("shop", "web")  # the owner relents
    result = driver.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.DONE and result.host not in (None, "node-1")


def test_a_refusal_other_than_429_fails_the_action_with_the_servers_message(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 2, labels={"app": "web"}, nodes=["node-1", "node-2"])
    cluster.add_budget("shop", "web", {"app": "web"}, max_unavailable=0)
    driver.disable_host("node-1", "maintenance")
    (victim,) = driver.list_instances(host="node-1")
    action_id = driver.evict(victim.instance_id)
    cluster.add_budget("shop", "web-too", {"app": "web"}, min_available=1)
    result = driver.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.FAILED
    assert "HTTP 500" in result.error and "more than one PodDisruptionBudget" in result.error
    assert driver.wait_action(action_id, 0) == result
    # Once the budgets are sorted out, evicting again starts afresh.
    cluster.delete_budget("shop", "web-too")
    cluster.delete_budget("shop", "web")
    again = driver.evict(victim.instance_id)
    assert driver.wait_action(again, WAIT).status is ActionStatus.DONE


# -- pods that are not moved ---------------------------------------------------------------


def test_a_bare_pod_is_refused_unless_the_driver_forces(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_pod("default", "scratch", "node-1")
    (pod,) = driver.list_instances(host="node-1")
    assert pod.name == "scratch" and pod.details["owner"] is None
    with pytest.raises(DriverError, match=r"no controller.*force=True"):
        driver.evict(pod.instance_id)
    assert cluster.evictions == []

    forced = bare.new_driver(force=True)
    result = forced.wait_action(forced.evict(pod.instance_id), WAIT)
    assert result.status is ActionStatus.DONE and result.host is None
    assert cluster.list_pods("default") == []


def test_daemonset_mirror_and_finished_pods_are_refused_with_the_reason(kube):
    driver, cluster = kube.driver, kube.cluster
    on_node_1 = {
        p["metadata"]["name"].rsplit("-", 1)[0]: p["metadata"]["uid"]
        for p in cluster.list_pods("kube-system", fields="spec.nodeName=node-1")
    }
    with pytest.raises(DriverError, match="DaemonSet"):
        driver.evict(on_node_1["kube-proxy"])
    mirror = pod_named(cluster, "kube-system", "kube-apiserver-control-plane-1")
    with pytest.raises(DriverError, match="static pod"):
        driver.evict(mirror["metadata"]["uid"])
    db = pod_named(cluster, "shop", "db-1")
    cluster.finish_pod("shop", "db-1", "Failed")
    with pytest.raises(DriverError, match="finished"):
        driver.evict(db["metadata"]["uid"])
    assert cluster.evictions == []


def test_unknown_instances_and_action_ids_are_reported(kube):
    with pytest.raises(UnknownInstanceError, match="no pod has uid"):
        kube.driver.evict("00000000-0000-4000-8000-000000000000")
    with pytest.raises(DriverError, match="not an action id"):
        kube.driver.wait_action("evict/shop/web", 0)


# -- restarts, credentials, connections ----------------------------------------------------


def test_a_new_driver_finishes_an_action_another_started(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 2, labels={"app": "web"}, nodes=["node-1", "node-2"])
    driver.disable_host("node-1", "maintenance")
    (victim,) = driver.list_instances(host="node-1")
    action_id = driver.evict(victim.instance_id)

    restarted = bare.new_driver()  # a controller restarted mid-move
    result = restarted.wait_action(action_id, WAIT)
    assert result.status is ActionStatus.DONE and result.host not in (None, "node-1")
    assert victim.instance_id not in {i.instance_id for i in restarted.list_instances()}


def test_a_kubeconfig_file_and_context_are_honoured(make_kube, tmp_path):
    kube = make_kube(token="s3cret")

    def context(name: str, token: str) -> tuple[dict, dict]:
        return (
            {"name": name, "context": {"cluster": "sim", "user": name}},
            {"name": name, "user": {"token": token}},
        )

    good, good_user = context("sim", "s3cret")
    stale, stale_user = context("stale", "expired")
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": {"server": kube.url}}],
        "contexts": [good, stale],
        "users": [good_user, stale_user],
        "current-context": "stale",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig))  # JSON is YAML

    driver = KubernetesDriver(kubeconfig=str(path), context="sim", **DRIVER)
    try:
        assert len(driver.list_hosts()) == 5
    finally:
        driver.close()
    current = KubernetesDriver(kubeconfig=str(path), **DRIVER)  # the current context: stale
    try:
        with pytest.raises(DriverError, match=r"HTTP 401 Unauthorized.*renew the token"):
            current.list_hosts()
    finally:
        current.close()
    with pytest.raises(DriverError, match="cannot load Kubernetes credentials.*context 'nope'"):
        KubernetesDriver(kubeconfig=str(path), context="nope")
    with pytest.raises(DriverError, match="cannot load Kubernetes credentials from kubeconfig"):
        KubernetesDriver(kubeconfig=str(tmp_path / "missing"))


def test_in_a_pod_without_a_service_account_token_the_error_says_so(monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(DriverError, match=r"service account \(in-cluster\).*token"):
        KubernetesDriver()


def test_without_the_client_library_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(connection, "_MISSING", ImportError("No module named 'kubernetes'"))
    with pytest.raises(DriverError, match=r"pip install 'fenix-ansible\[kubernetes\]'"):
        KubernetesDriver()


def test_a_lost_connection_is_a_driver_error_naming_the_server(bare):
    driver, cluster = bare.driver, bare.cluster
    cluster.add_workload("shop", "web-1", 1, labels={"app": "web"}, nodes=["node-1"])
    (victim,) = driver.list_instances()
    action_id = driver.evict(victim.instance_id)
    bare.handle.stop()
    with pytest.raises(DriverError, match="unreachable while listing nodes") as caught:
        driver.list_hosts()
    assert bare.url in str(caught.value) and "Check that the API server is up" in str(caught.value)
    with pytest.raises(DriverError, match="unreachable"):
        driver.wait_action(action_id, 1.0)
