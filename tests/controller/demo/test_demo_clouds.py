"""`fenix demo --cloud openstack-sim | k8s-sim`: the demo through the real drivers, and the
scenes and measured reports their simulators give it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fenix.demo.clouds import KubernetesDemoCloud, OpenStackDemoCloud
from fenix.demo.runner import DemoOptions
from fenix.drivers.base import HostKind
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = [*OPENSTACKSDK_MARKS, pytest.mark.slow]

FENIX = str(Path(sys.executable).parent / "fenix")


def _run_demo(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(
        [FENIX, "demo", "--no-actions", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result, json.loads((tmp_path / "fenix-demo-report.json").read_text())


def _scene(cloud, label=lambda instance: instance.name) -> dict[str, list[str]]:
    """Instances (their label) by host, as the controller's driver sees them."""
    driver = cloud.driver()
    try:
        hosts = driver.list_hosts()
        assert all(h.kind == HostKind.COMPUTE for h in hosts)
        capacity = {h.capacity for h in hosts}
        where: dict[str, list[str]] = {h.name: [] for h in hosts}
        for instance in driver.list_instances():
            where[instance.host].append(label(instance))
        return {"capacity": sorted(capacity), **{h: sorted(i) for h, i in where.items()}}
    finally:
        driver.close()


def test_openstack_scene_is_the_simulated_clouds_with_room_to_empty_any_host():
    cloud = OpenStackDemoCloud(DemoOptions(hosts=3, projects=2, instances=2))
    try:
        scene = _scene(cloud)
    finally:
        cloud.stop()
    capacity = scene.pop("capacity")
    assert capacity == [2]
    placed = sorted(i for instances in scene.values() for i in instances)
    assert placed == ["project-1-vm-1", "project-1-vm-2", "project-2-vm-1", "project-2-vm-2"]
    assert all(scene.values())  # no host empty at the start: PREPARE_MAINTENANCE happens
    for host, instances in scene.items():  # any one host's instances fit on the others
        free_elsewhere = sum(capacity[0] - len(i) for h, i in scene.items() if h != host)
        assert free_elsewhere >= len(instances), host


def test_kubernetes_scene_has_namespaces_of_budgeted_pods_and_a_daemonset_per_node():
    cloud = KubernetesDemoCloud(DemoOptions(hosts=2, projects=2, instances=2))
    try:
        scene = _scene(cloud, lambda pod: f"{pod.project_id}/{pod.name.rsplit('-', 1)[0]}")
        budgets = [b["metadata"]["name"] for b in cloud.cluster.list_budgets()]
        proxies = cloud.cluster.pods_of("kube-system", "kube-proxy")
    finally:
        cloud.stop()
    capacity = scene.pop("capacity")
    assert capacity == [5]  # room for all 4 pods on either node, and for kube-proxy
    placed = sorted(pod for pods in scene.values() for pod in pods)
    assert placed == ["project-1/vnf"] * 2 + ["project-2/vnf"] * 2
    assert sorted(scene) == ["node-1", "node-2"] and all(scene.values())
    assert budgets == ["vnf", "vnf"] and len(proxies) == 2


def test_fenix_demo_on_openstack_sim_reports_novas_measured_downtime(tmp_path):
    result, report = _run_demo(
        tmp_path, "--cloud", "openstack-sim", "--hosts", "2", "--projects", "2", "--instances", "1"
    )

    assert "MAINTENANCE_DONE" in result.stdout and "simulated OpenStack" in result.stdout
    assert report["state"] == "MAINTENANCE_DONE"
    assert set(report["hosts"]) == {"compute-1", "compute-2"}
    assert all(h["maintained"] and not h["disabled"] for h in report["hosts"].values())
    assert report["cloud"]["cloud"] == "openstack-sim"
    assert report["cloud"]["downtime"].startswith("measured by the Nova simulator")
    by_action = report["downtime_by_action"]
    assert by_action["LIVE_MIGRATE"]["max_seconds"] == 0
    assert by_action["MIGRATE"]["max_seconds"] > 0


def test_fenix_demo_on_k8s_sim_evicts_with_the_k8s_workflow(tmp_path):
    result, report = _run_demo(
        tmp_path, "--cloud", "k8s-sim", "--hosts", "2", "--projects", "2", "--instances", "2"
    )

    assert "MAINTENANCE_DONE" in result.stdout and "Kubernetes" in result.stdout
    assert report["state"] == "MAINTENANCE_DONE" and report["workflow"] == "k8s"
    assert set(report["hosts"]) == {"node-1", "node-2"}
    assert report["downtime_by_action"]["EVICTION"]["max_seconds"] > 0
    assert report["cloud"]["downtime"].startswith("measured by the Kubernetes simulator")
    assert set(report["cloud"]["workloads"]) == {"project-1/vnf", "project-2/vnf"}
    evicted = [i for i in report["instances"].values() if i["fate"] == "evicted"]
    assert evicted and all(i["action"] == "EVICTION" for i in evicted)
    for project in ("project-1", "project-2"):
        received = [
            m for m in report["managers"][project]["messages"] if m["direction"] == "received"
        ]
        assert received[0]["state"] == "MAINTENANCE"
        planned = [m["body"] for m in received if m["state"] == "PLANNED_MAINTENANCE"]
        assert planned and planned[0]["allowed_actions"] == ["EVICTION", "OWN_ACTION"]
