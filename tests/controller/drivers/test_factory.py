"""Choosing the cloud driver from the settings, and `fenix serve --cloud ...` driving it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from pydantic import ValidationError

from fenix.config import Settings
from fenix.drivers.base import DriverError
from fenix.drivers.factory import make_driver
from fenix.drivers.kubernetes import KubernetesDriver
from fenix.drivers.openstack import OpenStackDriver
from fenix.drivers.simulated import SimulatedDriver
from fenix.simulators.cloud import SimulatedCloudConfig, start_sim_cloud
from fenix.simulators.kubernetes import SimClusterConfig, start_sim_cluster
from fenix.simulators.openstack import clouds_yaml_entry, start_simulator
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

pytestmark = OPENSTACKSDK_MARKS

FENIX = str(Path(sys.executable).parent / "fenix")


@pytest.fixture
def nova(tmp_path, monkeypatch):
    """A simulated Nova with compute-1 and compute-2, named "sim" in a clouds.yaml."""
    sim, handle = start_simulator()
    for host in ("compute-1", "compute-2"):
        sim.add_compute_host(host, vcpus=2)
    clouds_yaml = tmp_path / "clouds.yaml"
    clouds_yaml.write_text(json.dumps({"clouds": {"sim": clouds_yaml_entry(sim, handle.url)}}))
    for name in [n for n in os.environ if n.startswith("OS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds_yaml))
    yield clouds_yaml
    sim.close()
    handle.stop()


@pytest.fixture
def cluster(tmp_path):
    """A simulated API server with node-1 and node-2, as context "sim" of a kubeconfig whose
    current context points elsewhere (so only a context asked for reaches it)."""
    _cluster, handle = start_sim_cluster(SimClusterConfig(nodes=2, control_planes=0))
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "sim", "cluster": {"server": handle.url}},
            {"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "anyone", "user": {}}],
        "contexts": [
            {"name": "sim", "context": {"cluster": "sim", "user": "anyone"}},
            {"name": "nowhere", "context": {"cluster": "nowhere", "user": "anyone"}},
        ],
        "current-context": "nowhere",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig))
    yield path
    handle.stop()


def test_settings_name_the_cloud_and_its_credentials_from_the_environment(monkeypatch):
    monkeypatch.setenv("FENIX_CLOUD", "kubernetes")
    monkeypatch.setenv("FENIX_KUBECONFIG", "/etc/fenix/kubeconfig")
    monkeypatch.setenv("FENIX_KUBE_CONTEXT", "production")
    monkeypatch.setenv("FENIX_OS_CLOUD", "production")
    monkeypatch.setenv("FENIX_OS_REGION", "RegionTwo")

    settings = Settings()

    assert settings.cloud == "kubernetes"
    assert (settings.kubeconfig, settings.kube_context) == ("/etc/fenix/kubeconfig", "production")
    assert (settings.os_cloud, settings.os_region) == ("production", "RegionTwo")
    with pytest.raises(ValidationError, match="simulated"):
        Settings(cloud="vmware")


def test_simulated_without_a_url_starts_its_own_cloud_and_stops_it_with_the_driver():
    driver = make_driver(Settings(sim_hosts=2, sim_projects=1, sim_instances=1))
    assert isinstance(driver, SimulatedDriver)
    assert [h.name for h in driver.list_hosts()] == ["compute-1", "compute-2"]

    driver.close()

    with pytest.raises(DriverError, match="unreachable"):
        SimulatedDriver(driver.url, timeout=2.0).list_hosts()


def test_simulated_with_a_url_drives_that_cloud():
    cloud, handle = start_sim_cloud(SimulatedCloudConfig(hosts=3))
    try:
        driver = make_driver(Settings(sim_url=handle.url))
        assert isinstance(driver, SimulatedDriver) and driver.url == handle.url
        assert len(driver.list_hosts()) == 3
        driver.close()
    finally:
        handle.stop()
        cloud.close()


def test_openstack_finds_its_cloud_by_name_in_clouds_yaml(nova):
    driver = make_driver(Settings(cloud="openstack", os_cloud="sim", os_region="RegionOne"))
    try:
        assert isinstance(driver, OpenStackDriver)
        assert [h.name for h in driver.list_hosts()] == ["compute-1", "compute-2"]
    finally:
        driver.close()


def test_openstack_with_an_unknown_cloud_says_where_clouds_come_from(nova):
    with pytest.raises(DriverError, match="clouds.yaml"):
        make_driver(Settings(cloud="openstack", os_cloud="nowhere"))


def test_kubernetes_reads_the_kubeconfig_and_the_context_named(cluster):
    driver = make_driver(Settings(cloud="kubernetes", kubeconfig=str(cluster), kube_context="sim"))
    try:
        assert isinstance(driver, KubernetesDriver)
        assert [h.name for h in driver.list_hosts()] == ["node-1", "node-2"]
    finally:
        driver.close()


def test_kubernetes_without_its_kubeconfig_says_what_to_pass(tmp_path):
    with pytest.raises(DriverError, match="cannot load Kubernetes credentials.*kubeconfig="):
        make_driver(Settings(cloud="kubernetes", kubeconfig=str(tmp_path / "missing")))


@pytest.mark.slow
@pytest.mark.parametrize("cloud", ["openstack", "kubernetes"])
def test_fenix_serve_drives_the_cloud_named_on_its_command_line(cloud, request, tmp_path):
    command = [FENIX, "serve", "--port", "0", "--no-engine", "--cloud", cloud]
    command += ["--db", f"sqlite:///{tmp_path / 'fenix.db'}"]
    if cloud == "openstack":
        request.getfixturevalue("nova")
        command += ["--os-cloud", "sim"]  # found through OS_CLIENT_CONFIG_FILE
        expected = ["compute-1", "compute-2"]
    else:
        kubeconfig = request.getfixturevalue("cluster")
        command += ["--kubeconfig", str(kubeconfig), "--kube-context", "sim"]
        expected = ["node-1", "node-2"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line + proc.stderr.read()
        url = line.split("listening on", 1)[1].strip()
        created = requests.post(
            f"{url}/v1/maintenance", json={"hosts": [], "state": "MAINTENANCE"}, timeout=30
        )
        assert created.status_code == 200, created.text
        session_id = created.json()["session_id"]
        detail = requests.get(f"{url}/v1/maintenance/{session_id}/detail", timeout=10).json()
        assert sorted(h["name"] for h in detail["hosts"]) == expected
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
