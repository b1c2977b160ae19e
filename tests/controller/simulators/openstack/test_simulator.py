"""The simulator answers as Keystone and Nova do, at the HTTP level the SDK relies on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from fenix.drivers.openstack import OpenStackDriver
from tests.controller.openstack_warnings import OPENSTACKSDK_MARKS

from .fixtures import connect_entry

pytestmark = OPENSTACKSDK_MARKS


@pytest.fixture
def token(cloud) -> str:
    return _login(cloud.url, cloud.sim.config.password).headers["X-Subject-Token"]


def _login(url: str, password: str) -> requests.Response:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "admin", "domain": {"name": "Default"}, "password": password}
                },
            },
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }
    }
    return requests.post(f"{url}/v3/auth/tokens", json=body, timeout=5)


def _nova(cloud, token: str, path: str, microversion: str | None = None) -> requests.Response:
    headers = {"X-Auth-Token": token}
    if microversion is not None:
        headers["OpenStack-API-Version"] = f"compute {microversion}"
    return requests.get(f"{cloud.url}/compute/v2.1{path}", headers=headers, timeout=5)


def test_keystone_token_carries_a_catalog_pointing_at_nova(cloud):
    response = _login(cloud.url, cloud.sim.config.password)

    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    catalog = {s["type"]: s for s in response.json()["token"]["catalog"]}
    public = next(e for e in catalog["compute"]["endpoints"] if e["interface"] == "public")
    assert public["url"] == f"{cloud.url}/compute/v2.1"
    assert requests.get(f"{cloud.url}/v3", timeout=5).json()["version"]["id"].startswith("v3")


def test_keystone_refuses_a_wrong_password(cloud):
    response = _login(cloud.url, "wrong")

    assert response.status_code == 401
    assert response.json()["error"]["title"] == "Unauthorized"


def test_nova_needs_a_token(cloud):
    assert _nova(cloud, "not-a-token", "/servers/detail").status_code == 401


def test_nova_announces_and_answers_microversions(cloud, token):
    discovery = requests.get(f"{cloud.url}/compute/v2.1", timeout=5).json()["version"]
    latest = _nova(cloud, token, "/os-services", "2.96")
    default = _nova(cloud, token, "/os-services")

    assert (discovery["min_version"], discovery["version"]) == ("2.1", "2.96")
    assert latest.headers["OpenStack-API-Version"] == "compute 2.96"
    assert isinstance(latest.json()["services"][0]["id"], str)  # UUIDs from 2.53
    assert default.headers["OpenStack-API-Version"] == "compute 2.1"
    assert isinstance(default.json()["services"][0]["id"], int)


def test_nova_refuses_a_microversion_past_its_maximum(cloud, token):
    response = _nova(cloud, token, "/servers/detail", "2.97")

    assert response.status_code == 406
    assert "maximum is 2.96" in response.json()["computeFault"]["message"]


def test_servers_embed_their_flavor_from_2_47(cloud, token):
    path = f"/servers/{cloud.servers['db-0']}"

    before = _nova(cloud, token, path, "2.46").json()["server"]["flavor"]
    after = _nova(cloud, token, path, "2.47").json()["server"]["flavor"]

    assert set(before) == {"id", "links"}
    assert (after["original_name"], after["vcpus"]) == ("m1.medium", 2)


def test_hypervisors_lose_their_vcpus_in_2_88(cloud, token):
    (hypervisor, *_) = _nova(cloud, token, "/os-hypervisors/detail", "2.88").json()["hypervisors"]

    assert "vcpus" not in hypervisor
    assert hypervisor["service"]["host"] == "compute-0"


def test_only_nova_compute_services_can_be_updated(cloud):
    services = cloud.connection.compute.services(binary="nova-conductor")
    (conductor,) = list(services)

    response = requests.put(
        f"{cloud.url}/compute/v2.1/os-services/{conductor.id}",
        json={"status": "disabled"},
        headers={
            "X-Auth-Token": cloud.connection.auth_token,
            "OpenStack-API-Version": "compute 2.53",
        },
        timeout=5,
    )

    assert response.status_code == 400
    assert "Only nova-compute services can be updated" in response.json()["badRequest"]["message"]


def test_listing_servers_without_all_tenants_shows_only_the_tokens_project(cloud, token):
    mine = _nova(cloud, token, "/servers/detail").json()["servers"]
    every = requests.get(
        f"{cloud.url}/compute/v2.1/servers/detail",
        params={"all_tenants": "True", "host": "compute-1"},
        headers={"X-Auth-Token": token},
        timeout=5,
    ).json()["servers"]

    assert mine == []
    assert [s["name"] for s in every] == ["web-1"]


def test_simulator_runs_as_its_own_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "fenix.simulators.openstack", "--computes", "2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        connection = connect_entry(started["cloud"])
        driver = OpenStackDriver(connection=connection)
        try:
            names = [h.name for h in driver.list_hosts()]
        finally:
            connection.close()
        assert names == ["compute-0", "compute-1", "controller-0"]
    finally:
        process.terminate()
        assert process.wait(10) == 0
        process.stdout.close()  # type: ignore[union-attr]
